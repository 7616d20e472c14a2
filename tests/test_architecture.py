"""The design stays visible and enforced: layer contracts, declared dependencies, module sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("review", "apps", "migrations")
# A module that outgrows this mixes concerns: split it.
MAX_MODULE_LINES = 400


def _python_files() -> list[Path]:
    return [path for package in SOURCE_PACKAGES for path in (ROOT / package).rglob("*.py")]


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_layer_contracts_hold():
    """review never imports apps or gradio; review.stats imports nothing else of review; the
    layers of pyproject's [tool.importlinter] import only downwards."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


def test_every_imported_package_is_declared_and_every_declared_one_imported():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {requirement.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for requirement in project["dependencies"]}
    distributions = packages_distributions()
    third_party = {name for name in _imported_top_level_modules()
                   if name not in sys.stdlib_module_names and name not in SOURCE_PACKAGES
                   and name != "__future__"}
    imported = {distributions[name][0].lower() for name in third_party}
    # Run-time requirements that the code does not import by name.
    runtime_only = {"accelerate"}
    normalise = lambda name: name.replace("_", "-")  # noqa: E731
    assert {normalise(n) for n in imported} - {normalise(n) for n in declared} == set()
    assert {normalise(n) for n in declared} - {normalise(n) for n in imported} - runtime_only == set()


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "review").rglob("*.py")))
def test_domain_modules_stay_small(path):
    lines = (ROOT / path).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path} has {lines} lines: split it by concern"
