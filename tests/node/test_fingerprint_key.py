"""The consortium's fingerprint key is not served with the genesis (decision 133).

A genesis of the current form commits to the key by its SHA-256 (``fingerprint_key_sha256``); the
key is in its own file, which a node reads at start. Here: ``GET /v1/genesis`` (public) of such
a chain holds no key; duplicate-document detection and watch-list screening work with the key
read from its file; ``chainfin node run`` refuses to start, naming the file, when the key file is
missing or holds another key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from chainfin.crypto import Identity
from chainfin.errors import ConfigError
from chainfin.genesis import (
    FINGERPRINT_KEY_FILE,
    Genesis,
    load_genesis,
    load_keyed_genesis,
    new_fingerprint_key,
    write_fingerprint_key,
)
from chainfin.store import MemoryStore
from contracts import risk
from node import api
from node.runtime import Node
from testnet.launch import init_testnet
from tests.fixtures import (
    TRADE_ROLES,
    Desk,
    SigningClient,
    client_ids,
    start_cluster,
    stop_cluster,
    trade_genesis,
    validator_ids,
)
from tests.unit.trade_cases import INVOICE, h


@pytest.fixture
async def keyed_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """The trade cluster (tests/conftest.py ``desk``) on a genesis of the key-file form, which
    every node loads as ``chainfin node run`` does: genesis.json and fingerprint.key from disk."""

    def genesis_of(validators: Sequence[Identity], clients: Mapping[str, Identity]) -> Genesis:
        g = trade_genesis(validators, clients).with_key_committed()
        (tmp_path / "genesis.json").write_text(g.to_json_text())
        write_fingerprint_key(tmp_path / FINGERPRINT_KEY_FILE, g.fingerprint_key_bytes())
        return load_keyed_genesis(tmp_path / "genesis.json")

    genesis, nodes, ids = await start_cluster(roles=TRADE_ROLES, outsider=False,
                                              genesis=genesis_of)
    for i, nd in enumerate(nodes[:3]):
        ids["bank_" + "abc"[i]] = nd.identity
    http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
    await http.start_server()
    try:
        yield Desk(genesis, nodes, ids, http)
    finally:
        await http.close()
        await stop_cluster(nodes)


async def test_the_served_genesis_holds_no_key(keyed_desk: Desk) -> None:
    d = keyed_desk
    key = d.genesis.fingerprint_key_bytes()
    async with d.http.get("/v1/genesis", as_=None) as r:  # public: unsigned
        assert r.status == 200
        text = await r.text()
    served = Genesis.model_validate_json(text)
    assert "fingerprint_key" not in served.document() and served.fingerprint_key is None
    assert key.hex() not in text
    assert served.hash() == d.genesis.hash()  # the root of trust the explorer pins


async def test_duplicates_and_watch_list_screening_with_the_key_from_its_file(
        keyed_desk: Desk) -> None:
    d = keyed_desk
    inv = await d.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                       content_hash=h("inv"))
    watch = [f"trade/{inv['trade_id']}", f"doc/{inv['doc_id']}"]
    await d.refused("duplicate_document", "exporter", "register", watch, doc_type="invoice",
                    fields={**INVOICE, "amount": INVOICE["amount"] + 1},
                    content_hash=h("rekeyed"))
    # the regulator (``auditor`` here) hashes its entries with the key from the file too
    entries = risk.watch_entries(risk.watch_key(d.genesis.fingerprint_key_bytes()),
                                 "Globex Corporation")
    out = await d.commit(d.tx("auditor", "risk", "add_watch", {"entries": entries}))
    assert out["status"] == "committed", out
    await d.refused("sanctioned_party", "exporter", "register", watch, doc_type="invoice",
                    fields={**INVOICE, "number": "INV-2025-002"}, content_hash=h("watched"))


def _run(config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                           config], capture_output=True, text=True, timeout=60)


def test_node_run_refuses_a_missing_or_foreign_key_file(tmp_path: Path) -> None:
    m = init_testnet(tmp_path / "tn", nodes=1, tls=False)
    kf = tmp_path / "tn" / FINGERPRINT_KEY_FILE
    kf.unlink()
    r = _run(m.nodes[0].config)
    assert r.returncode == 1, r.stderr
    assert f"fingerprint key file {kf} not found" in r.stderr
    assert not Path(m.nodes[0].data_dir).exists()  # refused before anything was opened
    write_fingerprint_key(kf, new_fingerprint_key())  # another chain's key
    r = _run(m.nodes[0].config)
    assert r.returncode == 1, r.stderr
    assert f"fingerprint key file {kf} does not match" in r.stderr
    assert kf.read_text().strip() not in r.stderr


def test_a_node_is_not_built_on_a_genesis_without_its_key(tmp_path: Path) -> None:
    """Only the public document (``load_genesis``): the node refuses at construction, not at
    the first document registered (where an empty key would stop the chain)."""
    vals = validator_ids(4)
    g = trade_genesis(vals, client_ids(TRADE_ROLES)).with_key_committed()
    (tmp_path / "genesis.json").write_text(g.to_json_text())
    with pytest.raises(ConfigError, match="fingerprint key"):
        Node(vals[0], load_genesis(tmp_path / "genesis.json"), MemoryStore(), "127.0.0.1", 0, {})


def test_node_init_without_the_key_file_says_where_it_goes(tmp_path: Path) -> None:
    """``chainfin node init --genesis G`` without ``--fingerprint-key`` wrote a node that
    ``node run`` refuses to start, and said nothing about it."""
    init_testnet(tmp_path / "tn", nodes=1, tls=False)
    genesis = str(tmp_path / "tn" / "genesis.json")

    def init(d: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chainfin.cli", "node", "init", "--bank",
                               "CHFNFRPP", "--dir", str(tmp_path / d), "--genesis", genesis,
                               *extra], capture_output=True, text=True, timeout=60)

    r = init("without")
    assert r.returncode == 0, r.stderr
    assert f"{tmp_path / 'without'}/fingerprint.key" in r.stderr and "--fingerprint-key" in r.stderr
    assert not (tmp_path / "without" / FINGERPRINT_KEY_FILE).exists()
    r = init("with", "--fingerprint-key", str(tmp_path / "tn" / FINGERPRINT_KEY_FILE))
    assert r.returncode == 0 and "note" not in r.stderr, r.stderr
    assert (tmp_path / "with" / FINGERPRINT_KEY_FILE).exists()


def test_a_key_file_open_to_others_is_reported_at_start(tmp_path: Path) -> None:
    """The key is the consortium's secret, written 0600; a node started on a copy that group or
    others may read starts (the operator's call) and says so, naming the file and its mode."""
    from chainfin.genesis import key_file_open_to_others

    m = init_testnet(tmp_path / "tn", nodes=1, tls=False)
    kf = tmp_path / "tn" / FINGERPRINT_KEY_FILE
    assert key_file_open_to_others(kf) is None
    kf.chmod(0o644)
    assert key_file_open_to_others(kf) == 0o644
    p = subprocess.Popen([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                          m.nodes[0].config], stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None
        seen = ""
        for _ in range(200):
            line = p.stderr.readline()
            seen += line
            if "open to its group or others" in line or not line:
                break
        assert f"fingerprint key file {kf} is open to its group or others (mode 644)" in seen
        assert kf.read_text().strip() not in seen
    finally:
        p.terminate()
        p.wait(timeout=30)
