"""Disks that fail: a data directory that fills up (a small tmpfs mounted by the test, as root),
and a damaged store at start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainfin.crypto import Identity
from chainfin.errors import InvalidTransaction
from chainfin.genesis import Genesis
from chainfin.store import DamagedStore, MemoryStore, PlyvelStore
from chainfin.types import Transaction
from contracts import CONTRACTS
from node.ledger import Ledger
from node.runtime import Node
from tests.fixtures import client_ids, connect, make_genesis, validator_ids

MiB = 1 << 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs; skipped where mounting is impossible (not root, no mount permission)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the disk-full test needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def _until(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_full_disk_pauses_refuses_and_resumes_without_damage(small_disk: Path) -> None:
    validators = validator_ids(4)
    ids = client_ids()
    genesis = make_genesis(validators, ids)
    db = small_disk / "db"
    store = PlyvelStore(db)
    nodes = [Node(validators[0], genesis, store, "127.0.0.1", 0, {}, "node0",
                  min_free_bytes=4 * MiB)]
    nodes += [Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}")
              for i, v in enumerate(validators) if i]
    filler = small_disk / "filler"
    nonce = iter(range(1, 10**6))

    def submit(i: int) -> None:
        tx = Transaction.create(ids["usd_issuer"], genesis.chain_id, next(nonce), "settlement",
                                "issue", {"currency": "USD", "amount": 1,
                                          "to": ids["exporter"].public_key.hex()})
        nodes[i].admit(tx)

    try:
        for nd in nodes:
            await nd.start()
        await connect(nodes, what="connect")
        submit(0)
        await _until(lambda: nodes[0].ledger.tip.height >= 1, 10, "first commit")

        # fill the disk up to 2 MiB below the node's 4 MiB reserve
        free = store.free_bytes()
        assert free is not None
        with open(filler, "wb") as f:
            f.write(b"\0" * (free - 2 * MiB))
        await _until(lambda: nodes[0].disk_full, 5, "node0 did not notice the full disk")
        with pytest.raises(InvalidTransaction) as e:
            submit(0)
        assert e.value.code == "disk_full" and "full" in str(e.value)
        assert b"\nchainfin_disk_full 1.0" in nodes[0].metrics.render()
        stuck = nodes[0].ledger.tip.height
        for _ in range(5):  # the three others keep committing (3 = quorum of 4)
            submit(1)
            await asyncio.sleep(0.05)
        await _until(lambda: nodes[1].ledger.tip.height > stuck, 10, "others stalled")
        assert nodes[0].ledger.tip.height == stuck

        filler.unlink()  # space returns
        await _until(lambda: not nodes[0].disk_full, 5, "node0 did not resume")
        submit(1)
        await _until(lambda: nodes[0].ledger.tip.height >= nodes[1].ledger.tip.height > stuck,
                     15, "node0 did not catch up")
        submit(0)  # and it accepts work again
        assert b"\nchainfin_disk_full 0.0" in nodes[0].metrics.render()
        assert nodes[0].stats["disk_full_pauses"] == 1
    finally:
        for nd in nodes:
            await nd.stop()
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
        top = nodes[0].ledger.tip
        store.close()
    # the store is intact: it reopens at the same tip, the block there hashes to it
    again = PlyvelStore(db)
    try:
        tip = Ledger(again, genesis, registry=CONTRACTS).tip
        assert (tip.height, tip.block_hash) == (top.height, top.block_hash)
    finally:
        again.close()


def _genesis() -> Genesis:
    return make_genesis(validator_ids(1), client_ids())


# --------------------------------------------------------------------------- damaged stores


async def _store_with_blocks(db: Path, genesis: Genesis, ident: Identity,
                             issuer: Identity, to: Identity, blocks: int = 3) -> int:
    """A single validator commits ``blocks`` blocks into a LevelDB at ``db``; returns the tip."""
    store = PlyvelStore(db)
    node = Node(ident, genesis, store, "127.0.0.1", 0, {}, "node0")
    try:
        await node.start()
        for n in range(1, blocks + 1):
            node.admit(Transaction.create(issuer, genesis.chain_id, n, "settlement", "issue",
                                          {"currency": "USD", "amount": 1,
                                           "to": to.public_key.hex()}))
            await _until(lambda n=n: node.ledger.tip.height >= n, 10, "single validator")
        return node.ledger.tip.height
    finally:
        await node.stop()
        store.close()


@pytest.fixture
async def committed(tmp_path: Path) -> tuple[Path, Genesis, int]:
    v = Identity.generate("node0")
    ids = client_ids()
    genesis = make_genesis([v], ids)
    db = tmp_path / "db"
    top = await _store_with_blocks(db, genesis, v, ids["usd_issuer"], ids["exporter"])
    return db, genesis, top


def _open_node(db: Path, genesis: Genesis) -> None:
    store = PlyvelStore(db)
    try:
        Node(Identity.generate("x"), genesis, store, "127.0.0.1", 0, {}, "node0")
    finally:
        store.close()


async def test_healthy_store_reopens(committed: tuple[Path, Genesis, int]) -> None:
    db, genesis, top = committed
    store = PlyvelStore(db)
    try:
        assert Ledger(store, genesis, registry=CONTRACTS).tip.height == top >= 3
    finally:
        store.close()


async def test_corrupted_leveldb_log_is_refused(committed: tuple[Path, Genesis, int]) -> None:
    db, genesis, _ = committed
    log = max(db.glob("*.log"), key=lambda p: p.stat().st_size)
    size = log.stat().st_size
    assert size > 1000
    with open(log, "r+b") as f:  # flip bytes inside a record: its checksum no longer matches
        f.seek(size // 2)
        chunk = f.read(64)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    with pytest.raises(DamagedStore, match="damaged"):
        _open_node(db, genesis)


async def test_missing_tip_block_is_refused(committed: tuple[Path, Genesis, int]) -> None:
    from node.ledger import P_BLOCK, _h

    db, genesis, top = committed
    store = PlyvelStore(db)
    store.delete(P_BLOCK + _h(top))
    store.close()
    with pytest.raises(DamagedStore, match=f"tip is block {top}, which is missing"):
        _open_node(db, genesis)


async def test_wal_shorter_than_its_mark_is_refused(committed: tuple[Path, Genesis, int]) -> None:
    from chainfin.consensus.engine import record_key
    from node.runtime import WAL_MARK

    db, genesis, top = committed
    store = PlyvelStore(db)
    store.write_mark(WAL_MARK, record_key(top + 1, 0, b"p"))  # signed, then lost from the WAL
    store.close()
    with pytest.raises(DamagedStore, match="WAL is truncated"):
        _open_node(db, genesis)


def test_node_run_refuses_a_damaged_store_with_the_repair_command(tmp_path: Path) -> None:
    import sys

    from testnet.launch import init_testnet

    m = init_testnet(tmp_path / "tn", nodes=1, tls=False)
    db = Path(m.nodes[0].data_dir) / "db"
    db.mkdir(parents=True)
    (db / "CURRENT").write_text("MANIFEST-000099\n")  # names a manifest that is not there
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                        m.nodes[0].config], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if " ERROR " in ln]
    assert len(errors) == 1, r.stderr
    assert "is damaged" in errors[0]
    assert f"chainfin node resync --config {m.nodes[0].config}" in errors[0]
    # resync moves the damaged directory aside and runs the node on a fresh one
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "chainfin.cli", "node", "resync", "--config",
                             m.nodes[0].config], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                with urllib.request.urlopen(m.nodes[0].rest_url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "resync did not start the node"
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    aside = list(Path(m.nodes[0].data_dir).parent.glob("data.damaged-*"))
    assert len(aside) == 1 and (aside[0] / "db" / "CURRENT").exists()
    assert "moved" in out and (Path(m.nodes[0].data_dir) / "db" / "CURRENT").exists()
    # a healthy directory is not rebuilt unless forced
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "node", "resync", "--config",
                        m.nodes[0].config], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not damaged" in r.stderr, r.stderr
