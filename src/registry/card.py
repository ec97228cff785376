"""Model cards: what a reviewer reads before approving a model version.

A card is pre-filled from the version's :class:`~algorithms.base.ModelMetadata` at registration
(feature service, training data, hold-out metrics, grading thresholds); people add the rest (intended
use, owner department, limitations, data classification) before submitting it for review. Review and
approval require a complete card; :meth:`ModelCard.missing_fields` names what is still missing.
A card renders as Markdown (:func:`render_markdown`, kept in the version's MLflow tag) and as a
self-contained UTF-8 HTML page (:func:`render_html`) in which every value people or training wrote is
escaped, so a card field can never inject markup or script.
"""

from __future__ import annotations

from html import escape
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from algorithms.base import ModelMetadata
from algorithms.grading import GradingPolicy
from warehouse.errors import ModelCardIncomplete
from warehouse.security import ClassificationLevel

REQUIRED_FIELDS = (
    "intended_use",
    "owner_department",
    "training_data",
    "feature_service",
    "metrics",
    "grading",
    "limitations",
    "classification",
)


class ModelCardUpdate(BaseModel):
    """The fields of a card that people write (every one optional: only those given change)."""

    model_config = ConfigDict(extra="forbid")

    intended_use: str | None = Field(default=None, min_length=1, max_length=4000)
    """What the model is for, and who acts on its scores."""
    owner_department: str | None = Field(default=None, min_length=1, max_length=200)
    """Department accountable for the model."""
    limitations: str | None = Field(default=None, min_length=1, max_length=4000)
    """Known weaknesses, populations it was not trained on, uses it must not be put to."""
    classification: ClassificationLevel | None = None
    """Data classification level of the model and its inputs."""


class ModelCard(ModelCardUpdate):
    """The complete model card of one version."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str
    version: str
    algorithm: str
    training_data: str | None = None
    """Which data trained the model: training set digest and run."""
    feature_service: str | None = None
    """Feast feature service feeding the model online and in batch."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Hold-out metrics of the training run."""
    grading: GradingPolicy | None = None
    """Levels, thresholds and warning levels used to grade scores."""

    def missing_fields(self) -> list[str]:
        """Required fields that are empty, in card order."""
        return [name for name in REQUIRED_FIELDS if not getattr(self, name)]

    def require_complete(self) -> None:
        """Raise :class:`ModelCardIncomplete` naming every missing field."""
        missing = self.missing_fields()
        if missing:
            raise ModelCardIncomplete(
                f"the model card of {self.model_name} version {self.version} lacks: {', '.join(missing)}"
            )

    def updated(self, update: ModelCardUpdate) -> ModelCard:
        """A copy with the fields ``update`` sets."""
        return self.model_copy(update=update.model_dump(exclude_none=True))


def card_from_metadata(metadata: ModelMetadata, *, version: str) -> ModelCard:
    """The card pre-filled from what training recorded."""
    return ModelCard(
        model_name=metadata.model_name,
        version=version,
        algorithm=metadata.algorithm,
        training_data=f"training set SM3 {metadata.training_data_digest} (run {metadata.run_id}, seed {metadata.seed})",
        feature_service=metadata.feature_service,
        metrics=dict(metadata.metrics),
        grading=metadata.grading,
    )


def render_markdown(card: ModelCard) -> str:
    """The card as a Markdown document."""
    unset = "_(not given)_"
    lines = [
        f"# Model card: {card.model_name} version {card.version}",
        "",
        f"- **Algorithm:** {card.algorithm}",
        f"- **Owner department:** {card.owner_department or unset}",
        f"- **Data classification:** {card.classification or unset}",
        f"- **Feature service:** {card.feature_service or unset}",
        f"- **Training data:** {card.training_data or unset}",
        "",
        "## Intended use",
        "",
        card.intended_use or unset,
        "",
        "## Evaluation metrics (hold-out)",
        "",
        *(_metric_lines(card.metrics) or [unset]),
        "",
        "## Grading thresholds",
        "",
        *(_grading_lines(card.grading) if card.grading else [unset]),
        "",
        "## Limitations",
        "",
        card.limitations or unset,
    ]
    return "\n".join(lines) + "\n"


def _metric_lines(metrics: dict[str, float]) -> list[str]:
    if not metrics:
        return []
    return [
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())),
    ]


def _grading_lines(grading: GradingPolicy) -> list[str]:
    bounds = ["-inf", *(f"{threshold:.4f}" for threshold in grading.thresholds)]
    rows = [
        f"| {level} | >= {bound} | {'yes' if level in grading.warning_levels else 'no'} |"
        for level, bound in zip(grading.levels, bounds, strict=True)
    ]
    basis = ["", f"Basis: {grading.basis}"] if grading.basis else []
    return ["| level | score from | warning |", "|---|---|---|", *rows, *basis]


CardFormat = Literal["json", "markdown", "html"]
HTML_STYLE = (
    "body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:52rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem}"
    ".unset{color:#777;font-style:italic}"
)


def render_html(card: ModelCard) -> str:
    """The card as a self-contained HTML page (UTF-8, every value escaped)."""
    title = f"Model card: {card.model_name} version {card.version}"
    facts = [
        ("Algorithm", card.algorithm),
        ("Owner department", card.owner_department),
        ("Data classification", card.classification),
        ("Feature service", card.feature_service),
        ("Training data", card.training_data),
    ]
    body = [
        f"<h1>{escape(title)}</h1>",
        "<ul>",
        *(f"<li><strong>{label}:</strong> {_html_value(value)}</li>" for label, value in facts),
        "</ul>",
        "<h2>Intended use</h2>",
        _html_paragraph(card.intended_use),
        "<h2>Evaluation metrics (hold-out)</h2>",
        _html_table(["metric", "value"], [[name, f"{value:.4f}"] for name, value in sorted(card.metrics.items())]),
        "<h2>Grading thresholds</h2>",
        _html_grading(card.grading),
        "<h2>Limitations</h2>",
        _html_paragraph(card.limitations),
    ]
    head = f'<meta charset="utf-8"><title>{escape(title)}</title><style>{HTML_STYLE}</style>'
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>{head}</head>\n<body>\n'
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_value(value: str | None) -> str:
    return escape(value) if value else '<span class="unset">(not given)</span>'


def _html_paragraph(text: str | None) -> str:
    if not text:
        return f"<p>{_html_value(None)}</p>"
    return "\n".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n"))


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return f"<p>{_html_value(None)}</p>"
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    lines = ["".join(f"<td>{escape(cell)}</td>" for cell in row) for row in rows]
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>"


def _html_grading(grading: GradingPolicy | None) -> str:
    if grading is None:
        return f"<p>{_html_value(None)}</p>"
    bounds = ["-inf", *(f"{threshold:.4f}" for threshold in grading.thresholds)]
    rows = [
        [level, f">= {bound}", "yes" if level in grading.warning_levels else "no"]
        for level, bound in zip(grading.levels, bounds, strict=True)
    ]
    basis = f"<p>Basis: {escape(grading.basis)}</p>" if grading.basis else ""
    return _html_table(["level", "score from", "warning"], rows) + basis


def render_card(card: ModelCard, card_format: Literal["markdown", "html"]) -> str:
    """The card as Markdown or HTML."""
    return render_html(card) if card_format == "html" else render_markdown(card)
