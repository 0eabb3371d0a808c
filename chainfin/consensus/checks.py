"""Admission of received messages, the checks that only judge: each function returns the
counter a dropped message is counted under, or None when the message may be taken in. They read
what the engine passes in and change nothing; what is done with an admitted message is
:class:`~.engine.PbftEngine`'s. (The water marks of PRE-PREPARE and PREPARE are
:func:`.log.normal_drop`, beside the tables it reads.)

Signatures are checked last, after the cheap checks, as every receive path does.
"""

from __future__ import annotations

from collections.abc import Callable

from chainfin.consensus.log import (
    CheckpointVotes,
    CommitVoteOf,
    checkpoint_voted,
    commit_vote_drop,
    window_drop,
)
from chainfin.consensus.messages import PREPARE, Message
from chainfin.types import ValidatorSet

__all__ = ["checkpoint_drop", "commit_drop", "new_view_drop", "proposal_drop",
           "view_change_drop"]


def checkpoint_drop(m: Message, interval: int, low: int, ckpt: CheckpointVotes,
                    verify: Callable[[Message], bool]) -> str | None:
    """A CHECKPOINT off the interval, at or below the stable checkpoint ``low``, the sender's
    second for its height, or badly signed."""
    if m.seq % interval != 0:
        return "dropped_invalid"
    if m.seq <= low:
        return "dropped_stale"
    if checkpoint_voted(ckpt, m.sender, m.seq):
        return "dropped_duplicate"
    if not verify(m):
        return "dropped_bad_signature"
    return None


def view_change_drop(m: Message, prev: Message | None, verify: Callable[[Message], bool],
                     valid: Callable[[Message], bool]) -> str | None:
    """A VIEW-CHANGE for a view not above the sender's latest one we hold (``prev``), badly
    signed, or whose proofs do not check out (``valid``). Its view is judged by the caller."""
    if prev is not None and prev.view >= m.view:
        return "dropped_duplicate" if prev.view == m.view else "dropped_old_view"
    if not verify(m):
        return "dropped_bad_signature"
    if not valid(m):
        return "dropped_invalid"
    return None


def new_view_drop(m: Message, view: int, in_vc: bool, seen_nv: set[int], primary: bytes,
                  verify: Callable[[Message], bool]) -> str | None:
    """A NEW-VIEW for a view we left or run already, a second one for a view, not from that
    view's ``primary``, or badly signed. Its content is checked by
    :func:`.viewchange.check_new_view`."""
    w = m.view
    if w < view or (w == view and not in_vc) or w in seen_nv:
        return "dropped_old_view" if w not in seen_nv else "dropped_duplicate"
    if m.sender != primary:
        return "dropped_invalid"
    if not verify(m):
        return "dropped_bad_signature"
    return None


def commit_drop(m: Message, committed: int, low: int, log_window: int, cvote_of: CommitVoteOf,
                verify: Callable[[Message], bool]) -> str | None:
    """A COMMIT outside the log window, a duplicate or equivocation of a view we hold for its
    sender, older than the views we keep, or badly signed. COMMIT votes of any view count
    towards a certificate (a certificate is a certificate); per validator and height the votes
    of its latest few views are kept."""
    drop = window_drop(m.seq, committed, low, log_window)
    if drop is None:
        drop = commit_vote_drop(cvote_of, m.sender, m.view, m.seq, m.digest)
    if drop is None and not verify(m):
        drop = "dropped_bad_signature"
    return drop


def proposal_drop(m: Message, chain_id: str, validators: ValidatorSet,
                  signed: dict[tuple[str, int, int], bytes]) -> str | None:
    """A PRE-PREPARE (its signature already checked) whose header is not the one its primary
    may sign in its view (``dropped_invalid``: provable misbehaviour), or one we cannot vote for
    since we PREPAREd another digest at its view and height (``refused_conflicting_sign``)."""
    h = m.body.header
    if (h.view != m.view or h.proposer != m.sender or h.chain_id != chain_id
            or h.validators_hash != validators.hash()):
        return "dropped_invalid"
    prev = signed.get((PREPARE, m.view, m.seq))
    if prev is not None and prev != m.digest:
        return "refused_conflicting_sign"
    return None
