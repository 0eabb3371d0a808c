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
from chainfin.errors import InvalidTransaction, StorageError
from chainfin.genesis import Genesis
from chainfin.store import MemoryStore, PlyvelStore
from chainfin.types import Transaction
from node.ledger import Ledger
from node.runtime import Node
from tests.node.test_api import CLIENT_ROLES, make_genesis

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
    validators = [Identity.generate(f"node{i}") for i in range(4)]
    ids = {name: Identity.generate(name) for name in CLIENT_ROLES}
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
        peers = {nd.identity.public_key: nd.transport.address for nd in nodes}
        for nd in nodes:
            nd.peers_cfg = dict(peers)
            nd.transport.set_peers(peers)
        await _until(lambda: all(len(nd.transport.connected()) == 3 for nd in nodes), 10,
                     "connect")
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
        assert b'disk_full"} 1.0' in nodes[0].metrics.render()
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
        tip = Ledger(again, genesis).tip
        assert (tip.height, tip.block_hash) == (top.height, top.block_hash)
    finally:
        again.close()


def _genesis() -> Genesis:
    validators = [Identity.generate("node0")]
    ids = {name: Identity.generate(name) for name in CLIENT_ROLES}
    return make_genesis(validators, ids)
