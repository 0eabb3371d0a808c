"""deploy/: the Grafana dashboard and the alert rules name only metrics a node exports; the
systemd unit and the Dockerfile start the node the documented way."""

from __future__ import annotations

import json
import re
from pathlib import Path

from node.metrics import NodeMetrics
from node.reach import Reach, reach_metrics
from node.risk_metrics import FAMILIES as BANK_RISK_FAMILIES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _exported() -> set[str]:
    """Sample names of every family a node declares (labelled families have no sample yet)."""
    # the quorum gauges come from the REST server's sample (node/reach.py), not NodeMetrics
    sample = Reach(validator=True, reached=4, validators=4, quorum=3, lost_since_ms=None,
                   lost_for_s=0.0, lost_long=False, view=0, view_change=False,
                   last_commit_age_s=1.0)
    text = NodeMetrics().render().decode() + reach_metrics(sample).decode()
    out = set(re.findall(r"^(chainfin_[a-z_]+)", text, re.M))
    # the node's bank's risk families (node/risk_metrics.py: served where chainfin_risk_* are)
    out |= set(BANK_RISK_FAMILIES)
    # the counter families a Node adds at start (node/runtime.py: metrics.export_dict)
    runtime = (Path(__file__).resolve().parents[2] / "node" / "runtime.py").read_text()
    out |= {name + "_total" for name in re.findall(r'export_dict\(\s*"(chainfin_[a-z_]+)"', runtime)}
    for name, kind in re.findall(r"^# TYPE (chainfin_[a-z_]+) (\w+)", text, re.M):
        out |= {"counter": {name.removesuffix("_total") + "_total"}, "histogram": {name + s for s in (
            "_bucket", "_sum", "_count")}}.get(kind, {name})
    return out


def _referenced(text: str) -> set[str]:
    return set(re.findall(r"\b(chainfin_[a-z_]+)", text))


def test_dashboard_and_alerts_use_exported_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
    alerts = (DEPLOY / "prometheus-alerts.yml").read_text()
    exported = _exported()
    missing = (_referenced(exprs) | _referenced(alerts)) - exported
    assert not missing, f"not exported by a node: {sorted(missing)}"
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for what in ("finality", "throughput", "view change", "mempool", "dropped", "alerts"):
        assert what in titles, what
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_alerts_name_a_lost_quorum() -> None:
    """A node cut from a quorum of validators for 30 s pages someone (decision 174)."""
    alerts = (DEPLOY / "prometheus-alerts.yml").read_text()
    rule = re.search(r"- alert: ChainfinQuorumLost\n((?:        .*\n)+)", alerts)
    assert rule, "no ChainfinQuorumLost rule"
    assert "expr: chainfin_quorum_ok == 0\n" in rule.group(1)
    assert "for: 30s\n" in rule.group(1)
    assert "severity: critical" in rule.group(1)


def test_unit_and_container_run_the_node() -> None:
    unit = (DEPLOY / "chainfin-node.service").read_text()
    assert re.search(r"^ExecStart=\S+/chainfin node run --config \S+config\.json$", unit, re.M)
    assert "User=chainfin" in unit and "[Install]" in unit
    docker = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["chainfin", "node", "run"]' in docker
    assert "/healthz" in docker


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on the unit, its ExecStart pointed at this environment's
    ``chainfin`` (the unit's own path is the installed one, /opt/chainfin/venv)."""
    import shutil
    import subprocess
    import sys

    import pytest

    analyze = shutil.which("systemd-analyze")
    exe = Path(sys.executable).with_name("chainfin")
    if analyze is None or not exe.exists():
        pytest.skip("systemd-analyze or the chainfin script is not installed here")
    unit = (DEPLOY / "chainfin-node.service").read_text().replace(
        "/opt/chainfin/venv/bin/chainfin", str(exe))
    p = tmp_path / "chainfin-node.service"
    p.write_text(unit)
    r = subprocess.run([analyze, "verify", str(p)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "chainfin-node.service" not in r.stderr, r.stderr


def test_alerts_name_an_execution_disagreement() -> None:
    """A node whose execution disagrees with more than f primaries pages someone (decision
    189), on a counter the node declares."""
    from node.runtime import NODE_COUNTERS

    alerts = (DEPLOY / "prometheus-alerts.yml").read_text()
    rule = re.search(r"- alert: ChainfinExecutionDisagrees\n((?:        .*\n)+)", alerts)
    assert rule, "no ChainfinExecutionDisagrees rule"
    assert "severity: critical" in rule.group(1)
    for what in re.findall(r'chainfin_node_total\{what="([a-z_]+)"\}', alerts):
        assert what in NODE_COUNTERS, what
