"""Lint and types run with the tests (``.ci/run`` runs exactly the README's test command).

``ruff check .`` over the whole tree; ``mypy --strict`` over chainfin/ and contracts/ (settings in
pyproject.toml; its cache in .mypy_cache, so a second run takes well under a second). Each
fails with the tool's own report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: the packages held to ``mypy --strict``; node/ and testnet/ are not yet (docs/decisions.md)
STRICT = ["chainfin", "contracts"]


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
