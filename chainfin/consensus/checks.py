"""Admission of received CHECKPOINT, VIEW-CHANGE and NEW-VIEW messages, the checks that only
judge: each function returns the counter a dropped message is counted under, or None when the
message may be taken in. They read what the engine passes in and change nothing; what is done
with an admitted message is :class:`~.engine.PbftEngine`'s. (PRE-PREPARE, PREPARE and COMMIT
are judged by :func:`.log.normal_drop`, :func:`.log.window_drop` and
:func:`.log.commit_vote_drop` beside the tables they read.)

Signatures are checked last, after the cheap checks, as every receive path does.
"""

from __future__ import annotations

from collections.abc import Callable

from chainfin.consensus.log import CheckpointVotes, checkpoint_voted
from chainfin.consensus.messages import Message

__all__ = ["checkpoint_drop", "new_view_drop", "view_change_drop"]


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

