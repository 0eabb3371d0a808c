"""The execution layer: applies a block's transactions through the contract registry to a state.

Pure and deterministic: no clock (the block timestamp comes in :class:`BlockContext`), no
randomness, no I/O, no iteration over unordered sets (TRAPS #14). The node and the simulator call
:func:`execute_block` once per proposal; the mempool/REST admission calls :func:`check_tx_static`.

State model
-----------
Key/value per contract. A value is anything :mod:`chainfin.codec` encodes (dict/list/int/str/
bytes/bool/None). The storage key of ``(contract, key)`` is ``f"{contract}/{key}".encode()`` and
its stored bytes are ``codec.encode(value)``.

- :class:`RawState` is the base protocol (``get_raw(key) -> bytes | None``): the node implements it
  over LevelDB, :class:`DictState` over a dict (tests, genesis).
- :class:`Overlay` is a copy-on-write layer over a RawState (or another Overlay). It offers the
  typed :class:`StateView` API (``get``/``put``/``delete``), records writes as encoded bytes
  (``changes()``), and caches decoded values so hot keys (the sender's identity, a currency) are
  decoded once per block. One Overlay per block, stacked on the parent block's overlay for
  speculative execution; one per transaction on top of it, so a rejected transaction leaves
  nothing behind but its receipt.

Values returned by :meth:`Overlay.get` are private copies: a contract may mutate them and
``put`` them back; mutating without ``put`` changes nothing. :meth:`Overlay.peek` returns the
**shared** decoded value without the copy, for reads only (see :meth:`StateView.peek`; the
read-only access rule is docs/decisions.md #74).

Replay protection
-----------------
Each transaction's (sender, nonce) pair may be used once. How a chain records the pairs used is
fixed by its genesis (``params.ledger_format``, decision 95):

- format 1: each transaction's receipt is stored in the state at ``_tx/<sender hex>/<nonce>`` =
  ``{"tx_id", "status", "error"}`` (receipts provable against the state root);
- format 2: a *nonce word* per sender and 256 nonces, ``_nonce/<sender hex>/<nonce >> 8>`` = 32
  bytes, bit ``nonce & 255`` (byte ``bit >> 3``, mask ``1 << (bit & 7)``) set once the pair is
  used; the receipts are certified by the header's ``receipts_root`` (:func:`receipts_root`)
  instead of the state.

A transaction reusing a pair is rejected with ``nonce_reused`` and writes nothing. Every other
transaction of a block, committed or rejected, marks its pair used.

Format 3 (decision 128) is format 2 with **salted leaves** in the header's two trees: a
transaction's leaf is :func:`chainfin.types.tx_leaf` (the SHA-256 of its signed envelope, not
its id), and a receipt's leaf data is that leaf followed by the receipt's encoding
(:func:`receipt_leaf`). A proof's neighbouring hashes then commit to a signature its reader
does not hold, so they cannot be opened by guessing a payment's fields, and a transaction's
proof can go to its sender.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from chainfin import codec, merkle
from chainfin.errors import CodecError, ConfigError, ContractError, InvalidTransaction
from chainfin.exec_args import (
    MAX_AMOUNT,
    Parser,
    bic_key,
    p_amount,
    p_any,
    p_currency,
    p_dict,
    p_hex,
    p_id,
    p_int,
    p_list,
    p_pubkey,
    p_text,
    p_time_ms,
)
from chainfin.genesis import ROLES, Genesis
from chainfin.types import Transaction

__all__ = [
    "RawState",
    "StateView",
    "ContractState",
    "DictState",
    "Overlay",
    "storage_key",
    "BlockContext",
    "TxContext",
    "Event",
    "Receipt",
    "BlockResult",
    "Method",
    "Contract",
    "execute_block",
    "execute_tx",
    "check_tx_static",
    "resolve_sender",
    "genesis_state",
    "overlay_consistent",
    "shared_values_consistent",
    "receipt_key",
    "nonce_word_key",
    "nonce_used",
    "replay_rule",
    "receipt_leaf",
    "receipts_root",
    "header_receipts_root",
    "word_nonces",
    "LEDGER_FORMAT_KEY",
    "read_value",
    "current_validators",
    "MAX_AMOUNT",
    "bic_key",
    "EXECUTION_CODES",
    # argument parsers for contract method declarations
    "p_pubkey",
    "p_amount",
    "p_currency",
    "p_text",
    "p_hex",
    "p_id",
    "p_time_ms",
    "p_int",
    "p_dict",
    "p_list",
    "p_any",
]

#: Error codes produced by the execution layer itself (contracts add their own).
EXECUTION_CODES = (
    "nonce_reused",
    "wrong_chain",
    "unknown_sender",
    "unknown_contract",
    "unknown_method",
    "forbidden",
    "account_frozen",
    "identity_revoked",
    "key_rotated",
    "missing_field",
    "bad_field",
    "unknown_field",
    "internal_error",
)

RECEIPT_CONTRACT = "_tx"
NONCE_CONTRACT = "_nonce"  # format 2: nonce words (decision 95)
NONCE_WORD_BYTES = 32  # 256 nonces per word
_WORD_HEAD = b"\xc4\x20"  # msgpack bin 8 of 32 bytes: how a nonce word is stored
#: ``governance/ledger_format``: written by an applied ``upgrade_ledger_format`` proposal; a
#: chain whose genesis is of format 1 runs format 2 from the block after (decision 95)
LEDGER_FORMAT_KEY = "ledger_format"
IDENTITY_CONTRACT = "governance"  # where identities live: governance/id/<hex>

_MISSING: Any = object()

#: Decoded state values by their encoded bytes, shared by every block of this process: a value
#: a block wrote, or one an earlier block read, is not decoded again when a later block reads
#: the same bytes (the sender's identity, its balance and risk records, a currency). Decoding
#: is a pure function of the bytes, so hits and misses give equal values; like every value an
#: Overlay caches, these are shared and never mutated (:meth:`StateView.peek`). Emptied when
#: full (cheap; hot values come back at once).
SHARED_VALUES_LIMIT = 32_768
_shared_values: dict[bytes, Any] = {}


def _decode_shared(raw: bytes) -> Any:
    """``codec.decode(raw)``, from :data:`_shared_values` when these bytes were seen before
    (only ``bytes`` are kept: a bytearray or memoryview is not hashable, or not stable)."""
    if type(raw) is not bytes:
        return codec.decode(raw)
    v = _shared_values.get(raw, _MISSING)
    if v is _MISSING:
        v = codec.decode(raw)
        _remember(raw, v)
    return v


def _remember(raw: bytes, value: Any) -> None:
    """Keep ``value`` (equal to ``codec.decode(raw)``, maps in key order) for later reads."""
    if len(_shared_values) >= SHARED_VALUES_LIMIT:
        _shared_values.clear()
    _shared_values[raw] = value


def _share_written(block: Overlay) -> None:
    """Keep every value ``block`` wrote in :data:`_shared_values`: the next block that reads
    one of them gets these very bytes back from the state (canonical values, maps in key
    order, exactly what decoding them gives)."""
    writes, vals, shared = block._writes, block._vals, _shared_values
    if len(writes) > SHARED_VALUES_LIMIT:
        return
    if len(shared) + len(writes) > SHARED_VALUES_LIMIT:
        shared.clear()
    for k, b in writes.items():
        if b is not None:
            shared[b] = vals[k]


def overlay_consistent(overlay: Overlay) -> bool:
    """Every value ``overlay`` holds decoded (read or written) still equals a fresh decode of
    its bytes, maps in the same key order: the promise of :meth:`StateView.peek` kept for the
    block. Tests check it after every block (``contracts.testing.Ledger``): a broken promise
    would now outlive its block in :data:`_shared_values`."""
    return all(_same(None if (raw := overlay.get_raw(k)) is None else codec.decode(raw), v)
               for k, v in overlay._vals.items())


def shared_values_consistent() -> bool:
    """Every shared value still equals a fresh decode of its bytes, maps in the same key order
    (tests: a contract that mutated a value it only may read would break this)."""
    return all(_same(codec.decode(raw), v) for raw, v in list(_shared_values.items()))


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def storage_key(contract: str, key: str) -> bytes:
    """The bytes under which ``(contract, key)`` is stored."""
    return f"{contract}/{key}".encode()


def receipt_key(sender: bytes, nonce: int) -> bytes:
    """Storage key of a transaction's receipt (ledger format 1): ``_tx/<sender hex>/<nonce>``."""
    return f"{RECEIPT_CONTRACT}/{sender.hex()}/{nonce}".encode()


def nonce_word_key(sender: bytes, nonce: int) -> bytes:
    """Storage key of the nonce word holding ``nonce`` (ledger format 2):
    ``_nonce/<sender hex>/<nonce >> 8>``."""
    return f"{NONCE_CONTRACT}/{sender.hex()}/{nonce >> 8}".encode()


def _word_of(raw: bytes) -> bytes:
    """The 32 bytes of a stored nonce word (msgpack bin 8: ``c4 20`` + the word)."""
    if len(raw) == NONCE_WORD_BYTES + 2 and raw[:2] == _WORD_HEAD:
        return raw[2:]
    word = codec.decode(raw)
    if type(word) is not bytes or len(word) != NONCE_WORD_BYTES:
        raise CodecError("a nonce word must be 32 bytes")
    return word


def nonce_used(state: RawState, sender: bytes, nonce: int, nonce_words: bool,
               legacy_receipts: bool = False) -> bool:
    """Whether ``(sender, nonce)`` was used in ``state`` (by the chain's format; with
    ``legacy_receipts``, a chain upgraded to format 2 by governance, the receipts of the blocks
    before the upgrade count too)."""
    if not nonce_words:
        return state.get_raw(receipt_key(sender, nonce)) is not None
    raw = state.get_raw(nonce_word_key(sender, nonce))
    bit = nonce & 255
    if raw is not None and _word_of(raw)[bit >> 3] & (1 << (bit & 7)):
        return True
    return legacy_receipts and state.get_raw(receipt_key(sender, nonce)) is not None


def word_nonces(word: int, raw: bytes) -> list[int]:
    """The nonces the stored nonce word number ``word`` marks used, ascending."""
    base = word << 8
    return [base + i * 8 + b for i, byte in enumerate(_word_of(raw)) if byte
            for b in range(8) if byte >> b & 1]


def replay_rule(ledger_format: int, parent: RawState) -> tuple[bool, bool]:
    """``(nonce_words, legacy_receipts)`` for a block executed on ``parent`` in a chain whose
    genesis is of ``ledger_format``: format 2 from genesis; or format 1 until a governance
    ``upgrade_ledger_format`` is applied (``governance/ledger_format`` in the state), then format
    2 from the block after, the receipts of the blocks before still counting (decision 95)."""
    if ledger_format >= 2:
        return True, False
    if parent.get_raw(storage_key(IDENTITY_CONTRACT, LEDGER_FORMAT_KEY)) is not None:
        return True, True
    return False, False


def _mark_used(block: Overlay, tx: Transaction, receipt: Receipt, nonce_words: bool) -> None:
    """Record ``tx``'s (sender, nonce) as used in the block's overlay: its receipt at
    ``_tx/...`` (format 1) or its bit in the nonce word (format 2)."""
    if not nonce_words:
        # keys in canonical (sorted) order: the value cached is the one decoding gives
        rec = {"error": receipt.error_code, "status": receipt.status, "tx_id": tx.tx_id}
        rkey = receipt_key(tx.sender, tx.nonce)
        block._writes[rkey] = codec.encode(rec)
        block._vals[rkey] = rec
        return
    key = nonce_word_key(tx.sender, tx.nonce)
    raw = block.get_raw(key)
    word = bytearray(NONCE_WORD_BYTES) if raw is None else bytearray(_word_of(raw))
    bit = tx.nonce & 255
    word[bit >> 3] |= 1 << (bit & 7)
    value = bytes(word)
    block._writes[key] = _WORD_HEAD + value  # codec.encode(value)
    block._vals[key] = value


def receipt_leaf(receipt_json: Mapping[str, Any], salt: bytes = b"") -> bytes:
    """The leaf data of a receipt in its block's receipts tree: the canonical encoding of the
    receipt's JSON form (:meth:`Receipt.to_json`, as the block record and the REST API carry
    it), so an auditor recomputes it from the JSON alone; in ledger format 3 after ``salt``,
    its transaction's :func:`chainfin.types.tx_leaf` (decision 128)."""
    return salt + codec.encode(receipt_json)


def receipts_root(receipts_json: Sequence[Mapping[str, Any]],
                  salts: Sequence[bytes] | None = None) -> bytes:
    """RFC 6962 root over a block's receipt leaves, in transaction order (ledger format 2's
    header ``receipts_root``; its size is the header's ``tx_count``); ``salts``: format 3's
    transaction leaves, one per receipt."""
    if salts is None:
        return merkle.root([receipt_leaf(r) for r in receipts_json])
    return merkle.root([receipt_leaf(r, s) for r, s in zip(receipts_json, salts, strict=True)])


def header_receipts_root(result: BlockResult, salts: Sequence[bytes] | None = None
                         ) -> bytes | None:
    """The ``receipts_root`` of an executed block's header: the root of its receipts in ledger
    format 2 (and 3, with ``salts``), None (no such field) in format 1."""
    return None if result.receipts_json is None else receipts_root(result.receipts_json, salts)


def _clone(v: Any) -> Any:
    """A private copy of a decoded value (scalars are immutable and shared). Only nested maps
    and lists cost a call: most values are flat maps of scalars."""
    t = type(v)
    if t is dict:
        out = {}
        for k, x in v.items():
            tx = type(x)
            out[k] = _clone(x) if tx is dict or tx is list else x
        return out
    if t is list:
        return [_clone(x) if type(x) is dict or type(x) is list else x for x in v]
    return v


# ============================================================================ state


@runtime_checkable
class RawState(Protocol):
    """Encoded state: the node implements this over LevelDB (``store.state_db_key``)."""

    def get_raw(self, key: bytes) -> bytes | None: ...


class StateView(Protocol):
    """Typed state access, what contracts see."""

    def get(self, contract: str, key: str) -> Any | None: ...

    def peek(self, contract: str, key: str) -> Any | None:
        """The value at (contract, key) **for reading only**, or None.

        Unlike :meth:`get`, no private copy is made: the value may be shared with the state's
        cache (and with every later ``peek`` of the same key in the block). The caller promises
        never to mutate it, nor anything inside it, nor to hand it to code that might (``put`` it
        back changed, return it from a method that may mutate). Type the result as
        ``Mapping``/``Sequence`` so mypy enforces the promise. Use :meth:`get` whenever the
        value, or a part of it, may be changed and written back.
        """
        ...

    def put(self, contract: str, key: str, value: Any) -> None: ...

    def delete(self, contract: str, key: str) -> None: ...


#: What a contract method receives as its state (a per-transaction :class:`Overlay`).
ContractState = StateView


class DictState:
    """In-memory state: a dict of storage key -> encoded value. For tests, genesis and tools."""

    __slots__ = ("data",)

    def __init__(self, data: Mapping[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = dict(data or {})

    def get_raw(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def get(self, contract: str, key: str) -> Any | None:
        raw = self.data.get(storage_key(contract, key))
        return None if raw is None else codec.decode(raw)

    def peek(self, contract: str, key: str) -> Any | None:
        """:meth:`StateView.peek`: read only (here a fresh decode, as :meth:`get`)."""
        return self.get(contract, key)

    def put(self, contract: str, key: str, value: Any) -> None:
        self.data[storage_key(contract, key)] = codec.encode(value)

    def delete(self, contract: str, key: str) -> None:
        self.data.pop(storage_key(contract, key), None)

    def apply(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Write a change set (``None`` deletes), e.g. a committed block's ``changes``."""
        for k, v in changes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v

    def items_with_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Sorted (key, encoded value) pairs under ``prefix`` (tests and invariant checks)."""
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))


class Overlay:
    """Copy-on-write layer over ``parent`` (a RawState or another Overlay).

    Cheap to create (three slots). Reads fall through to the parent; writes and deletes stay here
    until :meth:`commit_into` copies them into the parent overlay (or the node writes
    :meth:`changes` to its database). Not thread-safe.
    """

    __slots__ = ("parent", "_writes", "_vals")

    def __init__(self, parent: RawState) -> None:
        self.parent = parent
        #: storage key -> encoded value, or None for a delete
        self._writes: dict[bytes, bytes | None] = {}
        #: storage key -> decoded value: for every key in _writes (None when deleted), and read
        #: cache for keys read from a non-overlay parent
        self._vals: dict[bytes, Any] = {}

    # -- raw
    def get_raw(self, key: bytes) -> bytes | None:
        w = self._writes
        if key in w:
            return w[key]
        return self.parent.get_raw(key)

    def _value(self, key: bytes) -> Any:
        """Decoded value (shared, never mutate) or None: this layer's write, else the nearest
        overlay below that wrote it, else the lowest overlay's read cache (filled from its
        non-overlay parent)."""
        o = self
        while True:
            if key in o._writes:
                return o._vals[key]
            parent = o.parent
            if type(parent) is not Overlay:
                break
            o = parent
        vals = o._vals
        v = vals.get(key, _MISSING)
        if v is _MISSING:
            raw = parent.get_raw(key)
            v = None if raw is None else _decode_shared(raw)
            vals[key] = v
        return v

    # -- typed (StateView)
    def get(self, contract: str, key: str) -> Any | None:
        """A private copy of the value at (contract, key), or None."""
        return _clone(self._value(f"{contract}/{key}".encode()))

    def peek(self, contract: str, key: str) -> Any | None:
        """The **shared** decoded value at (contract, key), or None: read it, never mutate it
        (:meth:`StateView.peek`). It is the overlay's cached value, which later reads of the
        key in this block (and commits into parent overlays) share."""
        return self._value(f"{contract}/{key}".encode())

    def put(self, contract: str, key: str, value: Any) -> None:
        """Store ``value``.

        Raises:
            CodecError: the value is not canonical-encodable (a float, a set, ...).
        """
        k = f"{contract}/{key}".encode()
        # the canonical form is a fresh structure equal to what decoding the bytes gives, so it
        # doubles as the cached value (no second copy of ``value``)
        self._writes[k], self._vals[k] = codec.encode_with_value(value)

    def delete(self, contract: str, key: str) -> None:
        k = f"{contract}/{key}".encode()
        self._writes[k] = None
        self._vals[k] = None

    # -- layering
    def changes(self) -> dict[bytes, bytes | None]:
        """This layer's writes (encoded), deletes as None, relative to its parent."""
        return dict(self._writes)

    def commit_into(self, parent: Overlay) -> None:
        """Copy this layer's writes into ``parent`` (normally ``self.parent``) and clear them."""
        writes, mv = self._writes, self._vals
        parent._writes.update(writes)
        if len(mv) == len(writes):  # no read cache here (a layer over an overlay): the values
            parent._vals.update(mv)  # are exactly those of the writes
        else:
            pv = parent._vals
            for k in writes:
                pv[k] = mv[k]
        self.discard()

    def discard(self) -> None:
        """Forget this layer's writes and cache."""
        self._writes = {}
        self._vals = {}

    def rebase(self, parent: RawState) -> None:
        """Point this overlay at a new parent holding the same data as the old one (e.g. the
        database after the parent block was committed), so overlay chains stay short. Drops the
        read cache (kept: this layer's own writes)."""
        self.parent = parent
        self._vals = {k: self._vals[k] for k in self._writes}

    def __len__(self) -> int:
        return len(self._writes)


# ============================================================================ contexts, results


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What a block gives its transactions: chain, height, the primary's block time (TRAPS #13),
    proposer, and the consortium HMAC key for document fingerprints (the genesis's, or the key
    file's it commits to; never in state).
    """

    chain_id: str
    height: int
    timestamp_ms: int
    proposer: bytes = b""
    fingerprint_key: bytes = field(default=b"", repr=False)  # a secret: kept out of logs
    nonce_words: bool = False  # ledger format 2 (decision 95): replay protection by nonce words
    legacy_receipts: bool = False  # format 2 by a governance upgrade: older receipts count too

    @classmethod
    def from_genesis(
        cls, genesis: Genesis, height: int, timestamp_ms: int, proposer: bytes = b"",
        parent: RawState | None = None,
    ) -> BlockContext:
        """The context of block ``height``; with ``parent`` (the state it executes on) its
        replay rule follows a governance upgrade too (:func:`replay_rule`), without it only the
        genesis's ledger format.

        Raises:
            ConfigError: the genesis commits to a fingerprint key that was not loaded with it
                (:func:`chainfin.genesis.load_keyed_genesis`).
        """
        fmt = genesis.params.ledger_format
        words, legacy = (fmt >= 2, False) if parent is None else replay_rule(fmt, parent)
        return cls(genesis.chain_id, height, timestamp_ms, proposer,
                   genesis.fingerprint_key_bytes(), words, legacy)


@dataclass(frozen=True, slots=True)
class Event:
    """A contract event. ``data`` is canonical-encodable and never holds private content."""

    tx_id: bytes
    contract: str
    name: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"tx_id": self.tx_id.hex(), "contract": self.contract, "name": self.name,
                "data": self.data}


class TxContext:
    """What a method sees of its transaction and block. ``emit`` records an event.

    ``sender_hex`` is the sender's **identity id**: the public key the identity was registered
    with, which stays its id (and the holder of its balances, documents and consents) after
    ``governance.rotate_key``; ``key_hex`` is the key that signed this transaction.
    """

    __slots__ = ("block", "tx", "tx_id", "tx_hex", "sender", "sender_hex", "key_hex", "identity",
                 "contract", "events", "kept_events", "kept_writes", "on_refusal")

    def __init__(self, block: BlockContext, tx: Transaction, identity: Mapping[str, Any],
                 contract: str, identity_id: str | None = None) -> None:
        self.block = block
        self.tx = tx
        self.tx_id: bytes = tx.tx_id
        self.tx_hex: str = tx.tx_id.hex()
        self.key_hex: str = tx.sender.hex()
        self.sender_hex: str = identity_id or self.key_hex
        self.sender: bytes = bytes.fromhex(self.sender_hex)
        #: the sender's governance record (name, role, admin, bank): shared, read only
        self.identity = identity
        self.contract = contract
        self.events: list[Event] = []
        #: what stays recorded even when the transaction is refused (see :meth:`keep`)
        self.kept_events: list[Event] = []
        self.kept_writes: list[tuple[str, str, Any]] = []
        #: called if the transaction is refused (see :meth:`keep_if_refused`)
        self.on_refusal: list[Callable[[], None]] = []

    @property
    def timestamp_ms(self) -> int:
        return self.block.timestamp_ms

    @property
    def height(self) -> int:
        return self.block.height

    @property
    def chain_id(self) -> str:
        return self.block.chain_id

    @property
    def fingerprint_key(self) -> bytes:
        return self.block.fingerprint_key

    @property
    def role(self) -> str:
        return str(self.identity.get("role", ""))

    def emit(self, name: str, data: Mapping[str, Any], contract: str | None = None) -> None:
        """Record an event (``contract`` defaults to the called one; a cross-contract effect,
        e.g. a settlement payment made by trade_documents, names its own contract).

        Raises:
            CodecError: ``data`` is not canonical-encodable.
        """
        d = dict(data)
        codec.encode(d)  # refuse floats etc. inside the tx, not when the block is stored
        self.events.append(Event(self.tx_id, contract or self.contract, name, d))

    def keep(self, event: tuple[str, Mapping[str, Any], str] | None = None,
             writes: Iterable[tuple[str, str, Any]] = ()) -> None:
        """Record ``event`` ``(name, data, contract)`` and ``writes`` ``(contract, key, value)``
        so that they stand **whether or not the transaction commits**: a rule that refuses a
        transaction still leaves its alert and what the rule itself counts. Kept writes are
        applied after the transaction's own (a refused transaction's own are discarded).

        Raises:
            CodecError: the event data or a value is not canonical-encodable.
        """
        if event is not None:
            name, data, contract = event
            d = dict(data)
            codec.encode(d)
            self.kept_events.append(Event(self.tx_id, contract, name, d))
        for c, k, v in writes:
            codec.encode(v)
            self.kept_writes.append((c, k, v))

    def keep_if_refused(self, record: Callable[[], None]) -> None:
        """Call ``record`` only if the transaction is refused (a ``ContractError``), after its
        own writes are discarded and before its kept writes are applied: it records with
        :meth:`keep` what the transaction's own writes recorded had it committed — a monitoring
        alert raised before the refusal, which must not be lost with it (decision 205). Kept
        after the refusing rule's: the refusing rule's alert is numbered as if it were alone."""
        self.on_refusal.append(record)

    def derive_id(self, index: int = 0) -> str:
        """An id derived from this tx: the tx id's hex for index 0, else hash(tx_id, index)."""
        if index == 0:
            return self.tx_hex
        return hashlib.sha256(self.tx_id + index.to_bytes(4, "big")).hexdigest()


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_id: bytes
    sender: bytes
    nonce: int
    index: int
    status: str  # "committed" | "rejected"
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "committed"

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id.hex(),
            "sender": self.sender.hex(),
            "nonce": self.nonce,
            "index": self.index,
            "status": self.status,
            "error": None if self.error_code is None
            else {"code": self.error_code, "message": self.error_message},
            "result": self.result,
            "events": [e.to_json() for e in self.events],
        }


@dataclass(slots=True)
class BlockResult:
    """The outcome of executing one block.

    ``changes`` holds every state write of the block (the used nonces included), encoded, deletes as
    None: exactly what goes into the SMT / LevelDB at commit. ``overlay`` is the block's overlay,
    to stack the next speculative block on (``execute_block(result.overlay, ...)``).
    ``validator_set_change`` is the new sorted validator set when governance changed it in this
    block (in force from the next block), else None. ``receipts_json``: in a block of ledger
    format 2, the receipts' JSON forms (its header's ``receipts_root`` is over them:
    :func:`header_receipts_root`; the block record holds them); None in format 1.
    """

    changes: dict[bytes, bytes | None]
    receipts: list[Receipt]
    events: list[Event]
    validator_set_change: tuple[bytes, ...] | None
    overlay: Overlay
    receipts_json: list[dict[str, Any]] | None = None


# ============================================================================ contracts


MethodFn = Callable[[Any, TxContext, dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Method:
    """One contract method: a pure function, the roles that may call it (None: any registered
    identity), and its argument parsers (required ``params`` and ``optional`` ones)."""

    name: str
    fn: MethodFn
    roles: frozenset[str] | None
    params: Mapping[str, Parser]
    optional: Mapping[str, Parser]
    #: callable by an identity that is frozen (``governance.rotate_key``: containing a
    #: compromised key must stay possible while everything else it signs is refused)
    while_frozen: bool = False

    def parse_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise ``args``.

        Raises:
            ContractError: ``missing_field``, ``unknown_field`` or ``bad_field``.
        """
        out: dict[str, Any] = {}
        for name, parse in self.params.items():
            if name not in args or args[name] is None:
                raise ContractError(f"{self.name}: missing argument {name!r}", "missing_field")
            out[name] = parse(args[name], name)
        for name, parse in self.optional.items():
            v = args.get(name)
            if v is not None:
                out[name] = parse(v, name)
        if len(args) > len(out):
            for name in sorted(args):
                if name not in self.params and name not in self.optional:
                    raise ContractError(f"{self.name}: unknown argument {name!r}", "unknown_field")
        return out

    def allows(self, role: str) -> bool:
        return self.roles is None or role in self.roles


class Contract:
    """A named set of methods. Declare methods with the :meth:`method` decorator."""

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.doc = doc
        self.methods: dict[str, Method] = {}

    def method(
        self,
        *,
        roles: Iterable[str] | None,
        params: Mapping[str, Parser] | None = None,
        optional: Mapping[str, Parser] | None = None,
        name: str | None = None,
        while_frozen: bool = False,
    ) -> Callable[[MethodFn], MethodFn]:
        role_set = None if roles is None else frozenset(roles)
        if role_set is not None:
            unknown = role_set - set(ROLES)
            assert not unknown, f"unknown roles {sorted(unknown)}"

        def deco(fn: MethodFn) -> MethodFn:
            mname = name or fn.__name__
            assert mname not in self.methods, f"{self.name}.{mname} declared twice"
            self.methods[mname] = Method(mname, fn, role_set, dict(params or {}),
                                         dict(optional or {}), while_frozen)
            return fn

        return deco

    def __repr__(self) -> str:
        return f"Contract({self.name!r}, methods={sorted(self.methods)})"


# ============================================================================ execution


def _reject(tx: Transaction, index: int, code: str, message: str) -> Receipt:
    return Receipt(tx.tx_id, tx.sender, tx.nonce, index, "rejected", code, message)


def resolve_sender(state: StateView, key_hex: str) -> tuple[str, Mapping[str, Any]] | None:
    """``(identity id, record)`` of the identity whose **current** key is ``key_hex``, else
    None. An identity keeps the id it was registered with; ``governance/key/<key>`` maps every
    later key to it, and the record's ``key`` names the current one (absent: the id itself).
    The record is shared (:meth:`StateView.peek`): read only."""
    identity = state.peek(IDENTITY_CONTRACT, "id/" + key_hex)
    ident_id = key_hex
    if identity is None:
        owner = state.peek(IDENTITY_CONTRACT, "key/" + key_hex)
        if owner is None:
            return None
        ident_id, identity = owner, state.peek(IDENTITY_CONTRACT, "id/" + owner)
        if identity is None:
            return None
    return ident_id, identity


def _admit(
    state: Overlay, tx: Transaction, registry: Mapping[str, Contract], chain_id: str | None
) -> tuple[Method, str, Mapping[str, Any], dict[str, Any]]:
    """The checks shared by execution and admission; returns (method, identity id, identity,
    parsed args). This is the one place every transaction passes, so the sender's standing
    (frozen, revoked, a replaced key) is checked here for every contract.

    Raises:
        InvalidTransaction / ContractError: with the code of the first failed check.
    """
    if chain_id is not None and tx.chain_id != chain_id:
        raise InvalidTransaction(f"transaction is for chain {tx.chain_id!r}", "wrong_chain")
    key_hex = tx.sender.hex()
    found = resolve_sender(state, key_hex)
    if found is None:
        raise InvalidTransaction("sender is not a registered identity", "unknown_sender")
    ident_id, identity = found
    contract = registry.get(tx.contract)
    if contract is None:
        raise InvalidTransaction(f"no contract {tx.contract!r}", "unknown_contract")
    method = contract.methods.get(tx.method)
    if method is None:
        raise InvalidTransaction(f"contract {tx.contract} has no method {tx.method!r}",
                                 "unknown_method")
    _check_standing(identity, key_hex, ident_id, method)
    if not method.allows(identity["role"]):
        raise InvalidTransaction(
            f"role {identity['role']!r} may not call {tx.contract}.{tx.method}", "forbidden")
    return method, ident_id, identity, method.parse_args(tx.args)


def _check_standing(identity: Mapping[str, Any], key_hex: str, ident_id: str, method: Method) -> None:
    """A replaced key signs nothing; a revoked identity signs nothing; a frozen identity signs
    only what may be called while frozen (rotate_key).

    Raises:
        InvalidTransaction: ``key_rotated``, ``identity_revoked`` or ``account_frozen``.
    """
    if identity.get("key", ident_id) != key_hex:
        raise InvalidTransaction("this key was replaced by rotate_key or by the home bank",
                                 "key_rotated")
    status = identity.get("status")
    if status == "revoked":
        raise InvalidTransaction("this identity is revoked", "identity_revoked")
    if status == "frozen" and not method.while_frozen:
        raise InvalidTransaction("this identity is frozen: only rotate_key is accepted",
                                 "account_frozen")


def _record_refused(txctx: TxContext) -> None:
    """Run a refused transaction's :meth:`TxContext.keep_if_refused` records, in order; one
    that fails (a contract bug, deterministic) keeps nothing of its own."""
    for record in txctx.on_refusal:
        n_events, n_writes = len(txctx.kept_events), len(txctx.kept_writes)
        try:
            record()
        except (MemoryError, RecursionError):
            raise
        except Exception:  # (ContractError, CodecError, a bug): nothing of this record kept
            del txctx.kept_events[n_events:]
            del txctx.kept_writes[n_writes:]


def execute_tx(
    block: Overlay, tx: Transaction, ctx: BlockContext, index: int,
    registry: Mapping[str, Contract],
) -> Receipt:
    """Execute one transaction into ``block`` (the block's overlay) and return its receipt.

    Its writes land in ``block`` only if it commits; its (sender, nonce) pair is marked used
    (:func:`_mark_used`) in every case but ``nonce_reused``. What the method kept with
    :meth:`TxContext.keep` (a rule's alert and counters) lands in either case, its events on the
    receipt.
    """
    if nonce_used(block, tx.sender, tx.nonce, ctx.nonce_words, ctx.legacy_receipts):
        return _reject(tx, index, "nonce_reused",
                       f"nonce {tx.nonce} of this sender was already used")
    try:
        method, ident_id, identity, args = _admit(block, tx, registry, ctx.chain_id)
    except InvalidTransaction as e:
        receipt = _reject(tx, index, e.code, str(e))
    else:
        txctx = TxContext(ctx, tx, identity, tx.contract, ident_id)
        layer = Overlay(block)
        try:
            result = method.fn(layer, txctx, args)
            if result is None:
                result = {}
            codec.encode(result)
        except ContractError as e:
            layer.discard()
            if txctx.on_refusal:
                _record_refused(txctx)
            receipt = _reject(tx, index, e.code, str(e))
            if e.events:
                receipt = Receipt(tx.tx_id, tx.sender, tx.nonce, index, "rejected", e.code,
                                  str(e), events=tuple(Event(tx.tx_id, tx.contract, n, dict(d))
                                                       for n, d in e.events))
        except (MemoryError, RecursionError):
            raise  # not deterministic across nodes: stop rather than diverge
        except (CodecError, Exception) as e:  # a contract bug; deterministic, so reject
            layer.discard()
            txctx.kept_events.clear()
            txctx.kept_writes.clear()
            receipt = _reject(tx, index, "internal_error",
                              f"{type(e).__name__} in {tx.contract}.{tx.method}")
        else:
            receipt = Receipt(tx.tx_id, tx.sender, tx.nonce, index, "committed", None, None,
                              result, tuple(txctx.events))
        for c, k, v in txctx.kept_writes:
            layer.put(c, k, v)
        layer.commit_into(block)
        if txctx.kept_events:
            receipt = replace(receipt, events=receipt.events + tuple(txctx.kept_events))
    _mark_used(block, tx, receipt, ctx.nonce_words)
    return receipt


def execute_block(
    state: RawState,
    txs: Sequence[Transaction],
    ctx: BlockContext,
    registry: Mapping[str, Contract],
) -> BlockResult:
    """Execute ``txs`` in order on a new overlay over ``state``.

    ``state`` is the committed state (the node's LevelDB view) or the overlay of the parent block
    (speculative execution). ``state`` itself is never modified.
    """
    block = Overlay(state)
    vkey = storage_key(IDENTITY_CONTRACT, "validators")
    before = block.get_raw(vkey)
    receipts: list[Receipt] = []
    events: list[Event] = []
    for i, tx in enumerate(txs):
        r = execute_tx(block, tx, ctx, i, registry)
        receipts.append(r)
        events.extend(r.events)
    _share_written(block)
    change: tuple[bytes, ...] | None = None
    after = block._writes.get(vkey, before)
    if after is not None and after != before:
        change = tuple(sorted(bytes.fromhex(h) for h in codec.decode(after)))
    receipts_json = [r.to_json() for r in receipts] if ctx.nonce_words else None
    return BlockResult(block.changes(), receipts, events, change, block, receipts_json)


def check_tx_static(
    tx: Transaction,
    state: RawState,
    *,
    registry: Mapping[str, Contract],
    chain_id: str | None = None,
    nonce_words: bool = False,
    legacy_receipts: bool = False,
) -> None:
    """Admission check for the mempool / REST (the signature is checked elsewhere).

    Checks against ``state``: chain (when given), registered sender with its current key and in
    good standing, contract and method, the sender's role, an unused (sender, nonce) pair and
    well-formed arguments. State-dependent rules inside methods (balances, ownership, limits...)
    are only checked at execution.

    Raises:
        InvalidTransaction: with ``code`` one of wrong_chain, unknown_sender, unknown_contract,
            unknown_method, key_rotated, identity_revoked, account_frozen, forbidden,
            nonce_reused, missing_field, bad_field, unknown_field.
    """
    view = state if type(state) is Overlay else Overlay(state)
    if nonce_used(view, tx.sender, tx.nonce, nonce_words, legacy_receipts):
        raise InvalidTransaction(f"nonce {tx.nonce} of this sender was already used",
                                 "nonce_reused")
    _admit(view, tx, registry, chain_id)


def read_value(state: RawState, contract: str, key: str) -> Any | None:
    """The decoded value at (contract, key) of any RawState (REST ``/v1/state``), or None."""
    raw = state.get_raw(storage_key(contract, key))
    return None if raw is None else codec.decode(raw)


def current_validators(state: RawState) -> tuple[bytes, ...]:
    """The validator set recorded in ``state`` (sorted public keys): after genesis and after
    every block that changed it. A restarting node derives its set from its committed state."""
    hexes = read_value(state, IDENTITY_CONTRACT, "validators") or []
    return tuple(sorted(bytes.fromhex(h) for h in hexes))


# ============================================================================ genesis


def genesis_state(genesis: Genesis) -> dict[bytes, bytes]:
    """The initial state (encoded) that every node derives from the genesis file.

    Keys: ``governance/id/<hex>`` for every identity (validators are banks),
    ``governance/bic/<BIC>`` (the first bank identity with that BIC, in key order),
    ``governance/validators``, ``governance/regulators``, ``governance/params`` (the consortium
    rules contracts read), ``governance/currency/<CODE>``,
    ``settlement/supply/<CODE>``. The fingerprint key is deliberately *not* in the state (it
    would be readable by anyone holding a state proof); it reaches contracts via BlockContext.

    Raises:
        ConfigError: a validator listed with a role other than bank, or a currency whose issuer
            is not a genesis identity.
    """
    st = DictState()
    idents: dict[str, dict[str, Any]] = {}
    for gi in genesis.identities:
        idents[gi.public_key] = {"name": gi.name, "role": gi.role, "admin": gi.admin,
                                 "bank": gi.bank}
        if gi.legal_name is not None:
            idents[gi.public_key]["legal_name"] = gi.legal_name
    for gv in genesis.validators:
        rec = idents.get(gv.public_key)
        if rec is None:
            idents[gv.public_key] = {"name": gv.name, "role": "bank", "admin": False,
                                     "bank": gv.bank}
        elif rec["role"] != "bank":
            raise ConfigError(f"validator {gv.name} must have role bank, not {rec['role']}")
    for pk in sorted(idents):
        st.put("governance", "id/" + pk, idents[pk])
        bank = idents[pk]["bank"]
        if idents[pk]["role"] == "bank" and bank is not None:
            # the BIC's first holder (contracts.governance._claim_bic)
            key = "bic/" + bic_key(bank)
            if st.get("governance", key) is None:
                st.put("governance", key, {"holder": pk, "by": None, "count": 1})
    st.put("governance", "validators", sorted({v.public_key for v in genesis.validators}))
    st.put("governance", "regulators", sorted(set(genesis.regulators)))
    st.put("governance", "params", genesis.params.consortium())
    for c in sorted(genesis.currencies, key=lambda c: c.code):
        if c.issuer not in idents:
            raise ConfigError(f"issuer of {c.code} is not a genesis identity")
        st.put("governance", "currency/" + c.code, {"exponent": c.exponent, "issuer": c.issuer})
        st.put("settlement", "supply/" + c.code, {"issued": 0, "redeemed": 0})
    return dict(st.data)
