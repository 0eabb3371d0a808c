"""Lint and types run with the tests (``.ci/run`` runs exactly the README's test command).

``ruff check .`` over the whole tree; ``mypy --strict`` over chainfin/, contracts/ and node/
(settings in pyproject.toml; its cache in .mypy_cache, so a second run takes well under a
second). Each fails with the tool's own report.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: the packages held to ``mypy --strict``; testnet/ is not yet (docs/decisions.md)
STRICT = ["chainfin", "contracts", "node"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_ruff_check_passes() -> None:
    r = _run("ruff", "check", "--no-cache", ".")
    if r.returncode != 0:
        pytest.fail(f"ruff check . failed:\n{r.stdout}{r.stderr}", pytrace=False)


def test_mypy_strict_passes_on_chainfin_and_contracts() -> None:
    r = _run("mypy", "--strict", "--cache-dir", str(ROOT / ".mypy_cache"), *STRICT)
    if r.returncode != 0:
        pytest.fail(f"mypy --strict {' '.join(STRICT)} failed:\n{r.stdout}{r.stderr}",
                    pytrace=False)


#: the layers, bottom first: a module may import its own layer and the ones below it
LAYERS = ["chainfin", "contracts", "node", "testnet"]
#: chainfin's command-line edge: it may import every layer (lazily, per command)
EVERY_LAYER = {"chainfin/cli.py"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for i, layer in enumerate(LAYERS):
        above = set(LAYERS[i + 1:])
        for path in sorted((ROOT / layer).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in EVERY_LAYER:
                continue
            bad = _imported_packages(path) & above
            if bad:
                wrong.append(f"{rel} imports {', '.join(sorted(bad))}")
    assert not wrong, "imports that point up a layer:\n" + "\n".join(wrong)
