"""The import layering of docs/architecture.md holds, and its contracts would catch an import against it.

The contracts live once, in pyproject.toml (``[tool.importlinter]``); ``lint-imports`` checks them in
``make check`` and here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["contracts"])


def _layers() -> list[set[str]]:
    (contract,) = [c for c in _contracts() if c["type"] == "layers"]
    layers = contract["layers"]
    assert isinstance(layers, list)
    return [{part.strip() for part in str(layer).split("|")} for layer in layers]


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("pulse", "surveys", "config")


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("pulse.analysis.stats", "pulse.disclosure.release"),  # the science reaching for the ORM's release
        ("pulse.selectors.flags", "pulse.services.trends"),  # the cycle this layering removed
        ("pulse.disclosure.release", "pulse.selectors.reports"),
        ("pulse.services.flags", "pulse.web.leader"),
    ],
)
def test_an_import_against_the_layers_is_found(
    graph: grimp.ImportGraph, importer: str, imported: str
) -> None:
    layers = _layers()
    assert graph.find_illegal_dependencies_for_layers(layers=layers) == set()
    graph.add_import(importer=importer, imported=imported)
    try:
        assert graph.find_illegal_dependencies_for_layers(layers=layers)
    finally:
        graph.remove_import(importer=importer, imported=imported)
