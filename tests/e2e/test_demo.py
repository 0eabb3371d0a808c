"""The README's first command: `chainfin testnet demo` tells the whole story and exits 0."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_the_story_and_checks_every_node(tmp_path):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "demo", "--dir",
                        str(tmp_path / "tn")], capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for needle in ("customs attests", "refused: over_financed", "refused: duplicate_document",
                   "refuses it: description_mismatch", "bank A's USD 100,000.00 first",
                   "both legs settle atomically", "refused: statement_required",
                   "bank A examines and pays USD 5,000.00",
                   "delivers automatically", "every node holds the same final state",
                   "refused: limit_exceeded", "refused: sanctioned_party",
                   "refused: account_frozen", "a structuring alert",
                   "every node lists the alerts", "refused: unknown_alert",
                   "a false positive (note hashed)"):
        assert needle in out, needle
    assert "!!" not in out
    assert elapsed < 60, f"demo took {elapsed:.1f}s"
    # stopped cleanly: no pid files left
    assert not list((tmp_path / "tn").glob("node*/node.pid"))
