"""Ledger and wire models: Transaction, BlockHeader, Block, Vote, CommitCertificate, ValidatorSet.

Frozen dataclasses inside; ``to_wire()`` gives a plain canonical-encodable dict (bytes stay
bytes), ``from_wire()`` validates one coming from outside and raises a typed error.
JSON forms (REST, proofs) show bytes as hex: ``to_json()`` / ``from_json()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainfin import codec, crypto
from chainfin.consensus.quorum import max_faulty, quorum
from chainfin.errors import CodecError, InvalidMessage, InvalidSignature, InvalidTransaction

__all__ = [
    "Transaction",
    "BlockHeader",
    "Block",
    "Vote",
    "CommitCertificate",
    "ValidatorSet",
    "vote_message",
    "ZERO_HASH",
]

ZERO_HASH = b"\0" * 32
MAX_TX_BYTES = 64 * 1024
_NAME_MAX = 64
_TX_FIELDS = frozenset({"chain_id", "sender", "nonce", "contract", "method", "args", "signature"})
# A signed transaction's wire bytes are the canonical map of its six body fields plus "signature",
# which sorts after all of them: the body's bytes with a 7-entry map header instead of a 6-entry
# one, then the signature entry. So they are derived from ``body`` without a second walk, and the
# body (hence the id) can be cut back out of them (decision 25).
_BODY_HEAD = 0x86  # fixmap, 6 entries
_BODY_HEAD_B = bytes([_BODY_HEAD])
_WIRE_HEAD = b"\x87"  # fixmap, 7 entries
_WIRE_TAIL = codec.encode("signature") + b"\xc4\x40"  # the key, then a bin 8 of 64 bytes
_WIRE_TAIL_AT = len(_WIRE_TAIL) + 64  # from the end


def _req(cond: bool, msg: str, err: type[Exception] = InvalidTransaction) -> None:
    if not cond:
        raise err(msg)


def _hexbytes(v: Any, what: str, size: int | None = None) -> bytes:
    if type(v) is bytes:
        b = v
    elif isinstance(v, bytes):
        b = bytes(v)
    elif isinstance(v, str):
        try:
            b = bytes.fromhex(v)
        except ValueError as e:
            raise InvalidTransaction(f"{what} is not hex") from e
    else:
        raise InvalidTransaction(f"{what} must be hex")
    if size is not None and len(b) != size:
        raise InvalidTransaction(f"{what} must be {size} bytes")
    return b


# --------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed call of one contract method. ``tx_id`` = SHA-256 of the signed body's encoding."""

    chain_id: str
    sender: bytes
    nonce: int
    contract: str
    method: str
    args: Mapping[str, Any]
    signature: bytes = b""
    # derived, cached: the canonical body bytes and the id
    body: bytes = field(default=b"", compare=False, repr=False)
    tx_id: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if not self.body:
            body = codec.encode(self.body_dict())
            object.__setattr__(self, "body", body)
            object.__setattr__(self, "tx_id", hashlib.sha256(body).digest())

    def body_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender,
            "nonce": self.nonce,
            "contract": self.contract,
            "method": self.method,
            "args": self.args,
        }

    @classmethod
    def create(
        cls,
        identity: crypto.Identity,
        chain_id: str,
        nonce: int,
        contract: str,
        method: str,
        args: Mapping[str, Any],
    ) -> Transaction:
        unsigned = cls(chain_id, identity.public_key, nonce, contract, method, dict(args))
        sig = identity.sign("tx", unsigned.body)
        return cls(chain_id, identity.public_key, nonce, contract, method, dict(args), sig,
                   unsigned.body, unsigned.tx_id)

    def verify_signature(self) -> None:
        """Raises InvalidTransaction when the signature does not verify."""
        try:
            crypto.verify(self.sender, "tx", self.body, self.signature)
        except InvalidSignature as e:
            raise InvalidTransaction("signature does not verify", "bad_signature") from e

    def to_wire(self) -> dict[str, Any]:
        d = self.body_dict()
        d["signature"] = self.signature
        return d

    def encode(self) -> bytes:
        """The canonical bytes of ``to_wire()``: how a transaction travels between nodes (gossip,
        proposals) and is stored in block records."""
        if len(self.signature) != 64 or self.body[0] != _BODY_HEAD:
            return codec.encode(self.to_wire())  # unsigned: the general path
        return _WIRE_HEAD + self.body[1:] + _WIRE_TAIL + self.signature

    def leaf(self) -> bytes:
        """Its leaf in the block's tx tree in ledger format 3: :func:`tx_leaf` of its envelope."""
        return tx_leaf(self.encode())

    @staticmethod
    def wire_id(data: bytes) -> bytes | None:
        """The ``tx_id`` of wire bytes laid out as ``encode()`` lays them out, without decoding
        them; None for any other layout. A lookup key only: bytes that are not a valid
        transaction can have one too, so a caller must compare ``data`` with the ``encode()`` of
        the transaction it finds under this id before it trusts the match."""
        n = len(data) - _WIRE_TAIL_AT
        if n < 2 or data[:1] != _WIRE_HEAD or data[n:n + len(_WIRE_TAIL)] != _WIRE_TAIL:
            return None
        return hashlib.sha256(_BODY_HEAD_B + data[1:n]).digest()

    @classmethod
    def from_wire(cls, d: Any) -> Transaction:
        """Validate a decoded envelope (bytes as bytes or hex).

        Raises:
            InvalidTransaction: a field is missing, of the wrong type or out of range.
        """
        _req(isinstance(d, Mapping), "transaction must be an object")
        if d.keys() != _TX_FIELDS:  # the common case costs one set comparison
            missing = _TX_FIELDS - set(d)
            _req(not missing, f"transaction is missing {sorted(missing)}")
            _req(False, f"transaction has unknown fields {sorted(set(d) - _TX_FIELDS)}")
        chain_id, nonce, contract, method, args = (
            d["chain_id"], d["nonce"], d["contract"], d["method"], d["args"])
        _req(type(chain_id) is str and 0 < len(chain_id) <= _NAME_MAX, "bad chain_id")
        _req(type(nonce) is int and 0 <= nonce < 2**63, "nonce must be a non-negative integer")
        _req(type(contract) is str and 0 < len(contract) <= _NAME_MAX, "bad contract name")
        _req(type(method) is str and 0 < len(method) <= _NAME_MAX, "bad method name")
        _req(isinstance(args, Mapping), "args must be an object")
        try:
            tx = cls(chain_id, _hexbytes(d["sender"], "sender", 32), nonce, contract, method,
                     dict(args), _hexbytes(d["signature"], "signature", 64))
        except CodecError as e:
            raise InvalidTransaction(f"args cannot be encoded: {e}", "bad_encoding") from e
        _req(len(tx.body) <= MAX_TX_BYTES, f"transaction exceeds {MAX_TX_BYTES} bytes")
        return tx

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        try:
            return cls.from_wire(codec.decode(data))
        except CodecError as e:
            raise InvalidTransaction(f"undecodable transaction: {e}", "bad_encoding") from e

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender.hex(),
            "nonce": self.nonce,
            "contract": self.contract,
            "method": self.method,
            "args": codec.to_json(self.args),
            "signature": self.signature.hex(),
        }


def _vote_bytes(v: Any, size: int) -> bytes:
    """A vote's key or signature from the wire: bytes of ``size`` (``bytes()`` of a decoded
    integer would have been that many zero bytes: 2**33 is 8 GiB; red-team round 3)."""
    if type(v) is not bytes or len(v) != size:
        raise ValueError(f"a certificate's vote holds a {type(v).__name__}, not {size} bytes")
    return v


def tx_leaf(wire: bytes) -> bytes:
    """A transaction's leaf in ledger format 3's tx tree (decision 128): SHA-256 of its signed
    envelope as :meth:`Transaction.encode` lays it out (the body with the signature), so the
    leaf commits to the signature: a reader who does not hold a transaction cannot find its leaf
    by guessing its fields (the tx id, a hash of the body alone, could be)."""
    return hashlib.sha256(wire).digest()


# --------------------------------------------------------------------------- validator sets


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The validators in force at a height, as sorted Ed25519 public keys."""

    members: tuple[bytes, ...]

    def __post_init__(self) -> None:
        ordered = tuple(sorted(set(self.members)))
        _req(len(ordered) >= 1, "empty validator set", InvalidMessage)
        object.__setattr__(self, "members", ordered)

    @property
    def n(self) -> int:
        return len(self.members)

    @property
    def f(self) -> int:
        return max_faulty(self.n)

    @property
    def quorum(self) -> int:
        return quorum(self.n)

    def __contains__(self, key: object) -> bool:
        return key in self.members

    def index(self, key: bytes) -> int:
        return self.members.index(key)

    def primary(self, view: int) -> bytes:
        return self.members[view % self.n]

    def hash(self) -> bytes:
        return codec.hash_value(list(self.members))

    def to_json(self) -> list[str]:
        return [m.hex() for m in self.members]

    @classmethod
    def from_hex(cls, keys: Iterable[str]) -> ValidatorSet:
        return cls(tuple(bytes.fromhex(k) for k in keys))


# --------------------------------------------------------------------------- blocks


_HEADER_HASH_FIELDS = ("prev_hash", "tx_root", "state_root", "validators_hash",
                      "next_validators_hash", "proposer")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    view: int
    prev_hash: bytes
    tx_root: bytes
    state_root: bytes
    validators_hash: bytes  # hash of the set that must certify this block
    next_validators_hash: bytes  # hash of the set in force after it (differs on a set change)
    timestamp_ms: int
    proposer: bytes
    tx_count: int = 0  # the tx Merkle tree's size: RFC 6962 roots do not commit to it
    # ledger format 2 (decision 95): RFC 6962 root of the block's receipts (same size); absent
    # from the wire, and so from the hash, in format 1
    receipts_root: bytes | None = None

    def to_wire(self) -> dict[str, Any]:
        if self.receipts_root is not None:
            return {**self._wire(), "receipts_root": self.receipts_root}
        return self._wire()

    def _wire(self) -> dict[str, Any]:
        return {
            "tx_count": self.tx_count,
            "chain_id": self.chain_id,
            "height": self.height,
            "view": self.view,
            "prev_hash": self.prev_hash,
            "tx_root": self.tx_root,
            "state_root": self.state_root,
            "validators_hash": self.validators_hash,
            "next_validators_hash": self.next_validators_hash,
            "timestamp_ms": self.timestamp_ms,
            "proposer": self.proposer,
        }

    def hash(self) -> bytes:
        return codec.hash_value(self.to_wire())

    @classmethod
    def from_wire(cls, d: Any) -> BlockHeader:
        try:
            h = cls(**{k: d[k] for k in cls.__slots__ if k != "receipts_root"},
                    receipts_root=d.get("receipts_root"))
        except (KeyError, TypeError, AttributeError) as e:
            raise InvalidMessage(f"bad block header: {e}") from e
        names = _HEADER_HASH_FIELDS if h.receipts_root is None else _HEADER_HASH_FIELDS + (
            "receipts_root",)
        for name in names:
            _req(isinstance(getattr(h, name), bytes) and len(getattr(h, name)) == 32,
                 f"header {name} must be 32 bytes", InvalidMessage)
        for name in ("height", "view", "timestamp_ms", "tx_count"):
            _req(type(getattr(h, name)) is int and getattr(h, name) >= 0,
                 f"header {name} must be a non-negative integer", InvalidMessage)
        _req(isinstance(h.chain_id, str), "header chain_id must be a string", InvalidMessage)
        return h

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = codec.to_json(self.to_wire())
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> BlockHeader:
        conv = dict(d)
        for k in _HEADER_HASH_FIELDS + (("receipts_root",) if "receipts_root" in conv else ()):
            try:
                conv[k] = bytes.fromhex(conv[k])
            except (KeyError, ValueError, TypeError) as e:
                raise InvalidMessage(f"header {k} is not hex") from e
        return cls.from_wire(conv)


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Transaction, ...]

    @property
    def height(self) -> int:
        return self.header.height

    def hash(self) -> bytes:
        return self.header.hash()

    def to_wire(self) -> dict[str, Any]:
        """The header as a map and each transaction as its wire bytes (``Transaction.encode``)."""
        return {"header": self.header.to_wire(), "txs": [t.encode() for t in self.txs]}

    @classmethod
    def from_wire(cls, d: Any,
                  known: Callable[[bytes], Transaction | None] | None = None) -> Block:
        """Validate a decoded block. Its transactions are wire bytes (or, as in records written
        before decision 25, maps). ``known(data)`` may return a transaction the caller already
        holds whose ``encode()`` equals ``data`` exactly (a node's mempool): it is used as it is,
        without decoding ``data`` again.

        Raises:
            InvalidMessage: a malformed block or transaction.
        """
        if not isinstance(d, Mapping) or not isinstance(d.get("txs"), list):
            raise InvalidMessage("bad block")
        txs: list[Transaction] = []
        try:
            for t in d["txs"]:
                if type(t) is bytes:
                    tx = None if known is None else known(t)
                    txs.append(Transaction.decode(t) if tx is None else tx)
                else:
                    txs.append(Transaction.from_wire(t))
        except InvalidTransaction as e:
            raise InvalidMessage(f"bad transaction in block: {e}") from e
        return cls(BlockHeader.from_wire(d.get("header")), tuple(txs))


# --------------------------------------------------------------------------- votes, certificates


def vote_message(chain_id: str, kind: str, view: int, seq: int, digest: bytes) -> bytes:
    """The bytes a consensus vote signs: bound to chain, kind, view, sequence and digest (TRAPS #3)."""
    return codec.encode([chain_id, kind, view, seq, digest])


@dataclass(frozen=True, slots=True)
class Vote:
    validator: bytes
    signature: bytes

    def to_wire(self) -> list[bytes]:
        return [self.validator, self.signature]


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """2f+1 (precisely: quorum(n)) signed COMMIT votes of distinct validators over one block hash."""

    chain_id: str
    height: int
    view: int
    block_hash: bytes
    votes: tuple[Vote, ...]

    def message(self) -> bytes:
        return vote_message(self.chain_id, "commit", self.view, self.height, self.block_hash)

    def verify(self, validators: ValidatorSet, chain_id: str | None = None) -> None:
        """Check the certificate against the set in force at its height (never one a peer sends).

        Raises:
            InvalidMessage: wrong chain, too few distinct valid signers, or a signer not in the set.
        """
        if chain_id is not None and self.chain_id != chain_id:
            raise InvalidMessage("certificate is for another chain")
        msg = self.message()
        signers: set[bytes] = set()
        for v in self.votes:
            if v.validator not in validators:
                raise InvalidMessage(f"certificate signer {v.validator.hex()[:16]} is not a validator")
            if v.validator in signers:  # one key is one vote (TRAPS #2): a repeat is malformed
                raise InvalidMessage("certificate lists a validator twice")
            try:
                crypto.verify(v.validator, "consensus", msg, v.signature)
            except InvalidSignature as e:
                raise InvalidMessage("certificate holds a bad signature") from e
            signers.add(v.validator)
        if len(signers) < validators.quorum:
            raise InvalidMessage(
                f"certificate has {len(signers)} distinct signers, needs {validators.quorum}"
            )

    def to_wire(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "view": self.view,
            "block_hash": self.block_hash,
            "votes": [v.to_wire() for v in sorted(self.votes, key=lambda v: v.validator)],
        }

    @classmethod
    def from_wire(cls, d: Any) -> CommitCertificate:
        try:
            votes = tuple(Vote(_vote_bytes(a, 32), _vote_bytes(b, 64)) for a, b in d["votes"])
            cert = cls(d["chain_id"], d["height"], d["view"], d["block_hash"], votes)
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidMessage(f"bad certificate: {e}") from e
        _req(isinstance(cert.block_hash, bytes) and len(cert.block_hash) == 32,
             "bad certificate block hash", InvalidMessage)
        _req(type(cert.height) is int and type(cert.view) is int, "bad certificate height/view",
             InvalidMessage)
        return cert

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = codec.to_json(self.to_wire())
        return out
