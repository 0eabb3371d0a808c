"""Proofs for auditors: transaction inclusion, state (non-)inclusion and finality, checked offline.

A proof document is self-contained JSON (bytes as lowercase hex). With nothing but the genesis
file, :func:`verify_proof` establishes:

1. **Which validators were in force at the proof's height.** It starts from the genesis set and
   walks the *certified validator-set changes* the document carries, in height order. A change is
   the header of the block whose execution changed the set (its ``validators_hash`` is the hash of
   the set in force, its ``next_validators_hash`` the hash of the new member list that follows),
   together with that block's CommitCertificate, signed by the **old** set. The new set is in force
   from the next height on (the ledger's rule: block h+1's ``validators_hash`` is the set after
   block h; TRAPS #11).
2. **That the block is final.** The target header's ``validators_hash`` must be the hash of the
   set in force, and its CommitCertificate must carry valid ``consensus`` signatures over
   ``vote_message(chain_id, "commit", view, height, header hash)`` from at least
   ``quorum(n)`` distinct members of that set (TRAPS #1, #2). A signature by anyone else (a removed
   validator, a stranger) makes the certificate invalid; a key listed twice is refused.
3. **What the block commits to.** A transaction proof shows the transaction (its signature
   verified, its id recomputed) at ``index`` of the RFC 6962 tree of the block's tx ids, whose size
   is the header's ``tx_count`` (an RFC 6962 root alone does not pin the tree size). In a ledger
   of format 2 (decision 95) the header also carries ``receipts_root`` and the proof shows the
   transaction's receipt (committed or rejected, with its result and events) at the same index
   of the tree of the block's receipts; or, *inclusion-only* (decision 147: what the sender of a
   transaction gets, for its receipt holds the alerts it raised), none of the receipt, which
   then proves the transaction's place in the final block but not its outcome. A state proof
   shows that under the header's ``state_root`` the storage key ``f"{contract}/{key}"`` holds the
   canonical encoding of the value, or is absent (SMT non-inclusion).

The document is parsed strictly: known ``type`` and ``version``, exact field sets, lowercase hex
of the right length, integers that are integers, votes and member lists sorted and distinct, and
every redundant field (tx id, tree size, the value's JSON next to its encoding, the SMT key hash)
checked against what it repeats. So any change to one byte of a proof either makes it invalid or
is rejected as malformed; ``tests/unit/test_proofs.py`` walks the bytes of several proofs to show
it. The format, field by field, is in ``docs/proofs.md``.

Builders (:func:`build_tx_proof`, :func:`build_state_proof`, :func:`build_state_proof_from_tree`)
are called by the node's REST layer with what the ledger stores; they check their inputs agree
(raising ``ValueError`` on a caller bug) but do no I/O.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chainfin import codec, crypto, merkle, smt
from chainfin.consensus.quorum import quorum
from chainfin.errors import (
    ChainfinError,
    CodecError,
    ConfigError,
    InvalidSignature,
    InvalidTransaction,
)
from chainfin.execution import receipt_leaf, storage_key
from chainfin.genesis import Genesis, load_genesis
from chainfin.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Transaction,
    ValidatorSet,
    Vote,
    vote_message,
)

__all__ = [
    "TX_PROOF",
    "STATE_PROOF",
    "VERSION",
    "NOT_PROVEN",
    "ProofError",
    "SetChange",
    "Verified",
    "set_changes_from",
    "build_tx_proof",
    "build_tx_proof_from_ids",
    "inclusion_only",
    "build_state_proof",
    "build_state_proof_from_tree",
    "verify_proof",
    "parse_document",
    "cli_verify",
    "check_report_seal",
    "SealMismatch",
]

TX_PROOF = "chainfin/tx-proof"
STATE_PROOF = "chainfin/state-proof"
VERSION = 1

_U64 = 2**64 - 1
_MAX_PATH = 64  # RFC 6962 path length for any tree of < 2**64 leaves
_MAX_CHANGES = 1_000_000
_MAX_NAME = 64
_MAX_KEY = 8192  # above aiohttp's request-line limit: any key REST can name

_HEADER_FIELDS = (
    "chain_id", "height", "view", "prev_hash", "tx_root", "state_root", "validators_hash",
    "next_validators_hash", "timestamp_ms", "proposer", "tx_count",
)
_HEADER_HASHES = (
    "prev_hash", "tx_root", "state_root", "validators_hash", "next_validators_hash", "proposer",
)


_RECEIPT_FIELDS = ("receipt", "receipt_encoding", "receipt_path")
_RECEIPT_JSON = ("tx_id", "sender", "nonce", "index", "status", "error", "result", "events")


class ProofError(ChainfinError):
    """A proof document that does not prove what it claims; the message says why."""


# --------------------------------------------------------------------------- inputs of builders


@dataclass(frozen=True, slots=True)
class SetChange:
    """One certified validator-set change: the header of the block that changed the set, its
    certificate (signed by the OLD set), and the new members (in force from ``height + 1``)."""

    header: BlockHeader
    cert: CommitCertificate
    validators: ValidatorSet

    def __post_init__(self) -> None:
        if not isinstance(self.validators, ValidatorSet):
            object.__setattr__(self, "validators", ValidatorSet(tuple(self.validators)))

    @property
    def height(self) -> int:
        return self.header.height


def set_changes_from(
    validator_sets: Iterable[tuple[int, ValidatorSet | Sequence[bytes]]],
    block_record: Callable[[int], Mapping[str, Any] | None],
) -> list[SetChange]:
    """The set-change chain from the ledger's records.

    ``validator_sets`` is ``Ledger.validator_sets()``: ``(from_height, set)`` pairs, the genesis set
    from height 1 and one pair per change (a change by block h is in force from h + 1).
    ``block_record(h)`` returns the decoded ``b/<h>`` record ``{"block", "cert", ...}`` (wire forms),
    e.g. ``Ledger.block_record``.

    Raises:
        ValueError: a record is missing or does not agree with the set it should have produced.
    """
    out: list[SetChange] = []
    for from_height, members in sorted(validator_sets, key=lambda p: p[0]):
        if from_height <= 1:
            continue  # the genesis set
        vs = members if isinstance(members, ValidatorSet) else ValidatorSet(tuple(members))
        rec = block_record(from_height - 1)
        if rec is None:
            raise ValueError(f"no block record at height {from_height - 1} for a set change")
        block = Block.from_wire(rec["block"])
        cert = CommitCertificate.from_wire(rec["cert"])
        change = SetChange(block.header, cert, vs)
        _check_change_input(change)
        out.append(change)
    return out


def _check_change_input(c: SetChange) -> None:
    if c.header.next_validators_hash != c.validators.hash():
        raise ValueError(f"set change at height {c.height}: next_validators_hash does not match "
                         "the new member list")
    if c.header.next_validators_hash == c.header.validators_hash:
        raise ValueError(f"block {c.height} does not change the validator set")
    _check_cert_input(c.header, c.cert)


def _check_cert_input(header: BlockHeader, cert: CommitCertificate) -> None:
    if cert.block_hash != header.hash() or cert.height != header.height:
        raise ValueError(f"certificate is not for the header at height {header.height}")


# --------------------------------------------------------------------------- builders


def _bad_state_key(contract: Any, key: Any) -> str | None:
    """Why ``(contract, key)`` cannot be the subject of a state proof, or None."""
    if type(contract) is not str or not 0 < len(contract) <= _MAX_NAME or "/" in contract:
        return (f"contract must be a name of 1 to {_MAX_NAME} characters without '/' "
                "(a '/' would make the storage key ambiguous)")
    if type(key) is not str or not 0 < len(key) <= _MAX_KEY:
        return f"key must be a string of 1 to {_MAX_KEY} characters"
    return None


def _cert_json(c: CommitCertificate) -> dict[str, Any]:
    votes = sorted({v.validator: v for v in c.votes}.values(), key=lambda v: v.validator)
    return {
        "chain_id": c.chain_id,
        "height": c.height,
        "view": c.view,
        "block_hash": c.block_hash.hex(),
        "votes": [[v.validator.hex(), v.signature.hex()] for v in votes],
    }


def _chain_json(vset_chain: Iterable[SetChange], below: int) -> list[dict[str, Any]]:
    out = []
    for c in sorted(vset_chain, key=lambda c: c.height):
        if c.height >= below:
            continue  # a change by the target block itself (or later) is not needed to trust it
        _check_change_input(c)
        out.append({
            "header": c.header.to_json(),
            "certificate": _cert_json(c.cert),
            "validators": [m.hex() for m in c.validators.members],
        })
    return out


def _block_json(header: BlockHeader, cert: CommitCertificate) -> dict[str, Any]:
    _check_cert_input(header, cert)
    if header.height < 1:
        raise ValueError("proofs are for blocks at height 1 and above (genesis has no certificate)")
    return {"header": header.to_json(), "certificate": _cert_json(cert)}


def build_tx_proof(
    block: Block, cert: CommitCertificate, tx_index: int, vset_chain: Iterable[SetChange],
    receipts: Sequence[Mapping[str, Any]] | None = None, salted: bool = False,
) -> dict[str, Any]:
    """Proof that ``block.txs[tx_index]`` is in the final block ``block`` (and, when its header
    has a ``receipts_root``, what its receipt says: ``receipts`` are then the block's receipts
    in their JSON form, as the block record holds them).

    ``vset_chain`` may hold every set change of the chain; those at heights below the block's are
    included. ``salted``: a chain of ledger format 3, whose trees have salted leaves (decision
    129).

    Raises:
        ValueError: the index is out of range, or the block, certificate and chain disagree
            (e.g. a header whose ``tx_count``, ``tx_root`` or ``receipts_root`` is not that of
            ``block.txs`` or ``receipts``).
    """
    if not 0 <= tx_index < len(block.txs):
        raise ValueError(f"tx index {tx_index} out of range for a block of {len(block.txs)} txs")
    leaves = [t.leaf() for t in block.txs] if salted else [t.tx_id for t in block.txs]
    return build_tx_proof_from_ids(block.header, cert, block.txs[tx_index], leaves, tx_index,
                                   vset_chain, receipts, salted)


def build_tx_proof_from_ids(
    header: BlockHeader, cert: CommitCertificate, tx: Transaction, tx_ids: Sequence[bytes],
    tx_index: int, vset_chain: Iterable[SetChange],
    receipts: Sequence[Mapping[str, Any]] | None = None, salted: bool = False,
) -> dict[str, Any]:
    """:func:`build_tx_proof` from the block's header, its tree's leaf data and the one
    transaction (a node serving a proof of a 1,000-tx block need not decode the other 999):
    ``tx_ids`` are the tx ids, or with ``salted`` (ledger format 3) the transactions'
    :func:`chainfin.types.tx_leaf`. Checks as :func:`build_tx_proof` does, and that ``tx`` is
    the one at ``tx_index``."""
    h = header
    if not 0 <= tx_index < len(tx_ids):
        raise ValueError(f"tx index {tx_index} out of range for a block of {len(tx_ids)} txs")
    if h.tx_count != len(tx_ids):
        raise ValueError(f"header tx_count {h.tx_count} but the block holds {len(tx_ids)} txs")
    if (tx.leaf() if salted else tx.tx_id) != tx_ids[tx_index]:
        raise ValueError(f"the transaction is not the one at index {tx_index}")
    root, path = merkle.root_and_path(tx_ids, tx_index)
    if root != h.tx_root:
        raise ValueError("header tx_root is not the root of the block's tx ids")
    extra: dict[str, Any] = {}
    if h.receipts_root is not None:
        if receipts is None or len(receipts) != len(tx_ids):
            raise ValueError("a block with a receipts_root needs its receipts")
        leaves = [receipt_leaf(r, t if salted else b"") for r, t in zip(receipts, tx_ids,
                                                                        strict=True)]
        rroot, rpath = merkle.root_and_path(leaves, tx_index)
        if rroot != h.receipts_root:
            raise ValueError("header receipts_root is not the root of the block's receipts")
        extra = {
            "receipt": codec.to_json(receipts[tx_index]),
            # the receipt's own encoding: in format 3 its leaf data is the tx's leaf before it
            "receipt_encoding": leaves[tx_index][32 if salted else 0:].hex(),
            "receipt_path": [p.hex() for p in rpath],
        }
    return {
        **extra,
        "type": TX_PROOF,
        "version": VERSION,
        "tx_id": tx.tx_id.hex(),
        "tx": tx.to_json(),
        "tx_body": tx.body.hex(),
        "inclusion": {
            "index": tx_index,
            "tree_size": len(tx_ids),
            "path": [p.hex() for p in path],
        },
        "block": _block_json(h, cert),
        "validator_set_changes": _chain_json(vset_chain, h.height),
    }


def inclusion_only(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A transaction proof without its receipt (``receipt``, ``receipt_encoding``,
    ``receipt_path``): it still proves that the transaction, its body and signature, is in a
    final block, but not what became of it. What the sender of a transaction is served
    (decision 147): its receipt holds the risk alerts the transaction raised, which are not the
    sender's to read (decision 144). Every proof is stripped alike, whatever its receipt holds,
    so the document's shape says nothing about it.

    Raises:
        ValueError: ``doc`` is not a transaction proof.
    """
    if doc.get("type") != TX_PROOF:
        raise ValueError("only a transaction proof has an inclusion-only form")
    return {k: v for k, v in doc.items() if k not in _RECEIPT_FIELDS}


def build_state_proof(
    header: BlockHeader,
    cert: CommitCertificate,
    contract: str,
    key: str,
    value_raw: bytes | None,
    smt_proof: smt.Proof,
    vset_chain: Iterable[SetChange],
) -> dict[str, Any]:
    """Proof that under ``header.state_root`` the key ``(contract, key)`` holds ``value_raw`` (the
    stored canonical encoding, as ``SparseMerkleTree.get(header.state_root, storage_key)`` returns
    it) or, with ``value_raw=None``, is absent.

    Raises:
        ValueError: the SMT proof does not show that value (or absence) under the header's root, or
            the certificate / chain do not match.
    """
    bad = _bad_state_key(contract, key)
    if bad:
        raise ValueError(bad)
    sk = storage_key(contract, key)
    if not smt.verify_proof(header.state_root, sk, value_raw, smt_proof):
        raise ValueError("the SMT proof does not show this value under the header's state root")
    value: Any = None
    if value_raw is not None:
        value = codec.to_json(codec.decode(value_raw, canonical=True))
    return {
        "type": STATE_PROOF,
        "version": VERSION,
        "contract": contract,
        "key": key,
        "key_hash": smt.key_hash(sk).hex(),
        "value": value,
        "value_encoding": None if value_raw is None else value_raw.hex(),
        "smt_proof": smt_proof.to_json(),
        "block": _block_json(header, cert),
        "validator_set_changes": _chain_json(vset_chain, header.height),
    }


def build_state_proof_from_tree(
    header: BlockHeader,
    cert: CommitCertificate,
    contract: str,
    key: str,
    tree: smt.SparseMerkleTree,
    vset_chain: Iterable[SetChange],
) -> dict[str, Any]:
    """:func:`build_state_proof` reading the value and its path at ``header.state_root``.

    Raises:
        StorageError: a node under that root is missing from the tree's store.
        ValueError: as :func:`build_state_proof`.
    """
    sk = storage_key(contract, key)
    return build_state_proof(header, cert, contract, key, tree.get(header.state_root, sk),
                             tree.prove(header.state_root, sk), vset_chain)


# --------------------------------------------------------------------------- strict parsing


def _fail(msg: str) -> ProofError:
    return ProofError(msg)


def _obj(v: Any, where: str, fields: Sequence[str],
         optional: Sequence[str] = ()) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise _fail(f"{where} must be an object")
    missing = [f for f in fields if f not in v]
    if missing:
        raise _fail(f"{where} is missing {', '.join(missing)}")
    extra = sorted(set(v) - set(fields) - set(optional))
    if extra:
        raise _fail(f"{where} has unknown field(s) {', '.join(map(repr, extra))}")
    return v


def _int(v: Any, where: str, hi: int = _U64) -> int:
    if type(v) is not int or not 0 <= v <= hi:
        raise _fail(f"{where} must be an integer in [0, {hi}]")
    return v


def _str(v: Any, where: str, maxlen: int = _MAX_NAME) -> str:
    if type(v) is not str or not 0 < len(v) <= maxlen:
        raise _fail(f"{where} must be a non-empty string of at most {maxlen} characters")
    return v


def _hex(v: Any, where: str, size: int | None = None) -> bytes:
    if type(v) is not str:
        raise _fail(f"{where} must be a hex string")
    try:
        b = bytes.fromhex(v)
    except ValueError:
        raise _fail(f"{where} is not hex") from None
    if b.hex() != v:
        raise _fail(f"{where} is not lowercase hex without separators")
    if size is not None and len(b) != size:
        raise _fail(f"{where} must be {size} bytes, not {len(b)}")
    return b


def _list(v: Any, where: str, maxlen: int) -> list[Any]:
    if type(v) is not list or len(v) > maxlen:
        raise _fail(f"{where} must be a list of at most {maxlen} items")
    return v


def _parse_header(v: Any, where: str) -> BlockHeader:
    d = _obj(v, where, _HEADER_FIELDS, ("receipts_root",))
    hashes = {k: _hex(d[k], f"{where}.{k}", 32) for k in _HEADER_HASHES}
    if "receipts_root" in d:
        hashes["receipts_root"] = _hex(d["receipts_root"], f"{where}.receipts_root", 32)
    return BlockHeader(
        chain_id=_str(d["chain_id"], f"{where}.chain_id"),
        height=_int(d["height"], f"{where}.height"),
        view=_int(d["view"], f"{where}.view"),
        timestamp_ms=_int(d["timestamp_ms"], f"{where}.timestamp_ms"),
        tx_count=_int(d["tx_count"], f"{where}.tx_count"),
        **hashes,
    )


def _parse_cert(v: Any, where: str) -> CommitCertificate:
    d = _obj(v, where, ("chain_id", "height", "view", "block_hash", "votes"))
    votes: list[Vote] = []
    for i, pair in enumerate(_list(d["votes"], f"{where}.votes", 10_000)):
        w = f"{where}.votes[{i}]"
        if type(pair) is not list or len(pair) != 2:
            raise _fail(f"{w} must be a [validator, signature] pair")
        vote = Vote(_hex(pair[0], f"{w}[0]", 32), _hex(pair[1], f"{w}[1]", 64))
        if votes and vote.validator <= votes[-1].validator:
            raise _fail(f"{where}.votes must be sorted by validator key, each key once "
                        f"(vote {i} repeats or is out of order)")
        votes.append(vote)
    return CommitCertificate(
        chain_id=_str(d["chain_id"], f"{where}.chain_id"),
        height=_int(d["height"], f"{where}.height"),
        view=_int(d["view"], f"{where}.view"),
        block_hash=_hex(d["block_hash"], f"{where}.block_hash", 32),
        votes=tuple(votes),
    )


def _parse_members(v: Any, where: str) -> ValidatorSet:
    keys = [_hex(k, f"{where}[{i}]", 32) for i, k in enumerate(_list(v, where, 10_000))]
    if not keys:
        raise _fail(f"{where} is empty")
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise _fail(f"{where} must be sorted, each key once")
    return ValidatorSet(tuple(keys))


def _parse_smt_proof(v: Any, where: str) -> smt.Proof:
    d = _obj(v, where, ("depth", "bitmap", "siblings", "leaf"))
    depth = _int(d["depth"], f"{where}.depth", smt.MAX_DEPTH)
    bitmap = _hex(d["bitmap"], f"{where}.bitmap", (depth + 7) // 8)
    sibs = tuple(_hex(s, f"{where}.siblings[{i}]", 32)
                 for i, s in enumerate(_list(d["siblings"], f"{where}.siblings", smt.MAX_DEPTH)))
    leaf = None
    if d["leaf"] is not None:
        lf = _obj(d["leaf"], f"{where}.leaf", ("key_hash", "value_hash"))
        leaf = (_hex(lf["key_hash"], f"{where}.leaf.key_hash", 32),
                _hex(lf["value_hash"], f"{where}.leaf.value_hash", 32))
    return smt.Proof(depth, bitmap, sibs, leaf)


def _same(a: Any, b: Any) -> bool:
    """Equality that tells True from 1 and 1 from 1.0 (Python's == does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class Verified:
    """What a valid proof established."""

    kind: str  # TX_PROOF or STATE_PROOF
    chain_id: str
    height: int
    block_hash: bytes
    timestamp_ms: int
    validators: ValidatorSet  # the set in force at ``height``, derived from genesis
    signers: tuple[bytes, ...]  # who signed the block's certificate (all members of that set)
    set_change_heights: tuple[int, ...]  # the certified changes walked from genesis
    tx: Transaction | None = None
    tx_index: int | None = None
    tx_count: int | None = None
    receipt: Any = None  # JSON form of the tx's receipt (ledger format 2), else None
    #: a tx proof whose header has a receipts_root but which carries no receipt: it proves
    #: the transaction's inclusion and finality, not its outcome (decision 147)
    inclusion_only: bool = False
    contract: str | None = None
    key: str | None = None
    present: bool | None = None
    value: Any = None  # JSON form of the value (bytes as hex); None when absent
    value_encoding: bytes | None = None

    @property
    def tx_id(self) -> bytes | None:
        return None if self.tx is None else self.tx.tx_id

    def lines(self, names: Mapping[bytes, str] | None = None,
              shown: Callable[[Any], Any] | None = None) -> list[str]:
        """Human-readable summary; ``names`` labels known validator keys; ``shown`` (the CLI's
        :func:`shortened`) rewrites the call's arguments and the value before they are printed,
        the explorer's verifier printing them whole (the default)."""
        names = names or {}
        show = shown or (lambda x: x)

        def who(k: bytes) -> str:
            if k in names:
                return f"{names[k]} ({k.hex()[:16]})"
            return f"{k.hex()} (not in genesis: joined by a certified set change)"

        try:
            when = datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC).isoformat(
                timespec="milliseconds")
        except (OverflowError, ValueError, OSError):  # a signed but absurd block time
            when = f"{self.timestamp_ms} ms since the epoch"
        out = [f"VALID {'transaction inclusion' if self.kind == TX_PROOF else 'state'} proof",
               f"chain:          {self.chain_id}"]
        if self.tx is not None:
            t = self.tx
            out += [
                f"transaction:    {t.tx_id.hex()}",
                f"call:           {t.contract}.{t.method} "
                f"{json.dumps(show(codec.to_json(t.args)), sort_keys=True)}",
                f"sender:         {t.sender.hex()} (nonce {t.nonce}, signature valid)",
                f"position:       index {self.tx_index} of {self.tx_count} in the block",
            ]
            if self.receipt is not None:
                out.append(f"outcome:        {_outcome(self.receipt)}")
            elif self.inclusion_only:
                out.append(f"outcome:        {NOT_PROVEN}")
        else:
            out.append(f"state key:      {self.contract} / {self.key}")
            if self.present:
                out.append(f"value:          {json.dumps(show(self.value), sort_keys=True)}")
            else:
                out.append("value:          ABSENT (non-inclusion proof)")
        changes = ", ".join(str(h) for h in self.set_change_heights) or "none"
        out += [
            f"block height:   {self.height}",
            f"block hash:     {self.block_hash.hex()}",
            f"block time:     {when}",
            f"validator set:  {self.validators.n} members, quorum {self.validators.quorum} "
            f"(set changes walked from genesis at heights: {changes})",
            f"signed by:      {len(self.signers)} of {self.validators.n}",
        ]
        out += [f"                {who(k)}" for k in self.signers]
        return out


#: the outcome line of an inclusion-only proof (:attr:`Verified.inclusion_only`)
NOT_PROVEN = ("not proven (this proof carries no receipt: ask the sender's bank or a "
              "supervisor for the full proof)")


def _outcome(receipt: Mapping[str, Any]) -> str:
    """One line for a receipt: ``committed`` or ``rejected: <code> (<message>)``."""
    if receipt["status"] == "committed":
        return "committed (receipt under the header's receipts_root)"
    err = receipt["error"]
    return f"rejected: {err['code']} ({err['message']})"


def _check_receipt(d: Mapping[str, Any], header: BlockHeader, tx: Transaction, index: int,
                   size: int, salted: bool = False) -> Any:
    """The receipt a tx proof carries (its JSON form), checked: only when the header has a
    ``receipts_root``, its three fields all or none, its JSON the decoding of its canonical
    encoding, its fields those of the transaction at ``index``, and the encoding at ``index``
    of the tree of ``size`` leaves under ``receipts_root``. None for a header without one, and
    for an inclusion-only proof (none of the three: decision 147), which proves no outcome."""
    given = [f for f in _RECEIPT_FIELDS if f in d]
    if header.receipts_root is None:
        if given:
            raise _fail(f"proof has {', '.join(given)} but the header has no receipts_root")
        return None
    if not given:
        return None  # inclusion-only: the outcome is not proven, and not printed
    missing = [f for f in _RECEIPT_FIELDS if f not in d]
    if missing:
        raise _fail(f"proof is missing {', '.join(missing)} (the header has a receipts_root: a "
                    "proof carries all of receipt, receipt_encoding and receipt_path, or none "
                    "of them)")
    raw = _shown_as_encoded(d, "receipt", "receipt_encoding")
    r = _obj(d["receipt"], "receipt", _RECEIPT_JSON)
    if not (_same(r["tx_id"], tx.tx_id.hex()) and _same(r["sender"], tx.sender.hex())
            and _same(r["nonce"], tx.nonce) and _same(r["index"], index)):
        raise _fail("receipt is not the receipt of this transaction at this index (tx_id, "
                    "sender, nonce or index differ)")
    err = r["error"]
    if r["status"] == "committed":
        shaped = err is None
    else:
        shaped = (_same(r["status"], "rejected") and isinstance(err, dict) and len(err) == 2
                  and type(err.get("code")) is str and type(err.get("message")) is str)
    if not shaped:
        raise _fail("receipt status must be committed (error null) or rejected (error with a "
                    "code and a message)")
    path = [_hex(p, f"receipt_path[{i}]", 32)
            for i, p in enumerate(_list(d["receipt_path"], "receipt_path", _MAX_PATH))]
    leaf = tx.leaf() + raw if salted else raw  # format 3: salted by the tx's leaf
    if not merkle.verify_inclusion(leaf, index, size, path, header.receipts_root):
        raise _fail(f"the Merkle path does not lead from the receipt at index {index} of {size} "
                    "to the header's receipts_root")
    return d["receipt"]


def _canonical(raw: bytes, name: str) -> Any:
    """``raw`` decoded, refused unless it is a canonical encoding."""
    try:
        return codec.decode(raw, canonical=True)
    except CodecError as e:
        raise _fail(f"{name} is not a canonical encoding: {e}") from None


def _shown_as_encoded(d: Mapping[str, Any], shown: str, encoding: str) -> bytes:
    """The bytes of ``d[encoding]`` (the hex of a canonical encoding), checked to decode to what
    ``d[shown]`` shows in JSON (bytes as hex)."""
    raw = _hex(d[encoding], encoding)
    if not _same(d[shown], codec.to_json(_canonical(raw, encoding))):
        raise _fail(f"{shown} does not match {encoding}")
    return raw


def _check_block_cert(header: BlockHeader, cert: CommitCertificate, vs: ValidatorSet,
                      chain_id: str, where: str) -> tuple[bytes, ...]:
    """Cheap checks of a certificate against its header and the set in force (no signatures)."""
    if header.chain_id != chain_id:
        raise _fail(f"{where}.header is for chain {header.chain_id!r}, the genesis for {chain_id!r}")
    if cert.chain_id != chain_id:
        raise _fail(f"{where}.certificate is for chain {cert.chain_id!r}, not {chain_id!r}")
    if cert.height != header.height:
        raise _fail(f"{where}.certificate is for height {cert.height}, the header is at "
                    f"{header.height}")
    if cert.block_hash != header.hash():
        raise _fail(f"{where}.certificate block_hash is not the hash of the header at height "
                    f"{header.height} (the header or the certificate was altered)")
    if header.validators_hash != vs.hash():
        raise _fail(f"{where}.header validators_hash at height {header.height} is not the hash of "
                    "the validator set in force there (derived from genesis and the set changes)")
    signers = tuple(v.validator for v in cert.votes)  # parsed sorted and distinct
    for k in signers:
        if k not in vs:
            raise _fail(f"{where}.certificate is signed by {k.hex()}, which is not in the "
                        f"validator set in force at height {header.height}")
    need = quorum(vs.n)
    if len(signers) < need:
        raise _fail(f"{where}.certificate has {len(signers)} distinct signers, a quorum of the "
                    f"{vs.n} validators in force at height {header.height} is {need}")
    return signers


def _check_signatures(cert: CommitCertificate, where: str) -> None:
    msg = vote_message(cert.chain_id, "commit", cert.view, cert.height, cert.block_hash)
    for i, v in enumerate(cert.votes):
        try:
            crypto.verify(v.validator, "consensus", msg, v.signature)
        except InvalidSignature:
            raise _fail(f"{where}.certificate.votes[{i}]: the signature of {v.validator.hex()} "
                        "does not verify") from None


def _parse_tx(d: Mapping[str, Any], chain_id: str) -> tuple[Transaction, int, int, list[bytes]]:
    tx_id = _hex(d["tx_id"], "tx_id", 32)
    body = _hex(d["tx_body"], "tx_body")
    tx_json = _obj(d["tx"], "tx", ("chain_id", "sender", "nonce", "contract", "method", "args",
                                   "signature"))
    sig = _hex(tx_json["signature"], "tx.signature", 64)
    inc = _obj(d["inclusion"], "inclusion", ("index", "tree_size", "path"))
    index = _int(inc["index"], "inclusion.index")
    size = _int(inc["tree_size"], "inclusion.tree_size")
    path = [_hex(p, f"inclusion.path[{i}]", 32)
            for i, p in enumerate(_list(inc["path"], "inclusion.path", _MAX_PATH))]
    fields = _canonical(body, "tx_body")
    if not isinstance(fields, dict) or set(fields) != {"chain_id", "sender", "nonce", "contract",
                                                       "method", "args"}:
        raise _fail("tx_body is not a transaction body")
    try:
        tx = Transaction.from_wire({**fields, "signature": sig})
    except InvalidTransaction as e:
        raise _fail(f"tx_body is not a valid transaction: {e}") from None
    if tx.body != body:
        raise _fail("tx_body is not the canonical body of the transaction")
    if tx.tx_id != tx_id:
        raise _fail("tx_id is not the SHA-256 of tx_body")
    if not _same(dict(tx_json), tx.to_json()):
        raise _fail("tx (the readable form) does not match tx_body and its signature")
    if tx.chain_id != chain_id:
        raise _fail(f"the transaction is for chain {tx.chain_id!r}, not {chain_id!r}")
    return tx, index, size, path


def verify_proof(genesis: Genesis, doc: Any) -> Verified:
    """Check a proof document offline against ``genesis``; return what it proves.

    Raises:
        ProofError: the document is malformed or does not prove its claim; the message says which
            field or check failed.
    """
    try:
        return _verify(genesis, doc)
    except ProofError:
        raise
    except (ChainfinError, ValueError, TypeError, KeyError, IndexError, OverflowError,
            RecursionError) as e:  # defensive: malformed input should have been caught above
        raise ProofError(f"malformed proof document: {e}") from None


def _verify(genesis: Genesis, doc: Any) -> Verified:
    if not isinstance(doc, dict):
        raise _fail("a proof document is a JSON object")
    kind = doc.get("type")
    optional: tuple[str, ...] = ()
    if kind == TX_PROOF:
        fields: tuple[str, ...] = ("type", "version", "tx_id", "tx", "tx_body", "inclusion",
                                   "block", "validator_set_changes")
        optional = _RECEIPT_FIELDS
    elif kind == STATE_PROOF:
        fields = ("type", "version", "contract", "key", "key_hash", "value", "value_encoding",
                  "smt_proof", "block", "validator_set_changes")
    else:
        raise _fail(f"unknown proof type {kind!r} (expected {TX_PROOF!r} or {STATE_PROOF!r})")
    d = _obj(doc, "proof", fields, optional)
    if type(d["version"]) is not int or d["version"] != VERSION:
        raise _fail(f"unsupported proof version {d['version']!r} (this verifier reads {VERSION})")
    chain_id = genesis.chain_id

    # --- parse everything first (cheap; malformed input fails before any signature check)
    blk = _obj(d["block"], "block", ("header", "certificate"))
    header = _parse_header(blk["header"], "block.header")
    cert = _parse_cert(blk["certificate"], "block.certificate")
    changes: list[tuple[BlockHeader, CommitCertificate, ValidatorSet]] = []
    for i, c in enumerate(_list(d["validator_set_changes"], "validator_set_changes",
                                _MAX_CHANGES)):
        w = f"validator_set_changes[{i}]"
        cd = _obj(c, w, ("header", "certificate", "validators"))
        ch = _parse_header(cd["header"], f"{w}.header")
        if ch.height <= (changes[-1][0].height if changes else 0):
            raise _fail(f"{w} is at height {ch.height}: set changes must be in strictly "
                        "increasing height order, from height 1")
        if ch.height >= header.height:
            raise _fail(f"{w} is at height {ch.height}, not below the proof's height "
                        f"{header.height}")
        changes.append((ch, _parse_cert(cd["certificate"], f"{w}.certificate"),
                        _parse_members(cd["validators"], f"{w}.validators")))
    if header.height < 1:
        raise _fail("block.header.height must be at least 1 (genesis has no certificate)")

    # --- what the block commits to (hashes only)
    tx = None
    receipt: Any = None
    index = size = None
    contract = key = None
    value_raw: bytes | None = None
    value_json: Any = None
    if kind == TX_PROOF:
        tx, index, size, path = _parse_tx(d, chain_id)
        if size != header.tx_count:
            raise _fail(f"inclusion.tree_size {size} is not the header's tx_count "
                        f"{header.tx_count}")
        # ledger format 3 (decision 129): the leaf is the signed envelope's hash, not the id
        salted = genesis.params.salted_leaves
        leaf = tx.leaf() if salted else tx.tx_id
        if not merkle.verify_inclusion(leaf, index, size, path, header.tx_root):
            raise _fail(f"the Merkle path does not lead from tx {tx.tx_id.hex()} at index {index} "
                        f"of {size} to the header's tx_root")
        receipt = _check_receipt(d, header, tx, index, size, salted)
    else:
        contract = _str(d["contract"], "contract")
        key = _str(d["key"], "key", _MAX_KEY)
        bad = _bad_state_key(contract, key)
        if bad:
            raise _fail(bad)
        sk = storage_key(contract, key)
        if _hex(d["key_hash"], "key_hash", 32) != smt.key_hash(sk):
            raise _fail("key_hash is not the SHA-256 of the storage key contract/key")
        proof = _parse_smt_proof(d["smt_proof"], "smt_proof")
        value_json = d["value"]
        if d["value_encoding"] is None:
            if value_json is not None:
                raise _fail("value is given but value_encoding is null")
        else:
            value_raw = _shown_as_encoded(d, "value", "value_encoding")
        if not smt.verify_proof(header.state_root, sk, value_raw, proof):
            claim = "absent" if value_raw is None else "holds this value"
            raise _fail(f"the SMT proof does not show that {contract}/{key} {claim} under the "
                        "header's state_root")

    # --- the validator-set chain from genesis (TRAPS #12: only sets we derived ourselves)
    vs = genesis.validator_set()
    checked: list[tuple[CommitCertificate, str]] = []
    for i, (ch, cc, new) in enumerate(changes):  # heights checked increasing and below the target
        w = f"validator_set_changes[{i}]"
        _check_block_cert(ch, cc, vs, chain_id, w)
        if ch.next_validators_hash != new.hash():
            raise _fail(f"{w}.validators is not the set its header's next_validators_hash names")
        if ch.next_validators_hash == ch.validators_hash:
            raise _fail(f"{w}: the block at height {ch.height} does not change the validator set")
        checked.append((cc, w))
        vs = new
    signers = _check_block_cert(header, cert, vs, chain_id, "block")

    # --- signatures last (the expensive part)
    checked.append((cert, "block"))
    for c, w in checked:
        _check_signatures(c, w)
    if tx is not None:
        try:
            tx.verify_signature()
        except InvalidTransaction:
            raise _fail(f"the signature of transaction {tx.tx_id.hex()} does not verify "
                        "for its sender") from None

    return Verified(
        kind=kind,
        chain_id=chain_id,
        height=header.height,
        block_hash=header.hash(),
        timestamp_ms=header.timestamp_ms,
        validators=vs,
        signers=signers,
        set_change_heights=tuple(c[0].height for c in changes),
        tx=tx,
        tx_index=index,
        tx_count=size,
        receipt=receipt,
        inclusion_only=(kind == TX_PROOF and header.receipts_root is not None
                        and receipt is None),
        contract=contract,
        key=key,
        present=None if kind == TX_PROOF else value_raw is not None,
        value=value_json,
        value_encoding=value_raw,
    )


# --------------------------------------------------------------------------- documents as text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ProofError(f"the document repeats the field {k!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ProofError(f"the document holds the non-JSON number {name}")


def parse_document(text: str | bytes) -> Any:
    """Parse proof JSON strictly: duplicate fields and NaN/Infinity are refused.

    Raises:
        ProofError: not JSON, or JSON that could be read two ways.
    """
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ProofError:
        raise
    except (ValueError, RecursionError) as e:
        raise ProofError(f"the proof is not valid JSON: {e}") from None


# --------------------------------------------------------------------------- a report's seal

#: the fields of an alert review's sealed record (``chainfin.cli_alerts.review_record``)
_RECORD_FIELDS = ("alert", "disposition", "note_sha256", "report_sha256", "nonce")


class SealMismatch(ChainfinError):
    """A report file, a disclosed review record and a proven review that do not agree."""


@dataclass(frozen=True, slots=True)
class _Review:
    """A review as a proof shows it: its alert, its number (None when proven by its
    transaction), its public ``state`` and ``commitment``, and how it was proven."""

    alert: str
    n: int | None
    review: Mapping[str, Any]
    said: str  # the "sealed by" line's text
    caveat: str | None = None


def _utc(ms: Any) -> str:
    """A block time in ms as ISO 8601 UTC to the second (a value that is none as given)."""
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ms)


def named(key: Any, names: Mapping[bytes, str] | None) -> str:
    """A key as an auditor reads it: its name in the genesis file and its first 16 hex digits
    (``bank0 (7cbc2c55a1b2c3d4…)``), or, not in the genesis file (an identity registered
    later), the 16 digits alone: the whole key is in the proof's lines below."""
    try:
        k = bytes.fromhex(str(key))
    except ValueError:
        return str(key)
    if names and k in names:
        return f"{names[k]} ({k.hex()[:16]}…)"
    return f"{k.hex()[:16]}… (not named in the genesis file)"


def _review_of(v: Verified, names: Mapping[bytes, str] | None = None) -> _Review:
    """The review a proof shows: a state proof of ``risk/review/<alert>/<n>`` that holds a
    value, or a transaction proof of the ``risk.review_alert`` that recorded it (what its
    reviewer itself is served: in ledger format 3, a bank gets its own transactions' proofs).

    Raises:
        SealMismatch: the proof is of something else, shows the key absent, or its
            transaction was refused."""
    if v.kind == TX_PROOF and v.tx is not None:
        t, args = v.tx, v.tx.args
        if (t.contract, t.method) == ("risk", "review_alert") and isinstance(
                args.get("alert"), str) and isinstance(args.get("commitment"), str):
            caveat = None
            if v.receipt is None:
                caveat = ("the outcome is not proven (an inclusion-only proof): a review the "
                          "ledger refused, as of an alert the bank had reviewed already, is in "
                          "its block too; the state proof of risk/review/<alert>/<n> (a "
                          "supervisor's) or the full proof shows it was recorded")
            elif v.receipt.get("status") != "committed":
                err = v.receipt.get("error") or {}
                raise SealMismatch(f"the review transaction {t.tx_id.hex()} was refused "
                                   f"({err.get('code')}: {err.get('message')}): it recorded "
                                   "nothing")
            return _Review(args["alert"], None, args,
                           f"the review_alert transaction {t.tx_id.hex()} of alert "
                           f"{args['alert']}: disposition reported, signed by "
                           f"{named(t.sender.hex(), names)} in the block at height "
                           f"{v.height} ({_utc(v.timestamp_ms)})", caveat)
    alert, _, n = (v.key or "").removeprefix("review/").rpartition("/")
    if (v.kind != STATE_PROOF or v.contract != "risk" or not (v.key or "").startswith("review/")
            or not alert or not n.isdigit() or n != str(int(n))):
        what = (f"{v.contract}/{v.key}" if v.kind == STATE_PROOF else "a transaction"
                + (f" of {v.tx.contract}.{v.tx.method}" if v.tx is not None else ""))
        raise SealMismatch(f"a report's seal is checked with a state proof of the review, "
                           f"risk/review/<alert id>/<n> (`chainfin proof state --contract risk "
                           f"--key review/<alert id>/<n>`), or a proof of the risk.review_alert "
                           f"transaction that recorded it; this proof is of {what}")
    if not v.present or not isinstance(v.value, dict):
        raise SealMismatch(f"the proof shows risk/{v.key} ABSENT at height {v.height}: no such "
                           "review was recorded by then")
    return _Review(alert, int(n), v.value,
                   f"review {n} of alert {alert}: disposition reported, recorded at height "
                   f"{v.value.get('height')} ({_utc(v.value.get('time_ms'))}) by "
                   f"{named(v.value.get('by'), names)}")


def _disclosed_record(doc: Any, r: _Review) -> dict[str, Any]:
    """The review record in ``doc``: the record itself, or ``chainfin alerts case --json``
    output, whose review ``r.n`` (or, for a review proven by its transaction, the review whose
    record opens its commitment) carries it (``record``) when the bank's key opened it."""
    from chainfin.cli_alerts import commitment

    if isinstance(doc, dict) and isinstance(doc.get("reviews"), list):
        rows = [x.get("record") for x in doc["reviews"] if isinstance(x, dict)]
        if r.n is not None:
            rows = [x.get("record") for x in doc["reviews"]
                    if isinstance(x, dict) and x.get("review") == r.n]
        else:
            rows = [x for x in rows if isinstance(x, dict) and set(x) == set(_RECORD_FIELDS)
                    and commitment(x) == r.review.get("commitment")] or rows
        which = f"review {r.n}" if r.n is not None else "the review"
        if not rows or not isinstance(rows[0], dict):
            raise SealMismatch(f"the case file has no opened record of {which} (the bank "
                               "writes it with `chainfin alerts case --json` under the key "
                               "the review is sealed to)")
        doc = rows[0]
    if not isinstance(doc, dict) or set(doc) != set(_RECORD_FIELDS):
        raise SealMismatch("the record file is neither a review record ({"
                           + ", ".join(_RECORD_FIELDS) + "}) nor `chainfin alerts case "
                           "--json` output")
    return doc


def check_report_seal(v: Verified, record_doc: Any, report: bytes,
                      names: Mapping[bytes, str] | None = None) -> list[str]:
    """That ``report`` (a goAML file the bank kept, ``chainfin alerts str``) is the report the
    review proven by ``v`` sealed: the disclosed ``record_doc`` opens the review's commitment
    (:func:`chainfin.cli_alerts.check_record`), its disposition is ``reported``, and its
    ``report_sha256`` is the SHA-256 of the reference the file's SHA-256 is (the review seals
    the reference's hash, decision 208). ``v`` is a state proof of ``risk/review/<alert>/<n>``
    or a proof of the ``risk.review_alert`` transaction. Lines saying what matched, for an
    auditor, the reviewer by its genesis name where ``names`` has it.

    Raises:
        SealMismatch: which of them does not hold."""
    from chainfin.cli_alerts import ReviewCheckError, check_record

    r = _review_of(v, names)
    record = _disclosed_record(record_doc, r)
    which = f"review {r.n} of alert {r.alert}" if r.n is not None else (
        f"the review of alert {r.alert} in transaction {v.tx_id.hex() if v.tx_id else '?'}")
    try:
        check_record(r.alert, dict(r.review), record)
    except ReviewCheckError as e:
        raise SealMismatch(f"the disclosed record does not open {which}: {e}") from None
    if record["disposition"] != "reported":
        raise SealMismatch(f"{which} is {record['disposition']}, not reported: it seals no "
                           "report")
    ref = hashlib.sha256(report).hexdigest()
    if hashlib.sha256(ref.encode()).hexdigest() != record["report_sha256"]:
        raise SealMismatch(f"the report file's SHA-256 is {ref}, which is not the report "
                           f"{which} sealed (the file was changed, or it is another report)")
    return [
        "SEAL MATCHES   the report file is the one the review sealed",
        f"report SHA-256: {ref} (the report reference)",
        f"sealed by:      {r.said}",
        f"commitment:     {r.review.get('commitment')} (on chain; the disclosed record opens "
        "it)",
        *([f"caveat:         {r.caveat}"] if r.caveat else []),
    ]


# --------------------------------------------------------------------------- CLI


def _genesis_hint(genesis: Genesis, text: bytes) -> str | None:
    """Why a refused proof may be of another network than ``genesis``'s, in words (the reason
    itself stays the one ``verify.js`` gives too): its block names another chain, or its first
    certificate names a validator set that is not the genesis file's. None when neither."""
    try:
        doc = json.loads(text)
        header = doc["block"]["header"]
        changes = doc["validator_set_changes"]
        first = changes[0]["header"] if changes else header
        chain, named = header["chain_id"], first["validators_hash"]
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return None
    if isinstance(chain, str) and chain != genesis.chain_id:
        return (f"this proof is of chain {chain!r} and the genesis file of chain "
                f"{genesis.chain_id!r}: verify it against the genesis of {chain!r}")
    if isinstance(named, str) and named != genesis.validator_set().hash().hex():
        return ("the proof's first certificate is not of the genesis file's validators: is the "
                "genesis file the one of the network that made the proof (a network started "
                "again under the same chain id has other validators)?")
    return None


#: a hex string longer than this (a sealed box: ~1,100 digits) is bulk to an auditor reading a
#: verdict; ``chainfin verify`` shows it by its first 16 digits and size unless --verbose
LONG_HEX = 128


class Shortener:
    """:meth:`__call__` is ``Verified.lines``' ``shown``: a JSON value with each hex string over
    :data:`LONG_HEX` digits replaced by ``"<16 digits>... (N bytes)"``; ``count`` says how many."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, v: Any) -> Any:
        if isinstance(v, str) and len(v) > LONG_HEX and len(v) % 2 == 0:
            try:
                size = len(bytes.fromhex(v))
            except ValueError:
                return v
            self.count += 1
            return f"{v[:16]}... ({size} bytes)"  # ASCII: it is printed inside JSON
        if isinstance(v, dict):
            return {k: self(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self(x) for x in v]
        return v


def verdict_lines(v: Verified, names: Mapping[bytes, str], genesis_hash: str,
                  genesis_path: str) -> list[str]:
    """What was proved, in two lines an auditor reads first: the record or transaction, its
    block's height and time, who signed it by genesis name, against which genesis."""
    what = (f"a transaction proof of {v.tx_id.hex()}" if v.tx_id is not None
            else f"a state proof of {v.contract}/{v.key}")
    signers = ", ".join(names.get(k) or f"{k.hex()[:16]}…" for k in v.signers)
    return [f"proven by:      {what} in the block at height {v.height} ({_utc(v.timestamp_ms)}), "
            f"signed by {len(v.signers)} of {v.validators.n} validators ({signers})",
            f"against:        genesis {genesis_hash} ({genesis_path}), chain {v.chain_id}"]


def _receipt_lines(v: Verified, shown: Callable[[Any], Any] | None = None) -> list[str]:
    """What a full transaction proof's receipt says beyond committed or rejected: its result
    and its events, one a line (the receipt is proven; ``Verified.lines`` keeps to the lines the
    explorer's verifier prints too)."""
    if v.receipt is None:
        return []
    show = shown or (lambda x: x)
    events = [f"{e.get('contract')}.{e.get('name')} "
              f"{json.dumps(show(e.get('data')), sort_keys=True)}"
              for e in v.receipt.get("events") or [] if isinstance(e, dict)] or ["none"]
    return [f"result:         {json.dumps(show(v.receipt.get('result')), sort_keys=True)}",
            f"events:         {events[0]}", *(f"                {e}" for e in events[1:])]


def cli_verify(args: argparse.Namespace) -> int:
    """``chainfin verify --genesis FILE PROOF [--height N] [--report FILE --record FILE]
    [--verbose]``: 0 and what was proven, 1 when the proof is invalid or the seal does not
    match (with the reason), 2 when a file cannot be read. With ``--report`` the seal's verdict
    and what the proof proved come first, the proof's lines after; a long hex string (a
    sealed box) is shortened to its first digits and size unless ``--verbose``."""
    try:
        genesis = load_genesis(args.genesis)
    except ConfigError as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2
    try:
        text = Path(args.proof).read_bytes()
    except OSError as e:
        print(f"chainfin: error: cannot read proof {args.proof}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    want = getattr(args, "height", None)
    report_path, record_path = getattr(args, "report", None), getattr(args, "record", None)
    if (report_path is None) != (record_path is None):
        print("chainfin: error: --report FILE and --record FILE go together (the report the "
              "bank kept and the review record it disclosed)", file=sys.stderr)
        return 2
    seal: tuple[bytes, Any] | None = None
    if report_path is not None:
        try:
            seal = (Path(report_path).read_bytes(), json.loads(Path(str(record_path)).read_bytes()))
        except OSError as e:
            print(f"chainfin: error: cannot read {e.filename}: {e.strerror or e}",
                  file=sys.stderr)
            return 2
        except ValueError as e:
            print(f"chainfin: error: the record {record_path} is not JSON: {e}", file=sys.stderr)
            return 2
    try:
        result = verify_proof(genesis, parse_document(text))
        if want is not None and result.height != want:
            raise ProofError(f"the proof is of the block at height {result.height}, not of "
                             f"height {want} (--height): a state proof shows the value after "
                             "its block, a transaction proof the block that holds it")
    except ProofError as e:
        print(f"chainfin: proof invalid: {e}", file=sys.stderr)
        hint = _genesis_hint(genesis, text)
        if hint:
            print(f"chainfin: {hint}", file=sys.stderr)
        return 1
    names = {bytes.fromhex(v.public_key): v.name for v in genesis.validators}
    for ident in genesis.identities:
        names.setdefault(bytes.fromhex(ident.public_key), ident.name)
    status = 0
    if seal is not None:  # the verdict first: does the file match, what proved it
        try:
            lines = check_report_seal(result, seal[1], seal[0], names)
        except SealMismatch as e:
            print(f"chainfin: seal does not match: {e}", file=sys.stderr)
            status = 1
        else:
            for line in [*lines, *verdict_lines(result, names, genesis.hash().hex(),
                                                args.genesis), ""]:
                print(line)
    short = None if getattr(args, "verbose", False) else Shortener()
    for line in [*result.lines(names, short), *_receipt_lines(result, short)]:
        print(line)
    if short is not None and short.count:
        print(f"shortened:      {short.count} hex value(s) over {LONG_HEX // 2} bytes (sealed "
              "data) shown by their first 8 bytes and size: --verbose prints them whole")
    print(f"trusted root:   genesis {genesis.hash().hex()} ({args.genesis})")
    return status
