"""testnet init (files, keys, genesis, configs, manifest) and the launcher's process handling,
the latter with a stand-in node (a tiny HTTP server answering /healthz on the node's REST port)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError, ConfigError
from chainfin.genesis import load_genesis
from node.config import load_config
from testnet.launch import Manifest, ManifestNode, Testnet, bic, init_testnet, load_manifest

STANDIN = textwrap.dedent("""
    import http.server, json, signal, sys
    cfg = json.load(open(sys.argv[1]))
    mode = sys.argv[2]
    if mode == "fail":
        print("stand-in: refusing to start", flush=True)
        sys.exit(3)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"ok": true}'
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer((cfg["rest_host"], cfg["rest_port"]), H)
    print("stand-in up", flush=True)
    if mode != "deaf":
        srv.serve_forever()
    else:
        import time
        time.sleep(60)
""")


def standin(modes: dict[int, str] | None = None):
    def command(i: int, node: ManifestNode) -> list[str]:
        return [sys.executable, "-c", STANDIN, node.config, (modes or {}).get(i, "ok")]
    return command


@pytest.fixture(scope="module")
def net4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    d = tmp_path_factory.mktemp("tn") / "net"
    return d, init_testnet(d, nodes=4, rest_tls=False)  # the stand-ins serve plain HTTP


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


# ---------------------------------------------------------------------- init


def test_init_writes_keys_genesis_configs_manifest(net4: tuple[Path, Manifest]) -> None:
    d, m = net4
    assert load_manifest(d) == m
    raw = json.loads((d / "testnet.json").read_text())
    assert set(raw) >= {"chain_id", "genesis", "nodes", "clients"}
    assert set(raw["nodes"][0]) >= {"id", "public_key", "rest_url", "p2p_address", "data_dir",
                                    "config"}
    assert set(raw["clients"][0]) >= {"name", "role", "public_key", "key_file"}
    assert m.chain_id.startswith("chainfin-testnet-")
    assert mode(d / "keys") == 0o700 and mode(d / "clients") == 0o700
    for nd in m.nodes:
        assert nd.key_file and mode(Path(nd.key_file)) == 0o600
        assert load_identity(nd.key_file).public_key.hex() == nd.public_key
        assert Path(nd.data_dir) == Path(nd.config).parent / "data"
    names = [c.name for c in m.clients]
    assert names == ["bank0", "bank1", "bank2", "bank3", "exporter", "importer", "auditor",
                     "usd_issuer", "cny_issuer", "regulator", "customs"]
    for c in m.clients:
        assert mode(Path(c.key_file)) == 0o600
        assert load_identity(c.key_file).public_key.hex() == c.public_key
    # every key is distinct
    keys = [nd.public_key for nd in m.nodes] + [c.public_key for c in m.clients]
    assert len(set(keys)) == len(keys)


def test_init_genesis_has_customs_and_requires_attestation(
        net4: tuple[Path, Manifest]) -> None:
    _, m = net4
    g = load_genesis(m.genesis)
    roles = {i.name: i.role for i in g.identities}
    assert roles["customs"] == "customs" and m.client("customs").role == "customs"
    assert g.params.financing_requires_attestation is True
    legal = {i.name: i.legal_name for i in g.identities}
    assert legal["exporter"] == "Shenzhen Bright Lamps Co., Ltd."


def test_init_genesis(net4: tuple[Path, Manifest]) -> None:
    d, m = net4
    g = load_genesis(m.genesis)
    assert g.chain_id == m.chain_id
    assert [v.public_key for v in g.validators] == [nd.public_key for nd in m.nodes]
    assert [v.bank for v in g.validators] == [bic(i) for i in range(4)] == \
        ["CHFNUS33", "CHFNGB2L", "CHFNCNSH", "CHFNHKHH"]
    ident = {i.name: i for i in g.identities}
    for k, nd in enumerate(m.nodes):
        assert ident[nd.id].role == "bank" and ident[nd.id].admin and ident[nd.id].bank == bic(k)
        assert ident[f"bank{k}"].role == "bank" and ident[f"bank{k}"].admin
    for c in m.clients:
        assert ident[c.name].public_key == c.public_key and ident[c.name].role == c.role
    assert {n: ident[n].role for n in ("exporter", "importer", "auditor", "usd_issuer",
                                       "cny_issuer", "regulator")} == {
        "exporter": "exporter", "importer": "importer", "auditor": "auditor",
        "usd_issuer": "issuer", "cny_issuer": "issuer", "regulator": "auditor"}
    cur = {c.code: c for c in g.currencies}
    assert cur["USD"].exponent == 2 and cur["USD"].issuer == ident["usd_issuer"].public_key
    assert cur["CNY"].exponent == 2 and cur["CNY"].issuer == ident["cny_issuer"].public_key
    assert g.regulators == [ident["regulator"].public_key]
    assert len(bytes.fromhex(g.fingerprint_key)) == 32
    assert abs(g.genesis_time_ms - time.time() * 1000) < 600_000


def test_init_configs_load_and_ports_are_distinct(net4: tuple[Path, Manifest]) -> None:
    d, m = net4
    ports = []
    for i, nd in enumerate(m.nodes):
        raw = json.loads(Path(nd.config).read_text())
        assert raw["key_file"] == f"../keys/node{i}.json"  # relative: the directory can move
        cfg = load_config(nd.config)
        assert cfg.node_id == nd.id
        assert str(cfg.key_file) == nd.key_file and str(cfg.genesis) == m.genesis
        assert str(cfg.data_dir) == nd.data_dir
        assert nd.rest_url == cfg.rest_url and nd.p2p_address == cfg.p2p_address
        assert cfg.tls is True and cfg.tls_cert is not None and cfg.log_level == "INFO"
        assert {p.public_key: p.address for p in cfg.peers} == {
            o.public_key: o.p2p_address for o in m.nodes if o is not nd}
        ports += [cfg.rest_port, cfg.p2p_port]
    assert len(set(ports)) == 8 and all(p > 0 for p in ports)


def test_init_with_base_port_and_refusals(tmp_path: Path) -> None:
    m = init_testnet(tmp_path / "a", nodes=2, base_port=21000)
    assert [(n.rest_url, n.p2p_address) for n in m.nodes] == [
        ("https://127.0.0.1:21000", "127.0.0.1:21001"),
        ("https://127.0.0.1:21002", "127.0.0.1:21003")]
    with pytest.raises(ConfigError, match="already holds a testnet"):
        init_testnet(tmp_path / "a", nodes=2)
    with pytest.raises(ConfigError, match="1 to 64 nodes"):
        init_testnet(tmp_path / "b", nodes=0)
    with pytest.raises(ConfigError, match="base-port"):
        init_testnet(tmp_path / "c", nodes=4, base_port=65530)
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="not found"):
        load_manifest(tmp_path / "nothing")
    assert bic(8) == "CFAIUS33" and len({bic(i) for i in range(64)}) == 64


def test_load_config_errors(tmp_path: Path, net4: tuple[Path, Manifest]) -> None:
    _, m = net4
    good = json.loads(Path(m.nodes[0].config).read_text())
    cfg_dir = Path(m.nodes[0].config).parent
    cases = {
        "missing key": ({**good, "key_file": "nope.json"}, "key_file .* does not exist"),
        "bad port": ({**good, "rest_port": 70000}, "rest_port"),
        "bad peer key": ({**good, "peers": [{**good["peers"][0], "public_key": "zz"}]},
                         "peers.0.public_key"),
        "bad address": ({**good, "peers": [{**good["peers"][0], "address": "nohost"}]},
                        "host:port"),
        "typo": ({**good, "rest_prot": 1}, "rest_prot"),
        "twice": ({**good, "peers": [good["peers"][0], good["peers"][0]]}, "listed twice"),
    }
    for name, (data, pattern) in cases.items():
        p = cfg_dir / f"bad-{name.replace(' ', '_')}.json"
        p.write_text(json.dumps(data))
        with pytest.raises(ConfigError, match=pattern):
            load_config(p)
        p.unlink()
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "x.json")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "y.json")


def test_cli_init(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "init", "--dir",
                        str(tmp_path / "t"), "--nodes", "3"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    m = load_manifest(tmp_path / "t")
    assert len(m.nodes) == 3 and m.chain_id in r.stdout and "testnet up" in r.stdout
    for c in m.clients:  # secrets never printed
        assert json.loads(Path(c.key_file).read_text())["seed"] not in r.stdout
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "init", "--dir",
                        str(tmp_path / "t")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "already holds a testnet" in r.stderr


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
    from tests.unit.test_launch import standin
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


def test_cli_join_is_not_there_yet() -> None:
    from testnet.launch import cli_join

    with pytest.raises(ChainfinError, match="not implemented"):
        cli_join(argparse.Namespace(dir="x"))
