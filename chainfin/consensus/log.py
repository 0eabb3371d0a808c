"""The engine's message log, the bookkeeping part: per-height slots, COMMIT and CHECKPOINT vote
tables (bounded per sender), the water marks a message must fall within, and pruning.

The decisions (when a vote counts, when a checkpoint becomes stable, when to prune) are
:class:`~.engine.PbftEngine`'s; these helpers only update and query the tables it passes in
(:func:`prune_committed` and :func:`prune_stable` say what a commit or a stable checkpoint
makes garbage).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from chainfin.consensus.messages import PRE_PREPARE, Message, PreparedCert
from chainfin.types import Block, Vote

__all__ = ["CKPT_PER_SENDER", "MAX_VIEW_AHEAD", "VOTE_VIEWS", "Slot", "admit_once", "certified",
           "checkpoint_voted", "commit_vote_drop", "drop_above", "drop_below", "drop_blocks_upto",
           "drop_senders", "drop_signed_upto", "drop_upto", "normal_drop", "note_checkpoint_vote",
           "note_commit_vote", "prepared_cert", "prune_committed", "prune_stable", "window_drop"]

MAX_VIEW_AHEAD = 4  # PRE-PREPARE/PREPARE further ahead than this are dropped, not buffered
CKPT_PER_SENDER = 4  # checkpoint votes remembered per sender (bounds memory)
VOTE_VIEWS = 4  # COMMIT votes remembered per validator and height (its latest views)

#: seq -> (view, digest) -> sender -> signature
CommitVotes = dict[int, dict[tuple[int, bytes], dict[bytes, bytes]]]
#: seq -> sender -> [(view, digest)], sorted
CommitVoteOf = dict[int, dict[bytes, list[tuple[int, bytes]]]]
#: seq -> digest -> sender -> signature
CheckpointVotes = dict[int, dict[bytes, dict[bytes, bytes]]]

class Slot:
    """Normal-case state of one sequence number in the current view."""

    __slots__ = ("seq", "digest", "block", "pp_sig", "prepares", "prepare_sent", "commit_sent",
                 "prepared", "bad", "rebroadcast", "sent")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.digest: bytes | None = None
        self.block: Block | None = None
        self.pp_sig = b""
        self.prepares: dict[bytes, dict[bytes, bytes]] = {}  # digest -> sender -> signature
        self.prepare_sent = False
        self.commit_sent = False
        self.prepared = False
        self.bad = False
        self.rebroadcast = False
        self.sent: list[bytes] = []  # what we signed for this slot, for retransmission


def drop_upto(tbl: dict[int, Any], s: int) -> None:
    """Forget every height ``<= s``."""
    for k in [k for k in tbl if k <= s]:
        del tbl[k]


def drop_above(tbl: dict[int, Any], s: int) -> None:
    """Forget every height ``> s``."""
    for k in [k for k in tbl if k > s]:
        del tbl[k]


def commit_vote_drop(cvote_of: CommitVoteOf, sender: bytes, view: int, seq: int,
                     digest: bytes) -> str | None:
    """Why a COMMIT is dropped before its signature is checked (the stat to count), or None:
    a duplicate or an equivocation of a view we hold, or older than the views we keep."""
    mine = cvote_of.get(seq)
    prev = mine.get(sender) if mine else None
    if prev:
        for v, d in prev:
            if v == view:
                return "dropped_duplicate" if d == digest else "dropped_equivocation"
        if len(prev) >= VOTE_VIEWS and view < prev[0][0]:
            return "dropped_old_view"
    return None


def note_commit_vote(cvotes: CommitVotes, cvote_of: CommitVoteOf, sender: bytes, view: int,
                     seq: int, digest: bytes, sig: bytes) -> dict[bytes, bytes]:
    """Record a COMMIT vote; return the votes for its (view, digest) at ``seq``."""
    of = cvote_of.setdefault(seq, {})
    buckets = cvotes.setdefault(seq, {})
    mine = of.setdefault(sender, [])
    mine.append((view, digest))
    mine.sort()
    if len(mine) > VOTE_VIEWS:  # bound memory: forget this validator's oldest view
        oldest = mine.pop(0)
        old = buckets.get(oldest)
        if old is not None:
            old.pop(sender, None)
            if not old:  # (an empty table left behind would grow with every new view)
                del buckets[oldest]
    votes = buckets.setdefault((view, digest), {})
    votes[sender] = sig
    return votes


def certified(buckets: dict[tuple[int, bytes], dict[bytes, bytes]],
              need: int) -> tuple[int, bytes, dict[bytes, bytes]] | None:
    """The (view, digest, votes) with at least ``need`` votes, the highest view first."""
    best: tuple[int, bytes, dict[bytes, bytes]] | None = None
    for (v, d), votes in buckets.items():
        if len(votes) >= need and (best is None or v > best[0]):
            best = (v, d, votes)
    return best


def checkpoint_voted(ckpt: CheckpointVotes, sender: bytes, s: int) -> bool:
    """``sender`` already has a CHECKPOINT vote for ``s`` (whatever its digest)."""
    votes = ckpt.get(s)
    if votes is not None:
        for dv in votes.values():
            if sender in dv:
                return True
    return False


def note_checkpoint_vote(ckpt: CheckpointVotes, ckpt_of: dict[bytes, list[int]], sender: bytes,
                         s: int, d: bytes, sig: bytes) -> dict[bytes, bytes]:
    """Record a CHECKPOINT vote; return the votes for (s, d)."""
    mine = ckpt_of.setdefault(sender, [])
    mine.append(s)
    if len(mine) > CKPT_PER_SENDER:
        old = mine.pop(0)
        by_digest = ckpt.get(old, {})
        for dv in by_digest.values():
            dv.pop(sender, None)
        # (empty tables left behind would grow with every height named: nothing prunes
        # heights above the stable checkpoint)
        for d in [d for d, dv in by_digest.items() if not dv]:
            del by_digest[d]
        if not by_digest:
            ckpt.pop(old, None)
    dv = ckpt.setdefault(s, {}).setdefault(d, {})
    dv[sender] = sig
    return dv


def drop_senders(keep: Container[bytes], cvotes: CommitVotes, cvote_of: CommitVoteOf,
                 slots: dict[int, Slot]) -> None:
    """Forget the COMMIT and PREPARE votes of every sender not in ``keep``, the set that has
    just taken over: a removed validator's vote for a height above the change must not count
    towards a quorum of the new set."""
    for of in cvote_of.values():
        for snd in [snd for snd in of if snd not in keep]:
            del of[snd]
    for buckets in cvotes.values():
        for votes in buckets.values():
            for snd in [snd for snd in votes if snd not in keep]:
                del votes[snd]
    for sl in slots.values():
        for votes in sl.prepares.values():
            for snd in [snd for snd in votes if snd not in keep]:
                del votes[snd]


def drop_below(tbl: dict[int, Any], h: int) -> None:
    """Forget every height ``< h``."""
    for k in [k for k in tbl if k < h]:
        del tbl[k]


def drop_signed_upto(signed: dict[tuple[str, int, int], bytes], s: int) -> None:
    """Forget what we signed for heights ``<= s`` (keys are (kind, view, seq))."""
    for sk in [sk for sk in signed if sk[2] <= s]:
        del signed[sk]


def drop_blocks_upto(blocks: dict[bytes, Block], h: int) -> None:
    """Forget the known blocks of height ``<= h``."""
    for bd in [bd for bd, b in blocks.items() if b.height <= h]:
        del blocks[bd]


def window_drop(s: int, committed: int, low: int, log_window: int) -> str | None:
    """Why a vote for height ``s`` is outside the log (the stat to count), or None. The water
    marks are (max(low, committed), + log_window]; at or below the last commit it is stale."""
    if s <= committed:
        return "dropped_stale"
    if s > max(low, committed) + log_window:
        return "dropped_out_of_window"
    return None


def normal_drop(m: Message, view: int, committed: int, floor: int, low: int, log_window: int,
                primary: Callable[[int], bytes]) -> str | None:
    """Why a PRE-PREPARE or PREPARE is dropped before its signature is checked, or None.

    Stale (committed, or at or below the floor of its view: only NEW-VIEW proposes there), out
    of the log window or too many views ahead, of an older view, or a PRE-PREPARE not from the
    view's primary (``primary(view)``) or a PREPARE from it."""
    s = m.seq
    if s <= committed or (s <= floor and m.view == view):
        return "dropped_stale"
    if s > max(low, committed) + log_window or m.view > view + MAX_VIEW_AHEAD:
        return "dropped_out_of_window"
    if m.view < view:
        return "dropped_old_view"
    if (m.kind == PRE_PREPARE) != (m.sender == primary(m.view)):
        return "dropped_invalid"
    return None


def prune_committed(s: int, prepared_upto: int, log_window: int, seen: dict[int, Any],
                    prepared: dict[int, Any], signed: dict[tuple[str, int, int], bytes],
                    blocks: dict[bytes, Block], hashes: dict[int, bytes]) -> None:
    """What a commit at ``s`` alone makes useless (checkpoints need not become stable: a replica
    that mostly catches up by fetching sends few CHECKPOINTs): the duplicate checks up to ``s``,
    the prepared certificates up to ``prepared_upto`` (the last certificate or checkpoint),
    what was signed and the blocks a log window below ``s``, the hashes two windows below."""
    drop_upto(seen, s)
    drop_upto(prepared, prepared_upto)
    old = s - log_window
    drop_signed_upto(signed, old)
    drop_blocks_upto(blocks, old)
    drop_below(hashes, old - log_window)


def prune_stable(s: int, committed: int, log_window: int, seen: dict[int, Any],
                 ckpt: CheckpointVotes, ckpt_of: dict[bytes, list[int]],
                 prepared: dict[int, Any], signed: dict[tuple[str, int, int], bytes],
                 own_pp: dict[tuple[int, int], Block], hashes: dict[int, bytes],
                 blocks: dict[bytes, Block], executed: dict[bytes, int],
                 slots: dict[int, Slot]) -> None:
    """Garbage-collect the message log below the stable checkpoint ``s``."""
    for tbl in (seen, ckpt, prepared):
        drop_upto(tbl, s)
    for snd, seqs in ckpt_of.items():
        ckpt_of[snd] = [x for x in seqs if x > s]
    drop_signed_upto(signed, s)
    for pk in [pk for pk in own_pp if pk[1] <= s]:
        del own_pp[pk]
    drop_below(hashes, min(s, committed) - log_window)
    # committed blocks stay until here: a NEW-VIEW may have to re-propose them
    drop_blocks_upto(blocks, min(s, committed))
    # execution verdicts only matter for blocks we may still vote on or re-propose
    keep = set(blocks)
    keep.update(sl.digest for sl in slots.values() if sl.digest is not None)
    for d in [d for d in executed if d not in keep]:
        del executed[d]


def admit_once(seen: dict[int, dict[tuple[str, bytes, int], bytes]], m: Message,
               verify: Callable[[Message], bool]) -> str | None:
    """Why a PRE-PREPARE or PREPARE is dropped as a duplicate, an equivocation (its sender's
    second digest for the kind, view and height) or for its signature, or None: then it is
    remembered."""
    bucket = seen.get(m.seq)
    key = (m.kind, m.sender, m.view)
    if bucket is not None:
        prev = bucket.get(key)
        if prev is not None:
            return "dropped_duplicate" if prev == m.digest else "dropped_equivocation"
    if not verify(m):
        return "dropped_bad_signature"
    if bucket is None:
        bucket = seen[m.seq] = {}
    bucket[key] = m.digest
    return None


def prepared_cert(view: int, sl: Slot, need: int) -> PreparedCert | None:
    """The prepared certificate of ``sl``'s proposal in ``view``: its PRE-PREPARE signature and
    the first ``need`` PREPAREs for its digest (by sender), or None while fewer are known."""
    assert sl.digest is not None and sl.block is not None
    votes = sl.prepares.get(sl.digest, {})
    if len(votes) < need:
        return None
    chosen = sorted(votes.items())[:need]
    return PreparedCert(view, sl.seq, sl.block.header, sl.pp_sig,
                        tuple(Vote(k, v) for k, v in chosen))
