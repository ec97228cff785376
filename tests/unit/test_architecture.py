"""The import direction of DESIGN.md, checked on the source: arrows never point back up the table."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
MAY_IMPORT = {
    "features": {"warehouse"},
    "algorithms": {"warehouse", "features"},
    "experiments": {"warehouse", "features", "algorithms"},
    "registry": {"warehouse", "algorithms"},
    "serving": {"warehouse", "features", "algorithms", "registry"},
    "scheduling": {"warehouse", "features", "registry", "serving"},
}
PACKAGES = {"warehouse", *MAY_IMPORT}
# The composition roots of warehouse/ may import every package; the rest of warehouse/ imports none.
WAREHOUSE_COMPOSERS = {"api.py", "cli.py", "pipeline.py", "demo.py", "__main__.py"}
WAREHOUSE_COMPOSER_PACKAGE = "webconsole"
"""warehouse/webconsole/ belongs to the app factory's layer: its pages read every package."""


def _imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & PACKAGES


def _violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        package = path.relative_to(SRC).parts[0]
        if package == "warehouse":
            composes = path.name in WAREHOUSE_COMPOSERS or WAREHOUSE_COMPOSER_PACKAGE in path.parts
            allowed = PACKAGES if composes else {"warehouse"}
        else:
            allowed = MAY_IMPORT[package] | {package}
        found.extend(f"{path.relative_to(SRC)} imports {name}" for name in _imported_packages(path) - allowed)
    return found


def test_every_import_points_down_the_design_table() -> None:
    assert _violations() == []
