"""``warehouse algorithms list`` shows every installed algorithm with its entity, service, task and grading."""

from __future__ import annotations

from typer.testing import CliRunner

from warehouse.cli import app


def test_list_shows_the_three_built_ins_with_their_grading() -> None:
    result = CliRunner().invoke(app, ["algorithms", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 2}
    assert set(lines) >= {"credit_supervision", "fire_risk", "risk_scoring"}
    assert "market_entity_id" in lines["credit_supervision"]
    assert "A < B < C < D; warning: D" in lines["credit_supervision"]
    assert "enterprise_id" in lines["risk_scoring"]
    assert "low < medium < high < critical" in lines["fire_risk"]
    for name in ("credit_supervision", "fire_risk", "risk_scoring"):
        cells = [cell.strip() for cell in lines[name].split("│")[1:-1]]
        assert cells[2:4] == [name, "binary"]  # feature service, task
