"""``chainfin bench`` end to end: a real 4-node testnet, a short open-loop load, the JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testnet.bench import JSON_KEYS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("api", ["rest", "stream"])
def test_bench_smoke(tmp_path: Path, api: str):
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "chainfin.cli", "bench", "--nodes", "4", "--rate", "50",
         "--duration", "3", "--json", str(out), "--api", api],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Committed" in proc.stdout and "limit_tps" in proc.stdout
    doc = json.loads(out.read_text())
    assert list(doc)[:len(JSON_KEYS)] == list(JSON_KEYS)
    assert set(doc["finality_ms"]) >= {"p50", "p95", "p99", "max"}
    assert doc["nodes"] == 4 and doc["offered_rate"] == 50 and doc["duration_s"] == 3
    assert doc["api"] == api
    # the nodes' own CPU accounting came back, stage by stage
    stages = doc["node_cpu"]["stages_us_per_committed_tx_all_nodes"]
    assert stages["admit"] > 0 and stages["commit"] > 0 and stages["consensus"] > 0
    assert doc["sent"] == 150
    assert doc["committed"] == doc["sent"], doc["errors"]
    assert doc["failed"] == 0
    assert doc["throughput_tps"] > 0 and doc["limit_tps"] > 0
    assert 0 < doc["ratio_to_limit"] < 1
    assert doc["finality_ms"]["p50"] <= doc["finality_ms"]["p99"] <= doc["finality_ms"]["max"]
    # the bench stopped the nodes it started (it names their pids on stderr)
    m = re.search(r"\(pids ([0-9 ]+)\)", proc.stderr)
    assert m, proc.stderr
    for pid in map(int, m.group(1).split()):
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
