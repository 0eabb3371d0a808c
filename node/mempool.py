"""Pending transactions of one node, and the batching of their gossip.

The mempool holds transactions the node has already checked once (signature, static validity):
it never verifies anything itself. It is bounded three ways (count, bytes, per sender) and
refuses rather than evicts when full, so a flood can never push out transactions already
accepted and acknowledged to clients. Order is FIFO by admission, which is the order the primary
proposes them in.

:class:`TxGossip` accumulates newly admitted transactions and hands them to a broadcast callable
as one frame (canonical msgpack array of transaction envelopes) every ``delay`` seconds, or
sooner when ``max_txs`` or ``max_bytes`` accumulate.

Not thread-safe: use from the event loop.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterable, Iterator

from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction

__all__ = ["Mempool", "TxGossip", "encode_tx_batch"]


class Mempool:
    """Admitted, not yet committed transactions, FIFO.

    Args:
        max_txs: most transactions held.
        max_bytes: most bytes of signed bodies held.
        max_per_sender: most pending transactions of one sender.
        seen_capacity: how many committed/removed tx ids :meth:`seen` remembers.
    """

    def __init__(
        self,
        max_txs: int = 50_000,
        max_bytes: int = 128 * 2**20,
        max_per_sender: int = 10_000,
        seen_capacity: int = 200_000,
    ) -> None:
        if min(max_txs, max_bytes, max_per_sender, seen_capacity) < 1:
            raise ValueError("mempool limits must be positive")
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_per_sender = max_per_sender
        self._seen_capacity = seen_capacity
        self._txs: dict[bytes, Transaction] = {}  # insertion-ordered: FIFO
        self._by_sender: dict[bytes, dict[bytes, None]] = {}
        self._nonces: dict[tuple[bytes, int], bytes] = {}  # (sender, nonce) -> tx id
        self._seen: dict[bytes, None] = {}  # recently committed or removed ids, oldest first
        self._bytes = 0
        self.stats: dict[str, int] = {"added": 0, "removed": 0, "rejected_full": 0,
                                      "rejected_duplicate": 0, "rejected_sender_limit": 0,
                                      "rejected_nonce": 0}

    # ------------------------------------------------------------------ adding

    def add(self, tx: Transaction) -> bool:
        """Admit ``tx`` (already signature- and statically checked by the caller).

        Returns True when added.

        Raises:
            InvalidTransaction: ``duplicate`` (pending or recently committed), ``nonce_in_use``
                (another pending tx of the sender has this nonce), ``sender_limit`` (the sender
                has ``max_per_sender`` pending), ``mempool_full`` (count or bytes limit).
        """
        tx_id = tx.tx_id
        if tx_id in self._txs or tx_id in self._seen:
            self.stats["rejected_duplicate"] += 1
            raise InvalidTransaction("transaction already received", "duplicate")
        if (tx.sender, tx.nonce) in self._nonces:
            self.stats["rejected_nonce"] += 1
            raise InvalidTransaction(
                f"nonce {tx.nonce} is already used by a pending transaction of this sender",
                "nonce_in_use")
        mine = self._by_sender.get(tx.sender)
        if mine is not None and len(mine) >= self.max_per_sender:
            self.stats["rejected_sender_limit"] += 1
            raise InvalidTransaction(
                f"sender has {len(mine)} pending transactions (limit {self.max_per_sender})",
                "sender_limit")
        size = _size(tx)
        if len(self._txs) >= self.max_txs or self._bytes + size > self.max_bytes:
            self.stats["rejected_full"] += 1
            raise InvalidTransaction("the node's mempool is full, retry later", "mempool_full")
        self._txs[tx_id] = tx
        self._by_sender.setdefault(tx.sender, {})[tx_id] = None
        self._nonces[(tx.sender, tx.nonce)] = tx_id
        self._bytes += size
        self.stats["added"] += 1
        return True

    # ------------------------------------------------------------------ taking and removing

    def take_batch(self, max_txs: int, exclude: set[bytes] | frozenset[bytes] = frozenset()
                   ) -> list[Transaction]:
        """Up to ``max_txs`` pending transactions, oldest first, skipping ids in ``exclude`` (for
        example those in proposals in flight). They stay in the pool until :meth:`remove`."""
        out: list[Transaction] = []
        if max_txs <= 0:
            return out
        for tx_id, tx in self._txs.items():
            if tx_id in exclude:
                continue
            out.append(tx)
            if len(out) >= max_txs:
                break
        return out

    def remove(self, tx_ids: Iterable[bytes], *, committed: bool = True) -> int:
        """Drop these ids (committed, or rejected in a block); unknown ids are ignored. With
        ``committed`` (the default) the ids are also remembered by :meth:`seen`, so gossip that
        arrives late does not re-admit them. Returns how many were pending."""
        n = 0
        for tx_id in tx_ids:
            tx = self._txs.pop(tx_id, None)
            if committed:
                self.mark_seen((tx_id,))
            if tx is None:
                continue
            n += 1
            self._bytes -= _size(tx)
            self._nonces.pop((tx.sender, tx.nonce), None)
            mine = self._by_sender.get(tx.sender)
            if mine is not None:
                mine.pop(tx_id, None)
                if not mine:
                    del self._by_sender[tx.sender]
        self.stats["removed"] += n
        return n

    def conflicting(self, txs: Iterable[Transaction]) -> list[bytes]:
        """Ids of pending transactions that use the (sender, nonce) of one of ``txs`` but are
        other transactions: once ``txs`` are committed those can never be, so the caller drops
        them (else they would stay here for good, never proposable)."""
        out = []
        for tx in txs:
            other = self._nonces.get((tx.sender, tx.nonce))
            if other is not None and other != tx.tx_id:
                out.append(other)
        return out

    def mark_seen(self, tx_ids: Iterable[bytes]) -> None:
        """Remember ids (bounded: the oldest are forgotten first)."""
        seen = self._seen
        for tx_id in tx_ids:
            if tx_id in seen:
                continue
            seen[tx_id] = None
            if len(seen) > self._seen_capacity:
                del seen[next(iter(seen))]

    # ------------------------------------------------------------------ queries

    def seen(self, tx_id: bytes) -> bool:
        """True when ``tx_id`` is pending or was recently committed/removed."""
        return tx_id in self._txs or tx_id in self._seen

    def get(self, tx_id: bytes) -> Transaction | None:
        return self._txs.get(tx_id)

    def by_wire(self, data: bytes) -> Transaction | None:
        """The pending transaction whose wire bytes are exactly ``data``, or None (a proposal's
        transactions are then taken from here instead of being decoded again)."""
        tx_id = Transaction.wire_id(data)
        tx = None if tx_id is None else self._txs.get(tx_id)
        return tx if tx is not None and tx.encode() == data else None

    def by_sender(self, sender: bytes) -> list[Transaction]:
        """The sender's pending transactions, oldest first."""
        return [self._txs[i] for i in self._by_sender.get(sender, ())]

    def __contains__(self, tx_id: object) -> bool:
        return tx_id in self._txs

    def __len__(self) -> int:
        return len(self._txs)

    def __iter__(self) -> Iterator[Transaction]:
        return iter(list(self._txs.values()))

    @property
    def size_bytes(self) -> int:
        return self._bytes


def _size(tx: Transaction) -> int:
    return len(tx.body) + len(tx.signature)


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 2**16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def _bin_header(n: int) -> bytes:
    if n < 2**8:
        return b"\xc4" + bytes([n])
    if n < 2**16:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


def encode_tx_batch(encoded: list[bytes]) -> bytes:
    """Canonical msgpack array of transactions' wire bytes (``Transaction.encode()``), each a bin
    item, without re-encoding them: ``codec.decode`` of the result gives the list of wire bytes
    (``codec.encode(encoded)`` would give the same bytes, slower)."""
    return _array_header(len(encoded)) + b"".join(_bin_header(len(e)) + e for e in encoded)


class TxGossip:
    """Batches new transactions into one gossip frame.

    ``broadcast(kind, payload)`` (normally ``Transport.broadcast``) receives a canonical msgpack
    array of transactions' wire bytes (``Transaction.encode()``, decision 25). A frame leaves
    ``delay`` seconds after the first transaction of a batch, or at once when ``max_txs``
    transactions or ``max_bytes`` bytes have accumulated. Receivers decode it with
    ``codec.decode`` and each transaction with ``Transaction.decode``, unless ``wire_id`` shows
    they hold it already. ``delay`` may change at any time: the node raises it while its
    mempool is busy (decision 33), since every frame costs each peer a wake-up, a TLS record
    and a MAC check whatever it carries.
    """

    def __init__(self, broadcast: Callable[[str, bytes], None], kind: str = "txs", *,
                 delay: float = 0.005, max_txs: int = 200, max_bytes: int = 1024 * 1024) -> None:
        self._broadcast = broadcast
        self.kind = kind
        self.delay = delay
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._buf: list[bytes] = []
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self.stats: dict[str, int] = {"gossip_frames_out": 0, "gossip_txs_out": 0}

    def add(self, tx: Transaction, data: bytes | None = None) -> None:
        """Queue ``tx`` for the next gossip frame (call from the event loop); ``data``: its
        ``encode()``, when the caller has it already."""
        if data is None:
            data = tx.encode()
        if self._buf and self._bytes + len(data) > self.max_bytes:
            self.flush()
        self._buf.append(data)
        self._bytes += len(data)
        if len(self._buf) >= self.max_txs or self._bytes >= self.max_bytes:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)

    def flush(self) -> None:
        """Send what has accumulated now (also called by the timer)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buf:
            return
        payload = encode_tx_batch(self._buf)
        self.stats["gossip_frames_out"] += 1
        self.stats["gossip_txs_out"] += len(self._buf)
        self._buf = []
        self._bytes = 0
        self._broadcast(self.kind, payload)

    def close(self) -> None:
        """Cancel the timer and drop what has not been sent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buf = []
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._buf)
