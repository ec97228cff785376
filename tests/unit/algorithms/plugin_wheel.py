"""Build a pure-Python wheel of a small project with the standard library, and install it with uv.

Enough of PEP 427 and the core metadata for a plug-in package under ``tests/data/plugins``: every
top-level package directory (one holding ``__init__.py``), ``METADATA`` from ``[project]``,
``entry_points.txt`` from ``[project.entry-points]``, ``WHEEL`` and a ``RECORD`` with SHA-256
digests. No network, no build backend.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
"""Timestamp of every wheel member, so that the same sources give the same wheel bytes."""
REPOSITORY = Path(__file__).resolve().parents[3]


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{path},sha256={digest},{len(data)}"


def _metadata(project: dict[str, object]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    dependencies = project.get("dependencies", [])
    assert isinstance(dependencies, list)
    lines.extend(f"Requires-Dist: {requirement}" for requirement in dependencies)
    return "\n".join(lines) + "\n"


def _entry_points(project: dict[str, object]) -> str:
    groups = project.get("entry-points", {})
    assert isinstance(groups, dict)
    sections = [
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
        for group, entries in groups.items()
    ]
    return "\n".join(sections)


def build_wheel(project_dir: Path, out_dir: Path) -> Path:
    """A ``py3-none-any`` wheel of the project in ``project_dir``, written into ``out_dir``."""
    project = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    distribution = str(project["name"]).replace("-", "_")
    dist_info = f"{distribution}-{project['version']}.dist-info"
    members: dict[str, bytes] = {
        path.relative_to(project_dir).as_posix(): path.read_bytes()
        for package in sorted(project_dir.iterdir())
        if (package / "__init__.py").is_file()
        for path in sorted(package.rglob("*.py"))
    }
    members[f"{dist_info}/METADATA"] = _metadata(project).encode("utf-8")
    members[f"{dist_info}/entry_points.txt"] = _entry_points(project).encode("utf-8")
    wheel = "Wheel-Version: 1.0\nGenerator: tests.plugin_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{dist_info}/WHEEL"] = wheel.encode("utf-8")
    record = [_record_line(path, data) for path, data in members.items()] + [f"{dist_info}/RECORD,,"]
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{distribution}-{project['version']}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=FIXED_ZIP_TIME), data)
    return target


def find_uv() -> str:
    """The uv binary: on PATH, or the bootstrap environment the Makefile creates."""
    found = shutil.which("uv") or str(REPOSITORY / ".venv-bootstrap" / "bin" / "uv")
    if not os.access(found, os.X_OK):
        pytest.fail("uv is needed to install the plug-in wheel; `make env` bootstraps it into .venv-bootstrap")
    return found


def install_wheel(wheel: Path, target: Path) -> None:
    """Install ``wheel`` (no dependencies, offline) into the directory ``target`` with uv."""
    command = [
        find_uv(),
        "pip",
        "install",
        "--python",
        sys.executable,
        "--target",
        str(target),
        "--no-deps",
        "--offline",
        "--no-cache",
        str(wheel),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
