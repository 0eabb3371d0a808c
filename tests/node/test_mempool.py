from __future__ import annotations

import asyncio

import pytest

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction
from node.mempool import Mempool, TxGossip, encode_tx_batch

ALICE = Identity.from_seed_text("alice")
BOB = Identity.from_seed_text("bob")


def tx(ident: Identity = ALICE, nonce: int = 1, **args: object) -> Transaction:
    return Transaction.create(ident, "chain", nonce, "settlement", "transfer", dict(args))


def code_of(exc: pytest.ExceptionInfo[InvalidTransaction]) -> str:
    return exc.value.code


def test_fifo_take_batch_with_exclusions() -> None:
    mp = Mempool()
    txs = [tx(nonce=i) for i in range(1, 11)]
    for t in txs:
        assert mp.add(t)
    assert len(mp) == 10 and txs[3].tx_id in mp and mp.get(txs[3].tx_id) == txs[3]
    assert mp.take_batch(3) == txs[:3]
    assert mp.take_batch(3, exclude={txs[0].tx_id, txs[2].tx_id}) == [txs[1], txs[3], txs[4]]
    assert mp.take_batch(100) == txs
    assert mp.take_batch(0) == []
    assert len(mp) == 10  # taking does not remove


def test_duplicates_and_seen() -> None:
    mp = Mempool()
    t = tx()
    mp.add(t)
    with pytest.raises(InvalidTransaction) as e:
        mp.add(t)
    assert code_of(e) == "duplicate"
    assert mp.seen(t.tx_id)
    assert mp.remove([t.tx_id]) == 1
    assert t.tx_id not in mp and len(mp) == 0 and mp.size_bytes == 0
    assert mp.seen(t.tx_id)  # remembered after commit: late gossip does not re-admit it
    with pytest.raises(InvalidTransaction) as e:
        mp.add(t)
    assert code_of(e) == "duplicate"
    assert mp.remove([t.tx_id, b"\0" * 32]) == 0  # unknown ids are ignored
    u = tx(nonce=2)
    mp.add(u)
    mp.remove([u.tx_id], committed=False)
    assert not mp.seen(u.tx_id)
    mp.add(u)


def test_same_sender_nonce_refused_until_removed() -> None:
    mp = Mempool()
    a, b = tx(nonce=5, x=1), tx(nonce=5, x=2)
    mp.add(a)
    with pytest.raises(InvalidTransaction) as e:
        mp.add(b)
    assert code_of(e) == "nonce_in_use"
    mp.add(tx(BOB, nonce=5))  # another sender may use the same nonce
    mp.remove([a.tx_id])
    mp.add(b)


def test_limits() -> None:
    mp = Mempool(max_txs=3, max_per_sender=2)
    mp.add(tx(nonce=1))
    mp.add(tx(nonce=2))
    with pytest.raises(InvalidTransaction) as e:
        mp.add(tx(nonce=3))
    assert code_of(e) == "sender_limit"
    mp.add(tx(BOB, nonce=1))
    with pytest.raises(InvalidTransaction) as e:
        mp.add(tx(BOB, nonce=2))
    assert code_of(e) == "mempool_full" and e.value.status_hint == 400
    assert mp.stats["rejected_full"] == 1 and mp.stats["rejected_sender_limit"] == 1
    size = mp.size_bytes
    mp2 = Mempool(max_bytes=size // 3 + 1)
    mp2.add(tx(nonce=1))
    with pytest.raises(InvalidTransaction) as e:
        mp2.add(tx(nonce=2, pad="x" * 100))
    assert code_of(e) == "mempool_full"


def test_by_sender_and_seen_is_bounded() -> None:
    mp = Mempool(seen_capacity=5)
    mine = [tx(nonce=i) for i in range(1, 4)]
    for t in mine:
        mp.add(t)
    mp.add(tx(BOB))
    assert mp.by_sender(ALICE.public_key) == mine
    assert mp.by_sender(b"\1" * 32) == []
    ids = [bytes([i]) * 32 for i in range(10)]
    mp.mark_seen(ids)
    assert not mp.seen(ids[0]) and mp.seen(ids[9])
    assert sum(mp.seen(i) for i in ids) == 5


def test_encode_tx_batch_is_canonical() -> None:
    for n in (0, 1, 15, 16, 300):
        txs = [tx(nonce=i + 1) for i in range(n)]
        raw = encode_tx_batch([t.encode() for t in txs])
        assert raw == codec.encode([t.encode() for t in txs])
        assert [Transaction.decode(d) for d in codec.decode(raw, canonical=True)] == txs


def test_encode_tx_batch_bin_headers() -> None:
    # items of every bin header size: bin 8 (< 256 bytes), bin 16, bin 32
    items = [b"x" * 10, b"y" * 300, b"z" * 70_000]
    raw = encode_tx_batch(items)
    assert raw == codec.encode(items) and codec.decode(raw, canonical=True) == items


def test_by_wire_finds_only_the_exact_bytes() -> None:
    mp = Mempool()
    t = tx(nonce=1)
    mp.add(t)
    assert mp.by_wire(t.encode()) is t
    assert mp.by_wire(tx(nonce=2).encode()) is None  # not pending
    # the same id, other bytes (a flipped signature bit): not a match
    data = bytearray(t.encode())
    data[-1] ^= 1
    assert Transaction.wire_id(bytes(data)) == t.tx_id and mp.by_wire(bytes(data)) is None
    assert mp.by_wire(b"") is None and mp.by_wire(b"\x87" * 200) is None


async def test_gossip_batches_by_time_count_and_bytes() -> None:
    sent: list[tuple[str, bytes]] = []
    g = TxGossip(lambda kind, payload: sent.append((kind, payload)), delay=0.005, max_txs=200)
    txs = [tx(nonce=i + 1) for i in range(450)]
    for t in txs:
        g.add(t)
    assert len(sent) == 2 and len(g) == 50  # two full batches left at once
    await asyncio.sleep(0.03)
    assert len(sent) == 3 and len(g) == 0  # the rest after the delay
    got = [Transaction.decode(d) for _, p in sent for d in codec.decode(p)]
    assert got == txs and all(k == "txs" for k, _ in sent)
    assert g.stats == {"gossip_frames_out": 3, "gossip_txs_out": 450}

    sent.clear()
    big = TxGossip(lambda k, p: sent.append((k, p)), max_bytes=2000)
    for i in range(10):
        big.add(tx(nonce=i + 1, pad="y" * 500))
    big.flush()
    assert len(sent) > 1 and all(len(p) <= 2000 for _, p in sent)
    assert sum(len(codec.decode(p)) for _, p in sent) == 10
    big.add(tx(nonce=99))
    big.close()
    await asyncio.sleep(0.02)
    assert sum(len(codec.decode(p)) for _, p in sent) == 10
