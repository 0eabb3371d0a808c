"""Backups (node/backup.py, node/api_admin.py): an online backup taken while the cluster commits
verifies with the genesis alone at a committed height; a byte changed anywhere is detected;
the route takes only the node's own keys and no path; a restore refuses a non-empty directory
and, from a backup older than a validator-set change, catches up through the change."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.genesis import Genesis
from chainfin.store import MemoryStore, PlyvelStore, state_db_key
from chainfin.types import Transaction
from contracts import CONTRACTS
from node import api
from node.backup import (
    DATA,
    MANIFEST,
    BackupError,
    BackupWriter,
    _canonical,
    _receive,
    _self_hash,
    describe,
    read_manifest,
    restore_backup,
    verify_backup,
    write_backup,
)
from node.ledger import Ledger, pack_block_record, unpack_block_record
from node.runtime import Node
from tests.fixtures import SigningClient, client_ids, connect, make_genesis, validator_ids


class Cluster:
    def __init__(self, genesis: Genesis, nodes: list[Node], ids: dict[str, Identity],
                 validators: list[Identity]) -> None:
        self.genesis, self.nodes, self.ids, self.validators = genesis, nodes, ids, validators
        self.nonce = iter(range(1, 10**9))

    def issue(self, node: int = 0, amount: int = 1) -> Transaction:
        tx = Transaction.create(self.ids["usd_issuer"], self.genesis.chain_id, next(self.nonce),
                                "settlement", "issue", {"currency": "USD", "amount": amount,
                                                        "to": self.ids["exporter"].public_key.hex()})
        self.nodes[node].admit(tx)
        return tx

    async def run(self, who: Identity, contract: str, method: str, args: dict[str, Any]) -> Any:
        nonce = self.nodes[0].next_nonce(who.public_key)
        tx = Transaction.create(who, self.genesis.chain_id, nonce, contract, method, args)
        fut = self.nodes[0].wait_for(tx.tx_id)
        self.nodes[0].admit(tx)
        out = await asyncio.wait_for(fut, 20)
        assert out.status == "committed", out
        return out.result

    async def height(self, h: int, nodes: list[Node] | None = None, timeout: float = 20,
                     via: int = 0) -> None:
        """Until ``nodes`` reach height ``h``, a transaction every 20 ms (no empty blocks)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(n.ledger.tip.height < h for n in nodes or self.nodes):
            assert loop.time() < end, f"height {h} not reached"
            self.issue(via)
            await asyncio.sleep(0.02)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    validators = validator_ids(4)
    ids = client_ids()
    genesis = make_genesis(validators, ids)
    (tmp_path / "node0").mkdir()
    store = PlyvelStore(tmp_path / "node0" / "db")
    nodes = [Node(validators[0], genesis, store, "127.0.0.1", 0, {}, "node0")]
    nodes += [Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}")
              for i, v in enumerate(validators) if i]
    for nd in nodes:
        await nd.start()
    await connect(nodes)
    c = Cluster(genesis, nodes, ids, validators)
    try:
        yield c
    finally:
        for nd in c.nodes:
            with contextlib.suppress(Exception):
                await nd.stop()
        store.close()


async def _online(c: Cluster, out: Path, who: Identity | None = None) -> Path:
    """POST /v1/admin/backup on node 0 as ``who`` (default: node 0's key); the client side
    writes the backup under ``out``."""
    async with SigningClient(TestServer(api.make_app(c.nodes[0])),
                             who or c.validators[0]) as http:
        r = await http.post("/v1/admin/backup")
        assert r.status == 200, await r.text()
        path, _ = await _receive(r.content, BackupWriter(out))
        return path


async def test_online_backup_while_committing_verifies_at_a_committed_height(
        cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    for _ in range(30):
        c.issue()
    await c.height(3)
    stop = asyncio.Event()

    async def load() -> None:  # keeps the cluster committing while the backup runs
        while not stop.is_set():
            c.issue()
            await asyncio.sleep(0.005)

    loader = asyncio.ensure_future(load())
    try:
        start = c.nodes[0].ledger.tip.height
        path = await _online(c, tmp_path / "backups")
        await c.height(c.nodes[0].ledger.tip.height + 2)
    finally:
        stop.set()
        await loader
    v = verify_backup(path, c.genesis)
    assert v.height >= start
    # a committed height: the block there is the one every node committed
    for nd in c.nodes:
        assert nd.ledger.committed_at(v.height, v.block_hash)
    m = read_manifest(path)
    assert m["height"] == v.height and m["source"]["node_id"] == "node0"
    assert m["certificate"]["height"] == v.height
    assert not any((tmp_path / "node0" / "db").glob("*.cfb"))  # the node wrote nothing


@pytest.fixture
async def made(cluster: Cluster, tmp_path: Path) -> tuple[Cluster, Path]:
    c = cluster
    for _ in range(20):
        c.issue()
    await c.height(2)
    path = await _online(c, tmp_path / "made")
    return c, path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


async def test_one_byte_flipped_anywhere_is_detected(made: tuple[Cluster, Path],
                                                     tmp_path: Path) -> None:
    c, path = made
    verify_backup(path, c.genesis)
    for name in (MANIFEST, DATA):
        raw = (path / name).read_bytes()
        step = max(1, len(raw) // 150)
        positions = sorted(set(range(0, len(raw), step)) | {0, 7, 8, 9, len(raw) - 1})
        for pos in positions:
            bad = _copy(path, tmp_path / f"flip-{name}-{pos}")
            flipped = bytearray(raw)
            flipped[pos] ^= 0x01
            (bad / name).write_bytes(bytes(flipped))
            with pytest.raises(BackupError) as e:
                verify_backup(bad, c.genesis)
            assert str(e.value), (name, pos)
            shutil.rmtree(bad)
    # a truncated data file, and a missing one
    bad = _copy(path, tmp_path / "short")
    (bad / DATA).write_bytes((path / DATA).read_bytes()[:-3])
    with pytest.raises(BackupError, match="truncated|SHA-256"):
        verify_backup(bad, c.genesis)


def _rewrite(path: Path, dst: Path, change: Any) -> Path:
    """A forger's backup: ``change(entries)`` applied, the SHA-256 and the manifest's hashes
    recomputed, so only the certified checks can catch it."""
    import hashlib

    from node.backup import _LEN, MAGIC, read_entries

    entries = dict(read_entries(path / DATA, hashlib.sha256()))
    change(entries)
    body = bytearray(MAGIC)
    for k in sorted(entries):
        body += _LEN.pack(len(k), len(entries[k])) + k + entries[k]
    dst.mkdir()
    (dst / DATA).write_bytes(bytes(body))
    m = json.loads((path / MANIFEST).read_text())
    m.update(sha256=hashlib.sha256(body).hexdigest(), byte_count=len(body),
             key_count=len(entries))
    m["manifest_sha256"] = _self_hash(m)
    (dst / MANIFEST).write_text(_canonical(m))
    return dst


async def test_a_forged_backup_with_recomputed_hashes_fails_the_certified_checks(
        made: tuple[Cluster, Path], tmp_path: Path) -> None:
    c, path = made
    key = state_db_key(b"settlement/bal/" + c.ids["exporter"].public_key.hex().encode()
                       + b"/USD")

    def richer(e: dict[bytes, bytes]) -> None:
        assert key in e, "the exporter's balance is in the state"
        e[key] = codec.encode(10**12)

    with pytest.raises(BackupError, match="certified state root"):
        verify_backup(_rewrite(path, tmp_path / "a", richer), c.genesis)

    def drop_block(e: dict[bytes, bytes]) -> None:
        del e[b"b/" + (1).to_bytes(8, "big")]

    with pytest.raises(BackupError, match="not all there"):
        verify_backup(_rewrite(path, tmp_path / "b", drop_block), c.genesis)

    height = read_manifest(path)["height"]
    tip_key = b"b/" + height.to_bytes(8, "big")

    def fewer_votes(e: dict[bytes, bytes]) -> None:
        rec = codec.decode(unpack_block_record(e[tip_key]))
        rec["cert"]["votes"] = rec["cert"]["votes"][:2]  # below quorum(4) = 3
        e[tip_key] = pack_block_record(rec)

    forged = _rewrite(path, tmp_path / "c", fewer_votes)
    m = json.loads((forged / MANIFEST).read_text())
    m["certificate"]["votes"] = m["certificate"]["votes"][:2]
    m["manifest_sha256"] = _self_hash(m)
    (forged / MANIFEST).write_text(_canonical(m))
    with pytest.raises(BackupError, match="certificate does not verify"):
        verify_backup(forged, c.genesis)

    other = make_genesis(validator_ids(4), client_ids())
    with pytest.raises(BackupError, match="genesis"):
        verify_backup(path, other)


async def test_the_route_takes_only_the_nodes_own_key(made: tuple[Cluster, Path]) -> None:
    c, _ = made
    strangers = [c.validators[1], c.ids["auditor"], c.ids["exporter"], c.ids["usd_issuer"]]
    async with SigningClient(TestServer(api.make_app(c.nodes[0])), c.validators[0]) as http:
        for who in strangers:
            r = await http.post("/v1/admin/backup", as_=who)
            assert r.status == 404, who.name
            assert (await r.json())["error"]["code"] == "not_found"
        r = await http.post("/v1/admin/backup", as_=None)
        assert r.status == 401


async def test_a_path_in_the_request_is_never_used(made: tuple[Cluster, Path],
                                                   tmp_path: Path) -> None:
    c, _ = made
    evil = tmp_path / "evil"
    async with SigningClient(TestServer(api.make_app(c.nodes[0])), c.validators[0]) as http:
        r = await http.post("/v1/admin/backup", json={"dir": str(evil)})
        assert r.status == 400
        r = await http.post(f"/v1/admin/backup?dir={evil}")
        assert r.status == 400
        r = await http.post("/v1/admin/backup")  # the node streams; it writes no file
        assert r.status == 200
        await r.read()
    assert not evil.exists()


async def test_restore_refuses_a_non_empty_dir_and_installs_into_an_empty_one(
        made: tuple[Cluster, Path], tmp_path: Path) -> None:
    c, path = made
    target = tmp_path / "restored" / "data"
    target.mkdir(parents=True)
    (target / "something").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(path, target, c.genesis)
    assert (target / "something").exists()
    v, aside = restore_backup(path, target, c.genesis, force=True)
    assert aside is not None and (aside / "something").exists()
    store = PlyvelStore(target / "db", create_if_missing=False)
    try:
        ledger = Ledger(store, c.genesis, registry=CONTRACTS)
        assert (ledger.tip.height, ledger.tip.block_hash) == (v.height, v.block_hash)
        assert ledger.tip.state_root == v.state_root
    finally:
        store.close()
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(path, target, c.genesis)


async def test_offline_backup_of_a_stopped_store(made: tuple[Cluster, Path],
                                                 tmp_path: Path) -> None:
    c, _ = made
    pin = c.nodes[0].store.pin()  # as `--offline` reads a stopped node's database
    try:
        head = describe(pin, c.genesis)
        path, m = write_backup(pin, BackupWriter(tmp_path / "off"), head, None)
    finally:
        pin.close()
    assert verify_backup(path, c.genesis).height == m["height"]


async def test_restore_of_a_backup_older_than_a_set_change_catches_up_through_it(
        cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    for _ in range(5):
        c.issue()
    await c.height(2)
    path = await _online(c, tmp_path / "old")
    old_height = read_manifest(path)["height"]
    # node 3 leaves the set: proposed by node 0, voted by node 1 and node 2 (quorum 3 of 4)
    gone = c.validators[3].public_key.hex()
    res = await c.run(c.validators[0], "governance", "propose",
                      {"action": "remove_validator", "params": {"pubkey": gone}})
    pid = res["proposal_id"]
    await c.run(c.validators[1], "governance", "vote", {"proposal_id": pid})
    await c.run(c.validators[2], "governance", "vote", {"proposal_id": pid})
    for _ in range(5):
        c.issue()
    await c.height(c.nodes[0].ledger.tip.height + 2, c.nodes[:3])
    assert c.nodes[0].ledger.tip.validators.n == 3

    # node 0 is lost; its backup (from before the change) is restored and it restarts
    n0 = c.nodes[0]
    await n0.stop()
    n0.store.close()
    data = tmp_path / "node0"
    v, aside = restore_backup(path, data, c.genesis, force=True)
    assert v.height == old_height and aside is not None
    store = PlyvelStore(data / "db")
    fresh = Node(c.validators[0], c.genesis, store, "127.0.0.1", 0, {}, "node0")
    c.nodes[0] = fresh
    await fresh.start()
    assert fresh.ledger.tip.height == old_height and fresh.ledger.tip.validators.n == 4
    try:
        await connect([fresh, c.nodes[1], c.nodes[2]])
        target = c.nodes[1].ledger.tip.height + 1
        await c.height(target, [fresh, c.nodes[1]], via=1)
        assert fresh.ledger.tip.validators.n == 3
        h = min(fresh.ledger.tip.height, c.nodes[1].ledger.tip.height)
        assert fresh.ledger.state_root_at(h) == c.nodes[1].ledger.state_root_at(h)
    finally:
        await fresh.stop()
        store.close()


def test_a_disk_too_small_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    import os

    free = shutil.disk_usage(tmp_path).free
    w = BackupWriter(tmp_path / "b", os.stat(tmp_path).st_dev, reserve_bytes=free)
    with pytest.raises(BackupError, match="not enough free space.*reserve"):
        w.need(1 << 20)
    assert not any((tmp_path / "b").iterdir())
    BackupWriter(tmp_path / "c").need(1 << 20)  # another disk's reserve is not this one's


def test_the_directory_backups_are_written_under_names_them(tmp_path: Path) -> None:
    """`verify --dir` / `restore --backup` given the --out directory instead of one backup in
    it: the error names the backups there, the newest as the example."""
    import os

    out = tmp_path / "backups"
    (out / "empty").mkdir(parents=True)
    for i, name in enumerate(("c-h100-20261207T120000Z", "c-h32-20261207T110000Z")):
        (out / name).mkdir()
        (out / name / MANIFEST).write_text("{}")
        os.utime(out / name / MANIFEST, ns=(10**18 + i, 10**18 + i))
    with pytest.raises(BackupError) as e:
        read_manifest(out)
    assert "not a backup directory; it holds 2 backup(s)" in str(e.value)
    assert str(out / "c-h32-20261207T110000Z") in str(e.value)
    with pytest.raises(BackupError) as e:
        read_manifest(out / "empty")
    assert str(e.value).endswith("not a backup directory")
