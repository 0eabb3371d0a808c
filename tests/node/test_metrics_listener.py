"""The metrics listener (config ``metrics_port``): Prometheus cannot sign a request, and REST's
``/metrics`` is a signed read like every other route, so a stock scraper got 401 (the docs
walk-through). The listener serves ``GET /metrics`` alone, unauthenticated, on its own port."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from node.config import NodeConfig
from node.main import _start_metrics
from tests.fixtures import start_cluster, stop_cluster


async def test_the_metrics_listener_serves_prometheus_and_nothing_else(tmp_path: Path) -> None:
    genesis, nodes, ids = await start_cluster(4)
    node = nodes[0]
    cfg = NodeConfig(node_id="node0", key_file=tmp_path / "k.json",
                     genesis=tmp_path / "g.json", data_dir=tmp_path / "d", metrics_port=0)
    off = NodeConfig(node_id="node0", key_file=tmp_path / "k.json",
                     genesis=tmp_path / "g.json", data_dir=tmp_path / "d")
    assert await _start_metrics(node, off) is None  # off unless a port is given
    runner = await _start_metrics(node, cfg)
    assert runner is not None
    try:
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://{host}:{port}/metrics") as r:  # no signature
                body = await r.text()
                assert r.status == 200, body
                assert "chainfin_height" in body and "chainfin_risk_alerts_total" in body
                assert r.headers["Content-Type"].startswith("text/plain")
            for path in ("/v1/status", "/v1/state/settlement/supply/USD", "/"):
                async with s.get(f"http://{host}:{port}{path}") as r:
                    assert r.status == 404, path
    finally:
        await runner.cleanup()
        await stop_cluster(nodes)
