"""The one toy ledger behind simulated replicas: an :class:`~chainfin.consensus.driver.App`
with no contracts and no storage.

Transactions are signed :class:`~chainfin.types.Transaction` objects; the state root is a
SHA-256 chain over (parent root, tx ids); the tx root is the RFC 6962 Merkle root of the tx ids.
A proposal is refused for a bad tx signature, a replayed tx, a wrong root, a timestamp below the
parent's or more than ``max_skew_ms`` ahead of the clock (TRAPS #13), or validator-set hashes that
do not follow. A governance ``add_validator`` transaction changes the set from the next height.
Every answer is given at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainfin import codec, merkle
from chainfin.consensus.api import (
    BlockBuilt,
    BlockExecuted,
    BuildBlock,
    Event,
    Synced,
    TxsPending,
    ValidatorSetChanged,
)
from chainfin.types import Block, BlockHeader, CommitCertificate, Transaction, ValidatorSet

__all__ = ["SimClock", "ToyApp", "state_root", "tx_root"]


class SimClock:
    """Virtual time in integer microseconds; engines see milliseconds. Only the driver of a
    simulation moves it."""

    __slots__ = ("now_us",)

    def __init__(self, now_us: int = 0) -> None:
        self.now_us = now_us

    @property
    def now_ms(self) -> int:
        return self.now_us // 1000

    def advance_ms(self, ms: int) -> int:
        self.now_us += ms * 1000
        return self.now_us // 1000


def state_root(parent_root: bytes, txs: Iterable[Transaction]) -> bytes:
    h = hashlib.sha256(parent_root)
    for t in txs:
        h.update(t.tx_id)
    return h.digest()


def tx_root(txs: Iterable[Transaction]) -> bytes:
    return merkle.root([t.tx_id for t in txs])


class _Spec:
    """One executed (speculative or committed) state."""

    __slots__ = ("height", "root", "ts", "txids", "parent", "next_set")

    def __init__(self, height: int, root: bytes, ts: int, txids: frozenset[bytes], parent: bytes,
                 next_set: ValidatorSet) -> None:
        self.height, self.root, self.ts, self.txids, self.parent = height, root, ts, txids, parent
        self.next_set = next_set


def _verify_tx(tx: Transaction) -> bool:
    try:
        tx.verify_signature()
    except Exception:
        return False
    return True


class ToyApp:
    """The deterministic toy ledger of one replica.

    ``clock`` is the replica's clock (the simulated one); ``tx_valid`` and ``check_cert`` may
    be memoised by the caller; ``fetcher(app, from_height)`` serves ``FetchBlocks`` (answer now
    or later); ``on_commit(height, block_hash)`` watches commits (the simulator checks safety
    there). ``corrupt_blocks`` makes ``build`` propose invalid blocks in turn (a byzantine
    primary): a wrong state root, a forged tx signature, a timestamp an hour ahead."""

    def __init__(self, chain_id: str, genesis_hash: bytes, genesis_root: bytes,
                 genesis_set: ValidatorSet, proposer: bytes, clock: SimClock, *,
                 max_skew_ms: int = 2000,
                 tx_valid: Callable[[Transaction], bool] | None = None,
                 check_cert: Callable[[CommitCertificate, ValidatorSet], None] | None = None,
                 fetcher: Callable[[ToyApp, int], Sequence[Event]] | None = None,
                 on_commit: Callable[[int, bytes], None] | None = None,
                 keep_wal: bool = True, corrupt_blocks: bool = False) -> None:
        self.chain_id = chain_id
        self.proposer = proposer
        self.clock = clock
        self.max_skew_ms = max_skew_ms
        self.tx_valid = tx_valid or (lambda t: t.chain_id == chain_id and _verify_tx(t))
        self.check_cert = check_cert or (lambda c, vs: c.verify(vs, chain_id))
        self.fetcher = fetcher
        self.on_commit = on_commit
        self.keep_wal = keep_wal
        self.corrupt_blocks = corrupt_blocks
        self.height = 0
        self.hashes: list[bytes] = [genesis_hash]
        #: certified blocks by height; index 0 (genesis) holds None
        self.chain: list[tuple[Block, CommitCertificate] | None] = [None]
        self.sets: list[tuple[int, ValidatorSet]] = [(1, genesis_set)]
        self.specs: dict[bytes, _Spec] = {
            genesis_hash: _Spec(0, genesis_root, 0, frozenset(), b"", genesis_set)}
        self.mempool: dict[bytes, Transaction] = {}
        self.committed_txs: set[bytes] = set()
        self.commit_time: dict[bytes, int] = {}  # tx id -> clock.now_us at its first commit
        self.reject: set[bytes] = set()  # block hashes to refuse when proposed (tests)
        self.wal: dict[bytes, Any] = {}
        self.view_changes = 0
        self._corrupt = 0  # which corruption comes next

    # ------------------------------------------------------------------ reading

    def set_for(self, height: int) -> ValidatorSet:
        vs = self.sets[0][1]
        for start, s in self.sets:
            if start <= height:
                vs = s
        return vs

    def add(self, txs: Iterable[Transaction]) -> int:
        """Client transactions arrive; returns how many are pending."""
        for t in txs:
            self.mempool[t.tx_id] = t
        return len(self.mempool)

    def certified(self, height: int) -> tuple[Block, CommitCertificate]:
        entry = self.chain[height]
        assert entry is not None
        return entry

    def synced(self) -> Synced:
        """The ``Synced`` event for this app's tip."""
        last = self.chain[-1]
        return Synced(self.height, self.hashes[-1], self.set_for(self.height + 1),
                      last[1] if last is not None else None)

    def _in_flight(self, tip: bytes) -> set[bytes]:
        out: set[bytes] = set()
        committed = self.hashes[-1]
        h = tip
        while h != committed:
            sp = self.specs.get(h)
            if sp is None or sp.height <= self.height:
                break
            out |= sp.txids
            h = sp.parent
        return out

    def _next_set(self, vs: ValidatorSet, txs: tuple[Transaction, ...]) -> ValidatorSet:
        for t in txs:
            if t.contract == "governance" and t.method == "add_validator":
                key = bytes.fromhex(t.args["pubkey"])
                if key not in vs:
                    vs = ValidatorSet(vs.members + (key,))
        return vs

    # ------------------------------------------------------------------ App

    def build(self, req: BuildBlock) -> list[Event]:
        parent = self.specs.get(req.prev_hash)
        if parent is None or parent.height != req.height - 1:
            return [BlockExecuted(b"", False, "unknown parent")]
        busy = self._in_flight(req.prev_hash)
        txs: list[Transaction] = []
        for tx_id, tx in self.mempool.items():
            if len(txs) >= req.max_txs:
                break
            if tx_id not in busy:
                txs.append(tx)
        tt = tuple(txs)
        vs = self.set_for(req.height)
        nxt = self._next_set(vs, tt)
        root = state_root(parent.root, tt)
        ts = req.timestamp_ms
        if self.corrupt_blocks and tt:
            kind = self._corrupt % 3
            self._corrupt += 1
            if kind == 0:
                root = hashlib.sha256(b"wrong" + root).digest()
            elif kind == 1:
                bad = Transaction(self.chain_id, tt[0].sender, tt[0].nonce + 10**9,
                                  tt[0].contract, tt[0].method, tt[0].args, tt[0].signature)
                tt = (bad,) + tt[1:]
                root = state_root(parent.root, tt)
            else:
                ts += 3_600_000
        header = BlockHeader(self.chain_id, req.height, req.view, req.prev_hash, tx_root(tt),
                             root, vs.hash(), nxt.hash(), ts, self.proposer)
        block = Block(header, tt)
        self.specs[block.hash()] = _Spec(req.height, root, ts, frozenset(t.tx_id for t in tt),
                                         req.prev_hash, nxt)
        return [BlockBuilt(block)]

    def execute(self, block: Block) -> list[Event]:
        ok, why = self.check(block)
        return [BlockExecuted(block.hash(), ok, why)]

    def check(self, block: Block, certified: bool = False) -> tuple[bool, str]:
        """Execute ``block`` on top of its parent's state; ``certified`` blocks (state transfer)
        skip the clock bound and the test's ``reject`` list."""
        h = block.header
        d = block.hash()
        if d in self.specs:
            return True, ""
        if not certified and d in self.reject:
            return False, "rejected"
        parent = self.specs.get(h.prev_hash)
        if parent is None:
            return False, "unknown parent"
        if parent.height != h.height - 1:
            return False, "height does not follow the parent"
        if h.chain_id != self.chain_id:
            return False, "wrong chain"
        if h.tx_root != tx_root(block.txs):
            return False, "tx root mismatch"
        busy = self._in_flight(h.prev_hash)
        seen: set[bytes] = set()
        for t in block.txs:
            if not self.tx_valid(t):
                return False, "bad transaction signature"
            if t.tx_id in seen or t.tx_id in busy or t.tx_id in self.committed_txs:
                return False, "transaction replayed"
            seen.add(t.tx_id)
        if h.state_root != state_root(parent.root, block.txs):
            return False, "state root mismatch"
        if h.timestamp_ms < parent.ts:
            return False, "timestamp goes backwards"
        if not certified and h.timestamp_ms > self.clock.now_us // 1000 + self.max_skew_ms:
            return False, "timestamp too far ahead"
        vs = self.set_for(h.height)
        nxt = self._next_set(vs, block.txs)
        if h.validators_hash != vs.hash() or h.next_validators_hash != nxt.hash():
            return False, "validator set hash mismatch"
        self.specs[d] = _Spec(h.height, h.state_root, h.timestamp_ms,
                              frozenset(t.tx_id for t in block.txs), h.prev_hash, nxt)
        return True, ""

    def commit(self, block: Block, certificate: CommitCertificate) -> list[Event]:
        new_set = self.apply(block, certificate)
        out: list[Event] = []
        if new_set is not None:
            out.append(ValidatorSetChanged(block.height, new_set))
        out.append(TxsPending(len(self.mempool)))
        return out

    def apply(self, block: Block, cert: CommitCertificate) -> ValidatorSet | None:
        """Write a certified block on top of the tip; returns the new validator set if it
        changed the set."""
        h = block.height
        assert h == self.height + 1, f"commit {h} on top of {self.height}"
        d = block.hash()
        assert block.header.prev_hash == self.hashes[-1], "commit does not chain"
        assert cert.block_hash == d and cert.height == h
        self.check_cert(cert, self.set_for(h))
        sp = self.specs[d]
        self.height = h
        self.hashes.append(d)
        self.chain.append((block, cert))
        now = self.clock.now_us
        for t in block.txs:
            self.committed_txs.add(t.tx_id)
            self.mempool.pop(t.tx_id, None)
            self.commit_time.setdefault(t.tx_id, now)
        if self.on_commit is not None:
            self.on_commit(h, d)
        # speculative states at or below the committed height are dead now
        if len(self.specs) > 64:
            self.specs = {k: v for k, v in self.specs.items() if v.height >= h or k == d}
        old = self.set_for(h)
        if sp.next_set != old:
            self.sets.append((h + 1, sp.next_set))
            return sp.next_set
        return None

    def discard(self, height: int) -> None:
        committed = set(self.hashes[-2:])
        self.specs = {k: v for k, v in self.specs.items() if v.height <= height or k in committed}

    def fetch(self, from_height: int, hint_peers: tuple[bytes, ...]) -> Sequence[Event]:
        return self.fetcher(self, from_height) if self.fetcher is not None else ()

    def persist(self, key: bytes, record: Any) -> None:
        if self.keep_wal:  # a copy through the codec, as a restart would read it back
            self.wal[key] = codec.decode(codec.encode(record))

    def prune(self, below_key: bytes) -> None:
        if self.keep_wal:
            for k in [k for k in self.wal if k < below_key]:
                del self.wal[k]

    def view_changed(self, view: int, primary: bytes) -> None:
        self.view_changes += 1
