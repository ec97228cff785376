"""Model cards rendered as HTML and Markdown: every value escaped, Chinese text intact, over CLI and HTTP."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from algorithms.grading import GradingPolicy
from registry.card import ModelCard, ModelCardUpdate, render_html, render_markdown
from registry.lifecycle import submit
from registry.models import register_version
from tests.auth_helpers import caller_headers
from warehouse.api import create_app
from warehouse.cli import app as cli_app

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns
    from warehouse.settings import Settings

HOSTILE = '<script>alert("x")</script> & <b>粗体</b>'
CHINESE_CARD = ModelCardUpdate(
    intended_use="消防检查的优先排序 按建筑火灾风险排序。\n\n" + HOSTILE,
    owner_department="广东省消防救援总队",
    limitations="训练数据为合成数据 <仅供演示>",
    classification="internal",
)


class _Collector(HTMLParser):
    """Every start tag and all the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def _card() -> ModelCard:
    grading = GradingPolicy(levels=["low", "high"], thresholds=[0.5], warning_levels=["high"], basis="分位数 <q90>")
    return ModelCard(
        model_name="fire_risk", version="3", algorithm="fire_risk", metrics={"roc_auc": 0.81234}, grading=grading
    ).updated(CHINESE_CARD)


def test_html_escapes_every_value_and_keeps_chinese_text() -> None:
    page = render_html(_card())
    parsed = _parse(page)
    text = "".join(parsed.text)

    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert set(parsed.tags) == {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "ul",
        "li",
        "strong",
        "span",
        "p",
        "table",
        "tr",
        "th",
        "td",
    }
    assert HOSTILE in text and "广东省消防救援总队" in text and "训练数据为合成数据 <仅供演示>" in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;粗体&lt;/b&gt;" in page
    assert "<td>roc_auc</td><td>0.8123</td>" in page and "Basis: 分位数 &lt;q90&gt;" in page
    assert "<td>high</td><td>&gt;= 0.5000</td><td>yes</td>" in page


def test_html_marks_missing_fields() -> None:
    page = render_html(ModelCard(model_name="m", version="1", algorithm="fire_risk"))

    assert page.count('<span class="unset">(not given)</span>') == 8
    assert "<h1>Model card: m version 1</h1>" in page


def test_card_over_http_and_cli_in_html_and_markdown(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version = register_version(
        registry_settings, run_id=prepared_runs.run_ids[0], model_name="fire_risk", actor="a"
    ).version
    submit(registry_settings, model_name="fire_risk", version=version, actor="a", card=CHINESE_CARD)
    client = TestClient(create_app(registry_settings), headers=caller_headers(registry_settings, "reviewer"))
    route = f"/v1/models/fire_risk/versions/{version}/card"

    html = client.get(route, params={"format": "html"})
    markdown = client.get(route, params={"format": "markdown"})
    structured = client.get(route)
    unknown = client.get(route, params={"format": "pdf"})
    cli = CliRunner().invoke(
        cli_app,
        ["--data-dir", str(registry_settings.data_dir), "models", "card", "fire_risk", version, "--format", "html"],
    )

    assert html.status_code == 200 and html.headers["content-type"] == "text/html; charset=utf-8"
    assert "广东省消防救援总队" in html.text and "script" not in _parse(html.text).tags
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith(f"# Model card: fire_risk version {version}") and "消防检查" in markdown.text
    assert (
        structured.json()["markdown"]
        == markdown.text
        == render_markdown(ModelCard.model_validate(structured.json()["card"]))
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "invalid_request")
    assert cli.exit_code == 0 and cli.stdout.strip() == html.text.strip()
