"""The launcher's process handling (testnet/launch.py ``Testnet``, ``chainfin testnet up``)
with stand-in nodes (tests/fixtures.py ``standin``: a tiny HTTP server answering /healthz on
the node's REST port) in real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chainfin.errors import ChainfinError
from testnet.launch import Manifest, Testnet
from tests.fixtures import standin

# ---------------------------------------------------------------------- processes


def test_start_wait_kill_restart_stop(net4: tuple[Path, Manifest]) -> None:
    d, _ = net4
    with Testnet(d, command=standin()) as tn:
        tn.start()
        tn.wait_ready(20)
        pids = {k: tn.pid(k) for k in tn}
        for k in tn:
            assert int(tn.pid_file(k).read_text()) == pids[k]
        tn.kill(1)
        assert not tn.running(1) and not tn.pid_file(1).exists()
        tn.start(1)
        tn.wait_ready(20, [1])
        assert tn.pid(1) != pids[1] and int(tn.pid_file(1).read_text()) == tn.pid(1)
        tn.restart(2)
        assert tn.running(2) and tn.pid(2) != pids[2]
        with tn.client(3) as c:
            assert c.get("/healthz") == {"ok": True}
        tn.stop(0)
        assert not tn.running(0) and not tn.pid_file(0).exists()
        tn.start()  # starts only what is not running
        assert tn.running(0) and tn.pid(3) == pids[3]
        live = [tn.pid(k) for k in tn]
    for k in range(4):
        assert not tn.running(k) and not tn.pid_file(k).exists()
    for pid in live:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "stand-in up" in tn.log_file(0).read_text()


def test_stop_escalates_to_sigkill(net4: tuple[Path, Manifest]) -> None:
    d, _ = net4
    with Testnet(d, command=standin({0: "stubborn"})) as tn:
        tn.start(0)
        tn.wait_ready(20, [0])
        t0 = time.monotonic()
        tn.stop(0, timeout=0.5)
        assert time.monotonic() - t0 < 5 and not tn.running(0)


def test_context_manager_stops_on_exceptions(net4: tuple[Path, Manifest]) -> None:
    d, _ = net4
    with pytest.raises(RuntimeError), Testnet(d, command=standin()) as tn:
        tn.start([0, 1])
        pids = [tn.pid(0), tn.pid(1)]
        raise RuntimeError("test body failed")
    for pid in pids:
        assert pid is not None
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: nothing left behind


def test_wait_ready_reports_a_dead_or_deaf_node(net4: tuple[Path, Manifest]) -> None:
    d, _ = net4
    with Testnet(d, command=standin({0: "fail", 1: "deaf"})) as tn:
        tn.start([0])
        with pytest.raises(ChainfinError, match=r"(?s)node0 exited with code 3.*refusing to start"):
            tn.wait_ready(10)
        assert not tn.pid_file(0).exists()
        tn.start([1])
        with pytest.raises(ChainfinError, match="node1 was not ready within 0.5s"):
            tn.wait_ready(0.5, [1])
        with pytest.raises(ChainfinError, match="not started"):
            tn.wait_ready(1, [2])
        with pytest.raises(ChainfinError, match="not started by this launcher"):
            tn.kill(3)


def test_refuses_a_node_another_launcher_runs(net4: tuple[Path, Manifest]) -> None:
    d, _ = net4
    tn = Testnet(d, command=standin())
    tn.pid_file(0).write_text(f"{os.getpid()}\n")  # a live process we did not start
    try:
        with pytest.raises(ChainfinError, match="seems to be running already"):
            tn.start(0)
    finally:
        tn.pid_file(0).unlink()
    tn.pid_file(0).write_text("999999999\n")  # stale: overwritten
    with tn:
        tn.start(0)
        assert int(tn.pid_file(0).read_text()) == tn.pid(0)


UP = textwrap.dedent("""
    import argparse, sys
    import testnet.launch as L
    from tests.fixtures import standin
    L.node_command = standin()
    sys.exit(L.cli_up(argparse.Namespace(dir=sys.argv[1])))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_up_stops_everything_on_a_signal(net4: tuple[Path, Manifest], sig: int) -> None:
    d, _ = net4
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", UP, str(d)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=root)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        assert "4 nodes up" in lines[0], lines + [proc.stderr.read() if proc.stderr else ""]
        pids = [int(Path(d / f"node{k}" / "node.pid").read_text()) for k in range(4)]
        assert all(f"pid {p}" in "".join(lines) for p in pids)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped all nodes" in out
    for k in range(4):
        assert not (d / f"node{k}" / "node.pid").exists()
    for p in pids:
        deadline = time.monotonic() + 5
        while True:
            try:
                os.kill(p, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, f"stand-in {p} survived testnet up"
            time.sleep(0.05)


# ---------------------------------------------------------------------- separate hosts (issue 20)


def test_netns_init_gives_each_node_its_address_in_config_manifest_and_certificate(
        tmp_path: Path) -> None:
    """No root needed: ``init_testnet(..., netns=...)`` only writes files."""
    import ipaddress

    from cryptography import x509

    from node.config import load_config
    from testnet.launch import init_testnet, load_manifest
    from testnet.netns import NetnsSpec

    spec = NetnsSpec(subnet=42, rtt_ms=50, jitter_ms=5)
    init_testnet(tmp_path / "tn", 3, netns=spec)
    m = load_manifest(tmp_path / "tn")
    assert m.netns == spec
    for i, nd in enumerate(m.nodes):
        addr = f"10.77.42.{10 + i}"
        assert nd.rest_url == f"https://{addr}:8000" and nd.p2p_address == f"{addr}:9000"
        cfg = load_config(nd.config)
        assert (cfg.rest_host, cfg.p2p_host) == (addr, addr)
        assert sorted(p.address for p in cfg.peers) == sorted(
            f"10.77.42.{10 + j}:9000" for j in range(3) if j != i)
        cert = x509.load_pem_x509_certificate((tmp_path / "tn" / "pki" / f"node{i}.pem")
                                              .read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address(addr) in san.get_values_for_type(x509.IPAddress)
    # a 127.0.0.1 testnet's manifest has no netns entry at all
    init_testnet(tmp_path / "plain", 1)
    import json

    assert "netns" not in json.loads((tmp_path / "plain" / "testnet.json").read_text())
