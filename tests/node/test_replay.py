"""Catch-up with the decoding and the signature checks in a worker process (node/replay.py):
the blocks that come back are those decoded here, a replica that applies them reaches the same
state, and a transaction whose signature was changed is refused by the worker path as it is by
``apply_certified`` itself."""

from __future__ import annotations

import asyncio

import pytest

from chainfin import codec
from chainfin.errors import ChainfinError, InvalidTransaction
from chainfin.store import MemoryStore
from contracts import CONTRACTS
from node import replay
from node.ledger import Ledger
from tests.node.test_ledger import certify, issue_tx, tn  # noqa: F401 - the fixture


def _records(genesis, nodes, clients, blocks: int, per: int) -> tuple[list[bytes], bytes]:
    src = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    out = []
    nonce = 1
    for _ in range(blocks):
        txs = [issue_tx(genesis, clients, nonce + i) for i in range(per)]
        nonce += per
        tip = src.tip
        b = src.build(tip.height + 1, 0, tip.block_hash, tip.timestamp_ms + 10,
                      nodes[0].public_key, txs, per)
        cert = certify(genesis, nodes, b)
        src.commit(b, cert)
        out.append(codec.encode({"block": b.to_wire(), "cert": cert.to_wire()}))
    return out, src.tip.state_root


def _bad_signature(raw: bytes) -> bytes:
    """The record with the last byte of its first transaction's signature flipped (the block's
    hash and its certificate stay valid: transaction ids do not cover signatures)."""
    rec = codec.decode(raw)
    tx = rec["block"]["txs"][0]
    rec["block"]["txs"][0] = tx[:-1] + bytes([tx[-1] ^ 1])
    return codec.encode(rec)


def test_the_worker_decodes_what_this_process_decodes_and_a_replica_agrees(tn) -> None:  # noqa: F811
    genesis, nodes, clients = tn
    records, root = _records(genesis, nodes, clients, 4, 6)
    dst = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    with replay.BlockDecoder() as dec:
        for raw, (block, cert) in zip(records, dec.decoded(records), strict=True):
            here, here_cert = replay.decode_record(raw)
            assert block == here and block.hash() == here.hash() and cert == here_cert
            assert [t.body for t in block.txs] == [t.body for t in here.txs]
            dst.apply_certified(block, cert, signatures_verified=True)
    assert dst.tip.state_root == root


def test_a_bad_signature_is_refused_by_the_worker_and_by_apply_certified(tn) -> None:  # noqa: F811
    genesis, nodes, clients = tn
    records, _ = _records(genesis, nodes, clients, 2, 3)
    bad = _bad_signature(records[1])
    block, cert = replay.decode_record(bad)
    assert cert.block_hash == block.hash()  # only the signature guards it
    dst = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    dst.apply_certified(*replay.decode_record(records[0]))
    with pytest.raises(InvalidTransaction):
        dst.apply_certified(block, cert)
    with replay.BlockDecoder() as dec:
        got = dec.decoded([records[0], bad])
        next(got)
        with pytest.raises(InvalidTransaction):
            next(got)
    assert dst.tip.height == 1


def test_ahead_gives_the_same_blocks_with_or_without_a_worker(tn) -> None:  # noqa: F811
    genesis, nodes, clients = tn
    records, root = _records(genesis, nodes, clients, 5, 2)

    async def run(decoder: replay.BlockDecoder | None, recs: list[bytes]) -> list[bool]:
        ahead = replay.Ahead(decoder, recs)
        dst = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
        seen = []
        try:
            for i in range(len(recs)):
                block, cert, verified = await ahead.get(i)
                dst.apply_certified(block, cert, signatures_verified=verified)
                seen.append(verified)
        finally:
            ahead.cancel()
        assert dst.tip.state_root == root
        return seen

    assert asyncio.run(run(None, records)) == [False] * 5  # apply_certified checked them
    with replay.BlockDecoder() as dec:
        assert asyncio.run(run(dec, records)) == [True] * 5
        with pytest.raises(ChainfinError):
            asyncio.run(run(dec, [records[0], _bad_signature(records[1]), *records[2:]]))


async def test_an_observer_catches_up_through_the_worker(monkeypatch) -> None:
    """A node that follows by replay (no state sync) with the worker path forced on for every
    batch: it reaches the validators' state, and the worker decoded its blocks."""
    from chainfin.store import MemoryStore as Mem
    from tests.fixtures import start_cluster, stop_cluster, wait_height
    from tests.node.test_statesync import _commit_issues, _observer, _serve

    monkeypatch.setattr(replay, "WORKER_MIN_BYTES", 0)
    used: list[int] = []
    real = replay.BlockDecoder.submit

    def submit(self: replay.BlockDecoder, raw: bytes):  # type: ignore[no-untyped-def]
        used.append(len(raw))
        return real(self, raw)

    monkeypatch.setattr(replay.BlockDecoder, "submit", submit)
    gen, nodes, ids = await start_cluster()
    runner, url = await _serve(nodes[0])
    try:
        await _commit_issues(nodes, ids, 60)
        joiner = _observer(gen, Mem(), url, ids["auditor"], state_sync=False)
        await joiner.start()
        try:
            await wait_height(joiner, nodes[0].ledger.tip.height, timeout=30)
            h = joiner.ledger.tip.height
            assert joiner.ledger.tip.state_root == codec.decode(nodes[0].ledger.block_raw(h))[
                "block"]["header"]["state_root"]
            assert used, "no record went through the worker"
        finally:
            await joiner.stop()
    finally:
        await runner.cleanup()
        await stop_cluster(nodes)
