"""PBFT wire messages: one signed envelope for every kind, plus the proofs view changes carry.

Envelope (a canonical msgpack array)::

    [kind, view, seq, digest, sender, signature, body, attachment]

``signature`` = ``Identity.sign("consensus", vote_message(chain_id, kind, view, seq, digest))``, so
a PREPARE or COMMIT *is* a vote: the signatures of 2f+1 (precisely ``quorum(n)``) COMMIT messages
are exactly the votes of a :class:`~chainfin.types.CommitCertificate`. What ``digest`` is depends on
the kind:

============  ======  =====================  ========================================  ==========
kind          view    seq                    digest                                    body
============  ======  =====================  ========================================  ==========
pre-prepare   v       block height           ``block.hash()``                          the block
prepare       v       block height           ``block.hash()``                          None
commit        v       block height           ``block.hash()``                          None
checkpoint    0       checkpoint height      hash of the committed block at seq        None
view-change  new v    height of base proof   ``hash_value(body)``                      ViewChange
new-view     new v    height of NV's base    ``hash_value(body)``                      NewView
============  ======  =====================  ========================================  ==========

``attachment`` is outside the signature. Only VIEW-CHANGE uses it: the full blocks of the
sender's prepared certificates, so that the new primary can re-propose a block it never saw.
A block is self-certifying (its hash is in the signed certificate), so nothing is lost by leaving
it unsigned; NEW-VIEW embeds VIEW-CHANGE envelopes with the attachment stripped.

Decoding (:meth:`MessageCodec.decode`) checks structure only and raises
:class:`~chainfin.errors.InvalidMessage`; signatures are checked separately
(:meth:`MessageCodec.verify`) after the engine has done the cheap checks (membership, duplicate,
window), so a flood of junk costs no signature verification. Both are pure functions of their
input, so a driver may memoise them (:class:`CachingCodec`: the simulator shares one between all
its nodes, since every node receives the same bytes of a broadcast).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chainfin import codec, crypto
from chainfin.errors import CodecError, InvalidMessage
from chainfin.types import Block, BlockHeader, Transaction, Vote, vote_message

__all__ = [
    "PRE_PREPARE",
    "PREPARE",
    "COMMIT",
    "CHECKPOINT",
    "VIEW_CHANGE",
    "NEW_VIEW",
    "KINDS",
    "Message",
    "PreparedCert",
    "BaseProof",
    "ViewChange",
    "NewView",
    "MessageCodec",
    "CachingCodec",
]

PRE_PREPARE = "pre-prepare"
PREPARE = "prepare"
COMMIT = "commit"
CHECKPOINT = "checkpoint"
VIEW_CHANGE = "view-change"
NEW_VIEW = "new-view"
KINDS = frozenset({PRE_PREPARE, PREPARE, COMMIT, CHECKPOINT, VIEW_CHANGE, NEW_VIEW})

_U63 = 2**63
DOMAIN = "consensus"


def _bad(cond: bool, what: str) -> None:
    if cond:
        raise InvalidMessage(what)


def _uint(v: Any, what: str) -> int:
    _bad(type(v) is not int or not 0 <= v < _U63, f"{what} must be a non-negative integer")
    return int(v)


def _b(v: Any, size: int, what: str) -> bytes:
    _bad(not isinstance(v, bytes) or len(v) != size, f"{what} must be {size} bytes")
    return bytes(v)


def _votes(v: Any, what: str, limit: int = 1024) -> tuple[Vote, ...]:
    _bad(not isinstance(v, list) or len(v) > limit, f"{what} must be a list of votes")
    out = []
    for item in v:
        _bad(not isinstance(item, list) or len(item) != 2, f"{what}: a vote is [key, signature]")
        out.append(Vote(_b(item[0], 32, "vote key"), _b(item[1], 64, "vote signature")))
    return tuple(out)


def _votes_wire(votes: Iterable[Vote]) -> list[list[bytes]]:
    return [[v.validator, v.signature] for v in sorted(votes, key=lambda x: x.validator)]


# ----------------------------------------------------------------------------- proofs


@dataclass(frozen=True, slots=True)
class PreparedCert:
    """Proof that block ``header`` was prepared at (view, seq): the primary's PRE-PREPARE signature
    and quorum(n) - 1 PREPARE votes of other validators (PBFT's P set entry)."""

    view: int
    seq: int
    header: BlockHeader
    pp_signature: bytes
    prepares: tuple[Vote, ...]

    @property
    def digest(self) -> bytes:
        return self.header.hash()

    def to_wire(self) -> dict[str, Any]:
        return {"view": self.view, "seq": self.seq, "header": self.header.to_wire(),
                "pp": self.pp_signature, "prepares": _votes_wire(self.prepares)}

    @classmethod
    def from_wire(cls, d: Any) -> PreparedCert:
        _bad(not isinstance(d, dict), "prepared certificate must be a map")
        try:
            c = cls(_uint(d["view"], "view"), _uint(d["seq"], "seq"),
                    BlockHeader.from_wire(d["header"]), _b(d["pp"], 64, "pp signature"),
                    _votes(d["prepares"], "prepares"))
        except KeyError as e:
            raise InvalidMessage(f"prepared certificate lacks {e}") from e
        _bad(c.header.height != c.seq, "prepared certificate header height != seq")
        return c


@dataclass(frozen=True, slots=True)
class BaseProof:
    """Where a VIEW-CHANGE's log starts: a height whose block is final, with the proof.

    ``kind`` is ``"genesis"`` (height 0, no votes), ``"checkpoint"`` (quorum CHECKPOINT votes: a
    stable checkpoint) or ``"commit"`` (a commit certificate's votes in ``view``)."""

    kind: str
    height: int
    block_hash: bytes
    view: int
    votes: tuple[Vote, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "height": self.height, "hash": self.block_hash,
                "view": self.view, "votes": _votes_wire(self.votes)}

    @classmethod
    def from_wire(cls, d: Any) -> BaseProof:
        _bad(not isinstance(d, dict), "base proof must be a map")
        try:
            p = cls(d["kind"], _uint(d["height"], "height"), _b(d["hash"], 32, "hash"),
                    _uint(d["view"], "view"), _votes(d["votes"], "votes"))
        except KeyError as e:
            raise InvalidMessage(f"base proof lacks {e}") from e
        _bad(p.kind not in ("genesis", "checkpoint", "commit"), "unknown base proof kind")
        _bad(p.kind == "genesis" and (p.height != 0 or len(p.votes) > 0),
             "genesis base is height 0")
        return p

    def vote_kind(self) -> str:
        return CHECKPOINT if self.kind == "checkpoint" else COMMIT


@dataclass(frozen=True, slots=True)
class ViewChange:
    """Body of VIEW-CHANGE: the sender's final base and its prepared certificates above it."""

    base: BaseProof
    prepared: tuple[PreparedCert, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"base": self.base.to_wire(), "prepared": [p.to_wire() for p in self.prepared]}

    @classmethod
    def from_wire(cls, d: Any) -> ViewChange:
        _bad(not isinstance(d, dict) or not isinstance(d.get("prepared"), list),
             "view-change body must be a map with a prepared list")
        base = BaseProof.from_wire(d.get("base"))
        prepared = tuple(PreparedCert.from_wire(p) for p in d["prepared"])
        seqs = [p.seq for p in prepared]
        _bad(len(set(seqs)) != len(seqs), "view-change lists a sequence twice")
        _bad(any(s <= base.height for s in seqs), "view-change lists a sequence below its base")
        return cls(base, prepared)


@dataclass(frozen=True, slots=True)
class NewView:
    """Body of NEW-VIEW: the VIEW-CHANGE envelopes it was computed from (attachments stripped),
    the re-proposed blocks in height order, and the new primary's PRE-PREPARE signature for each
    (PBFT's O set)."""

    view_changes: tuple[bytes, ...]
    blocks: tuple[Block, ...]
    pp_signatures: tuple[bytes, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"vcs": list(self.view_changes), "blocks": [b.to_wire() for b in self.blocks],
                "pp": list(self.pp_signatures)}

    @classmethod
    def from_wire(cls, d: Any) -> NewView:
        _bad(not isinstance(d, dict), "new-view body must be a map")
        vcs, blocks, pps = d.get("vcs"), d.get("blocks"), d.get("pp")
        _bad(not isinstance(vcs, list) or not all(isinstance(v, bytes) for v in vcs),
             "new-view vcs must be a list of envelopes")
        _bad(not isinstance(blocks, list) or not isinstance(pps, list) or len(blocks) != len(pps),
             "new-view needs one pre-prepare signature per block")
        return cls(tuple(vcs), tuple(Block.from_wire(b) for b in blocks),
                   tuple(_b(s, 64, "pp signature") for s in pps))


# ----------------------------------------------------------------------------- envelope


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded envelope. ``body`` is a Block (pre-prepare), ViewChange, NewView or None;
    ``attachment`` holds the blocks a VIEW-CHANGE carries; ``payload`` the bytes as received."""

    kind: str
    view: int
    seq: int
    digest: bytes
    sender: bytes
    signature: bytes
    body: Any
    attachment: tuple[Block, ...]
    payload: bytes

    def stripped(self) -> bytes:
        """The envelope without its (unsigned) attachment."""
        if not self.attachment:
            return self.payload
        return codec.encode([self.kind, self.view, self.seq, self.digest, self.sender,
                             self.signature, self.body.to_wire(), None])


class MessageCodec:
    """Encode, decode and verify consensus messages of one chain.

    Pure: no state besides the chain id (and the driver's ``known_tx`` lookup, which changes
    only how fast a proposal decodes, never its result). :class:`CachingCodec` adds memoisation."""

    def __init__(self, chain_id: str,
                 known_tx: Callable[[bytes], Transaction | None] | None = None) -> None:
        self.chain_id = chain_id
        # a driver's lookup of transactions it already holds, by their exact wire bytes (a node
        # passes its mempool's): a proposal's transactions are then not decoded a second time
        self.known_tx = known_tx

    # signing ----------------------------------------------------------------
    def vote_bytes(self, kind: str, view: int, seq: int, digest: bytes) -> bytes:
        return vote_message(self.chain_id, kind, view, seq, digest)

    def sign(self, identity: crypto.Identity, kind: str, view: int, seq: int,
             digest: bytes) -> bytes:
        return identity.sign(DOMAIN, self.vote_bytes(kind, view, seq, digest))

    def envelope(self, kind: str, view: int, seq: int, digest: bytes, sender: bytes,
                 signature: bytes, body: Any = None, attachment: Any = None) -> bytes:
        return codec.encode([kind, view, seq, digest, sender, signature, body, attachment])

    # verifying --------------------------------------------------------------
    def verify_vote(self, validator: bytes, kind: str, view: int, seq: int, digest: bytes,
                    signature: bytes) -> bool:
        return crypto.is_valid(validator, DOMAIN, self.vote_bytes(kind, view, seq, digest),
                               signature)

    def verify(self, msg: Message) -> bool:
        """The envelope's own signature (not the proofs inside a view change)."""
        return self.verify_vote(msg.sender, msg.kind, msg.view, msg.seq, msg.digest,
                                msg.signature)

    # decoding ---------------------------------------------------------------
    def decode(self, payload: bytes) -> Message:
        """Structural decode of one envelope.

        Raises:
            InvalidMessage: not an envelope, unknown kind, bad field, digest that does not match
                the body.
        """
        try:
            raw = codec.decode(payload)
        except CodecError as e:
            raise InvalidMessage(f"undecodable consensus message: {e}") from e
        _bad(not isinstance(raw, list) or len(raw) != 8, "a consensus message is an 8-array")
        kind, view, seq, digest, sender, sig, body, att = raw
        # (a list or a map is not hashable: the set lookup alone would raise TypeError)
        _bad(type(kind) is not str or kind not in KINDS, "unknown consensus message kind")
        view = _uint(view, "view")
        seq = _uint(seq, "seq")
        digest = _b(digest, 32, "digest")
        sender = _b(sender, 32, "sender")
        sig = _b(sig, 64, "signature")
        attachment: tuple[Block, ...] = ()
        obj: Any = None
        if kind == PRE_PREPARE:
            obj = Block.from_wire(body, self.known_tx)
            _bad(obj.hash() != digest, "pre-prepare digest is not the block hash")
            _bad(obj.height != seq, "pre-prepare block height is not its sequence number")
            _bad(att is not None, "unexpected attachment")
        elif kind in (VIEW_CHANGE, NEW_VIEW):
            _bad(codec.hash_value(body) != digest, f"{kind} digest does not match its body")
            if kind == VIEW_CHANGE:
                obj = ViewChange.from_wire(body)
                _bad(obj.base.height != seq, "view-change seq is not its base height")
                if att is not None:
                    _bad(not isinstance(att, list) or len(att) > len(obj.prepared),
                         "bad view-change attachment")
                    attachment = tuple(Block.from_wire(b) for b in att)
                    # the attachment is not signed: only the blocks its certificates name are
                    # taken, or any sender could park blocks (of any height, hence never pruned)
                    # at every replica, one VIEW-CHANGE of a higher view after another
                    digests = {pc.digest for pc in obj.prepared}
                    _bad(any(b.hash() not in digests for b in attachment),
                         "view-change attachment holds a block none of its certificates names")
            else:
                obj = NewView.from_wire(body)
                _bad(att is not None, "unexpected attachment")
        else:
            _bad(body is not None or att is not None, f"{kind} carries no body")
            if kind == CHECKPOINT:
                _bad(view != 0, "checkpoint view must be 0")
        return Message(kind, view, seq, digest, sender, sig, obj, attachment, bytes(payload))


class CachingCodec(MessageCodec):
    """A MessageCodec that memoises decode and signature checks (bounded, cleared when full).

    Results depend only on the bytes, so sharing one instance between engines is sound; the
    simulator does, which makes an n=64 run verify each broadcast once instead of 63 times."""

    def __init__(self, chain_id: str, max_entries: int = 200_000) -> None:
        super().__init__(chain_id)
        self._max = max_entries
        self._decoded: dict[bytes, Message | InvalidMessage] = {}
        self._votes: dict[tuple[bytes, str, int, int, bytes, bytes], bool] = {}
        self.hits = 0
        self.misses = 0

    def decode(self, payload: bytes) -> Message:
        r = self._decoded.get(payload)
        if r is None:
            self.misses += 1
            try:
                r = super().decode(payload)
            except InvalidMessage as e:
                r = e
            if len(self._decoded) >= self._max:
                self._decoded.clear()
            self._decoded[payload] = r
        else:
            self.hits += 1
        if isinstance(r, InvalidMessage):
            raise InvalidMessage(str(r))
        return r

    def verify_vote(self, validator: bytes, kind: str, view: int, seq: int, digest: bytes,
                    signature: bytes) -> bool:
        key = (validator, kind, view, seq, digest, signature)
        r = self._votes.get(key)
        if r is None:
            r = super().verify_vote(validator, kind, view, seq, digest, signature)
            if len(self._votes) >= self._max:
                self._votes.clear()
            self._votes[key] = r
        return r
