"""View change, the pure part: validating VIEW-CHANGE proofs and computing NEW-VIEW from them.

The transitions (when a replica starts a view change, sends or accepts NEW-VIEW, enters a view)
are :class:`~.engine.PbftEngine`'s; these functions only compute, from what they are given, the
answers both the new primary and every replica must agree on (TRAPS #7):

* **NEW-VIEW** starts at the highest final base among the VIEW-CHANGE messages (a stable
  checkpoint or a commit certificate), takes for each later height the prepared certificate of the
  highest view, and walks up while the blocks chain; it stops at the first gap or break (nothing
  above can have been committed anywhere) and never passes a block that changes the validator set
  (:func:`select`). Below the base it re-proposes the final blocks some sender has not committed
  (:func:`final_segment`). A replica recomputes all of it from the VIEW-CHANGEs the NEW-VIEW
  carries and rejects any difference (:func:`check_new_view`).

Everything here is a function of its arguments (the engine passes its tables, read-only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chainfin import codec as _codec
from chainfin.consensus.messages import (
    CHECKPOINT,
    COMMIT,
    PRE_PREPARE,
    PREPARE,
    VIEW_CHANGE,
    BaseProof,
    Message,
    MessageCodec,
    NewView,
    PreparedCert,
    ViewChange,
)
from chainfin.consensus.quorum import quorum
from chainfin.errors import ChainfinError
from chainfin.types import Block, BlockHeader, CommitCertificate, ValidatorSet

__all__ = ["base_proof", "changes_set", "check_new_view", "final_segment", "laggard_help",
           "new_view_blocks", "new_view_body", "select", "valid_base", "valid_prepared",
           "valid_view_change", "view_change_body"]


def changes_set(h: BlockHeader) -> bool:
    """A block is *set-changing* when its header's next validators differ from its own."""
    return h.next_validators_hash != h.validators_hash


def base_proof(low_proof: BaseProof | None, tip_cert: CommitCertificate | None) -> BaseProof | None:
    """A replica's VIEW-CHANGE base: its stable checkpoint or, if higher, its last commit."""
    best = low_proof
    c = tip_cert
    if c is not None and (best is None or c.height > best.height):
        best = BaseProof("commit", c.height, c.block_hash, c.view, c.votes)
    return best


def valid_base(codec: MessageCodec, p: BaseProof, genesis_hash: bytes | None,
               hashes: Mapping[int, bytes], vs: ValidatorSet) -> bool:
    """``p`` proves its block final: the genesis we run, or a quorum of ``vs`` (the set in force
    at ``p.height``) signed it; never a block other than the one we committed at that height."""
    if p.kind == "genesis":
        return genesis_hash is not None and p.block_hash == genesis_hash
    known = hashes.get(p.height)
    if known is not None and known != p.block_hash:
        return False
    kind = p.vote_kind()
    signers = set()
    for v in p.votes:
        if v.validator in signers or v.validator not in vs:
            continue
        if not codec.verify_vote(v.validator, kind, p.view, p.height, p.block_hash,
                                 v.signature):
            return False
        signers.add(v.validator)
    return len(signers) >= quorum(vs.n)


def valid_prepared(codec: MessageCodec, pc: PreparedCert, vs: ValidatorSet) -> bool:
    """The primary's PRE-PREPARE and quorum - 1 PREPAREs of ``vs`` (the set at ``pc.seq``)."""
    primary = vs.primary(pc.view)
    d = pc.digest
    if not codec.verify_vote(primary, PRE_PREPARE, pc.view, pc.seq, d, pc.pp_signature):
        return False
    signers = set()
    for v in pc.prepares:
        if v.validator == primary or v.validator in signers or v.validator not in vs:
            continue
        if not codec.verify_vote(v.validator, PREPARE, pc.view, pc.seq, d, v.signature):
            return False
        signers.add(v.validator)
    return len(signers) >= quorum(vs.n) - 1


def valid_view_change(codec: MessageCodec, m: Message, set_at: Callable[[int], ValidatorSet],
                      genesis_hash: bytes | None, hashes: Mapping[int, bytes]) -> bool:
    """A VIEW-CHANGE's base proof and every prepared certificate it carries are valid."""
    body: ViewChange = m.body
    p = body.base
    if not valid_base(codec, p, genesis_hash, hashes, set_at(p.height)):
        return False
    return all(valid_prepared(codec, pc, set_at(pc.seq)) for pc in body.prepared)


def select(vcs: list[Message], log_window: int) -> tuple[BaseProof, list[PreparedCert]]:
    """NEW-VIEW's content, computed the same way by the new primary and every replica."""
    base: BaseProof | None = None
    for m in vcs:
        b = m.body.base
        if base is None or b.height > base.height:
            base = b
    assert base is not None
    best: dict[int, PreparedCert] = {}
    for m in vcs:
        for pc in m.body.prepared:
            if pc.seq <= base.height:
                continue
            cur = best.get(pc.seq)
            if (cur is None or pc.view > cur.view
                    or (pc.view == cur.view and pc.digest < cur.digest)):
                best[pc.seq] = pc
    chain: list[PreparedCert] = []
    prev, s = base.block_hash, base.height + 1
    while s in best and len(chain) < log_window:
        pc = best[s]
        if pc.header.prev_hash != prev:
            break
        chain.append(pc)
        if changes_set(pc.header):
            break
        prev, s = pc.digest, s + 1
    return base, chain


def final_segment(vcs: list[Message], base: BaseProof, blocks: Mapping[bytes, Block], low: int,
                  log_window: int) -> list[Block]:
    """The final blocks below the base that some VIEW-CHANGE sender has not committed.

    The base block is final, so are its ancestors, and each is fixed by the hash links: no
    choice is involved. Re-proposing them lets replicas that lag behind the base (possibly
    all honest ones, when only faulty replicas hold the base's certificate) commit them with
    certificates of their own in the new view instead of waiting for a fetch that may never
    succeed. ``blocks`` are the blocks the replica knows, by digest."""
    lo = max(min(m.body.base.height for m in vcs), low, base.height - log_window)
    seg: list[Block] = []
    d, h = base.block_hash, base.height
    while h > lo:
        b = blocks.get(d)
        if b is None or b.height != h:
            break
        seg.append(b)
        d, h = b.header.prev_hash, h - 1
    seg.reverse()
    return seg


def check_new_view(codec: MessageCodec, m: Message, validators: ValidatorSet, q: int,
                   log_window: int, hashes: Mapping[int, bytes],
                   valid_vc: Callable[[Message], bool]) -> BaseProof | None:
    """TRAPS #7: recompute NEW-VIEW from the VIEW-CHANGEs it carries; None on any difference.

    The blocks are the final segment below the base (fixed by hash links from the certified
    base block) followed by exactly the chain that :func:`select` computes above it. ``q`` is the
    quorum of the current ``validators``; ``hashes`` the committed block hashes by height."""
    nv: NewView = m.body
    w = m.view
    vcs: list[Message] = []
    senders = set()
    try:
        for raw in nv.view_changes:
            vc = codec.decode(raw)
            if (vc.kind != VIEW_CHANGE or vc.view != w or vc.sender in senders
                    or vc.sender not in validators or not codec.verify(vc)
                    or not valid_vc(vc)):
                return None
            senders.add(vc.sender)
            vcs.append(vc)
    except ChainfinError:
        return None
    if len(vcs) < q:
        return None
    base, chain = select(vcs, log_window)
    if m.seq != base.height:
        return None
    n_seg = len(nv.blocks) - len(chain)
    if n_seg < 0 or n_seg > log_window:
        return None
    seg, upper = nv.blocks[:n_seg], nv.blocks[n_seg:]
    expect = base.block_hash
    for i, b in enumerate(reversed(seg)):  # hash links down from the certified base block
        if b.hash() != expect or b.height != base.height - i:
            return None
        expect = b.header.prev_hash
    for pc, b in zip(chain, upper, strict=True):
        if b.hash() != pc.digest:
            return None
    primary = validators.primary(w)
    for b, sig in zip(nv.blocks, nv.pp_signatures, strict=True):
        d = b.hash()
        if not codec.verify_vote(primary, PRE_PREPARE, w, b.height, d, sig):
            return None
        known = hashes.get(b.height)
        if known is not None and known != d:
            return None  # would contradict a block we committed: never
    known = hashes.get(base.height)
    if known is not None and known != base.block_hash:
        return None
    return base


def laggard_help(codec: MessageCodec, seq: int, low_proof: BaseProof | None,
                 tip_cert: CommitCertificate) -> list[bytes]:
    """What to resend a replica whose VIEW-CHANGE has its base at ``seq``, below our last
    commit: the CHECKPOINT votes of our stable checkpoint when it is above ``seq`` (the COMMITs
    may lie beyond the laggard's window), then the COMMIT votes of our last certificate. Each is
    signed by its voter, so relaying is safe."""
    out: list[bytes] = []
    lp = low_proof
    if lp is not None and lp.kind == "checkpoint" and lp.height > seq:
        out.extend(codec.envelope(CHECKPOINT, 0, lp.height, lp.block_hash, v.validator,
                                  v.signature) for v in lp.votes)
    c = tip_cert
    out.extend(codec.envelope(COMMIT, c.view, c.height, c.block_hash, v.validator, v.signature)
               for v in c.votes)
    return out


def view_change_body(base: BaseProof, prepared: Mapping[int, PreparedCert],
                     blocks: Mapping[bytes, Block]) -> tuple[Any, bytes, list[Any]]:
    """A VIEW-CHANGE on ``base``: its body (the prepared certificates above the base, by
    height), the body's digest, and the attachment (the blocks we hold for them)."""
    pcs = tuple(pc for s, pc in sorted(prepared.items()) if s > base.height)
    body = ViewChange(base, pcs).to_wire()
    att = [blocks[pc.digest].to_wire() for pc in pcs if pc.digest in blocks]
    return body, _codec.hash_value(body), att


def new_view_blocks(vcs: list[Message], log_window: int, blocks: Mapping[bytes, Block],
                    low: int) -> tuple[BaseProof, list[Block] | None]:
    """The base of the new primary's NEW-VIEW and the blocks it re-proposes: the final segment
    below the base, then the chain :func:`select` picks above it; None for the blocks while
    one of the chain is not in ``blocks``."""
    base, chain = select(vcs, log_window)
    out = final_segment(vcs, base, blocks, low, log_window)
    for pc in chain:
        b = blocks.get(pc.digest)
        if b is None:
            return base, None
        out.append(b)
    return base, out


def new_view_body(vcs: list[Message], blocks: list[Block], sigs: list[bytes]) -> tuple[Any, bytes]:
    """A NEW-VIEW's body (the VIEW-CHANGEs without attachments, the blocks and their
    PRE-PREPARE signatures) and its digest."""
    body = NewView(tuple(m.stripped() for m in vcs), tuple(blocks), tuple(sigs)).to_wire()
    return body, _codec.hash_value(body)
