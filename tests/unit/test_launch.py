"""testnet init (files, keys, genesis, configs, manifest). The launcher's process handling is
tested in tests/node/test_launcher.py."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError, ConfigError
from chainfin.genesis import load_genesis
from node.config import load_config
from testnet.launch import Manifest, bic, init_testnet, keyed_genesis, load_manifest


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
    assert abs(g.genesis_time_ms - time.time() * 1000) < 600_000


def test_init_keeps_the_fingerprint_key_out_of_the_genesis(net4: tuple[Path, Manifest]) -> None:
    """The genesis is public (GET /v1/genesis, the explorer): it commits to the consortium's
    fingerprint key by its SHA-256; the key is in its own 0600 file, which every node's config
    names and the manifest lists for the demo's regulator (decision 133)."""
    d, m = net4
    text = Path(m.genesis).read_text()
    g = load_genesis(m.genesis)
    assert g.fingerprint_key is None and "fingerprint_key\"" not in text
    kf = d / "fingerprint.key"
    assert m.fingerprint_key_file == str(kf.resolve())
    assert stat.S_IMODE(kf.stat().st_mode) == 0o600
    key = bytes.fromhex(kf.read_text().strip())
    assert len(key) == 32 and key.hex() not in text
    assert g.fingerprint_key_sha256 == hashlib.sha256(key).hexdigest()
    assert keyed_genesis(m).fingerprint_key_bytes() == key
    for nd in m.nodes:
        raw = json.loads(Path(nd.config).read_text())
        assert raw["fingerprint_key_file"] == "../fingerprint.key"
        cfg = load_config(nd.config)
        assert cfg.fingerprint_key_path() == kf.resolve()
        assert cfg.load_genesis().fingerprint_key_bytes() == key


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
    # the fingerprint key file is named (a regulator's `risk watch` needs it), its key never
    assert m.fingerprint_key_file and f"fp key    {m.fingerprint_key_file}" in r.stdout
    assert Path(m.fingerprint_key_file).read_text().strip() not in r.stdout
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "init", "--dir",
                        str(tmp_path / "t")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "already holds a testnet" in r.stderr


def test_cli_join_is_the_membership_join(tmp_path: Path) -> None:
    from testnet.launch import cli_join

    with pytest.raises(ChainfinError):  # no testnet in that directory
        cli_join(argparse.Namespace(dir=str(tmp_path / "none")))
