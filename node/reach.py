"""Quorum reachability: can what this node admits commit now, and since when not.

A block commits only with a quorum of the validator set's votes
(:func:`chainfin.consensus.quorum.quorum`). A validator that, counting itself, has authenticated
peer links to fewer validators than a quorum can commit nothing until links come back; it
still admits transactions and they commit when the quorum is back. The node knows this, so it
says so (decision 174): the ``no_quorum`` error of a pending answer to a submission,
``GET /readyz`` (503 for a load balancer), the ``quorum`` object of ``/healthz`` and
``/v1/status``, and the ``chainfin_quorum_*`` metrics.

:func:`reach_of` and :class:`QuorumWatch` are pure (links, clocks and the set are passed in);
:func:`node_reach` reads them off a running node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chainfin.consensus.quorum import quorum

if TYPE_CHECKING:
    from node.runtime import Node

log = logging.getLogger("chainfin.node")

#: a request waiting for finality is answered ``pending`` with ``no_quorum`` once this node
#: has reached fewer validators than a quorum for this long, and a submission made after
#: that is answered at once. Shorter cuts are waited out: a peer restarting (an upgrade, a
#: crash) relinks within a few seconds, and its clients would rather have the commit
NO_QUORUM_EARLY_S = 5.0
#: how often the REST server samples the links (the outage's start is known this closely)
SAMPLE_S = 0.25


@dataclass(frozen=True, slots=True)
class Reach:
    """What a node can tell of its quorum at one moment."""

    #: this node votes (an observer's commits come from validators it may not even link to:
    #: it never claims ``no_quorum``)
    validator: bool
    #: validators this node reaches: itself (a validator) and those it has a peer link to
    reached: int
    #: validators in the current set, and how many of them a quorum is
    validators: int
    quorum: int
    #: wall-clock ms since which it has reached fewer than a quorum (None: it reaches one)
    lost_since_ms: int | None
    #: seconds it has reached fewer than a quorum (0.0: it reaches one)
    lost_for_s: float
    #: ... and that has lasted the watch's ``early_s``: a waiting client is answered now
    lost_long: bool
    view: int
    #: a view change is under way here (VIEW-CHANGE sent, NEW-VIEW not yet accepted)
    view_change: bool
    #: wall-clock seconds since the newest block this node holds was stamped (None: only
    #: the genesis). It grows on an idle network too: alarming only with work pending
    last_commit_age_s: float | None

    @property
    def has_quorum(self) -> bool:
        return not self.validator or self.reached >= self.quorum

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.has_quorum, "validator": self.validator,
                "validators_reached": self.reached, "validators": self.validators,
                "quorum": self.quorum, "lost_since_ms": self.lost_since_ms,
                "lost_for_s": round(self.lost_for_s, 3), "view": self.view,
                "view_change": self.view_change,
                "last_commit_age_s": (None if self.last_commit_age_s is None
                                      else round(self.last_commit_age_s, 3))}


def reach_of(me: bytes, members: Iterable[bytes], linked: Iterable[bytes]) -> tuple[bool, int, int]:
    """``(validator, reached, n)``: whether ``me`` is in the set ``members``, how many members
    it reaches (itself counted when a member; links to non-members do not count), and the
    set's size."""
    ms = set(members)
    validator = me in ms
    reached = len(ms.intersection(linked) - {me}) + (1 if validator else 0)
    return validator, reached, len(ms)


def no_quorum_error(r: Reach) -> dict[str, Any] | None:
    """The ``error`` of a pending answer while ``r`` has no quorum (None: it has one): code
    ``no_quorum``, a sentence, and the figures it states."""
    if r.has_quorum:
        return None
    since = ("" if r.lost_since_ms is None else " since " + datetime.fromtimestamp(
        r.lost_since_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {
        "code": "no_quorum",
        "message": (f"this node reaches {r.reached} of the {r.validators} validators "
                    f"(itself included) and a quorum is {r.quorum}{since}: nothing commits "
                    "until a quorum is back. The transaction is admitted and commits then "
                    "(unless this node restarts first): ask GET /v1/tx/{tx_id} later, or send "
                    "the same signed transaction to another node (it commits once)"),
        "validators_reached": r.reached, "validators": r.validators, "quorum": r.quorum,
        "since_ms": r.lost_since_ms,
    }


class QuorumWatch:
    """Since when a node has had no quorum, and who to tell once that has lasted ``early_s``.

    ``observe`` is called with each sample (the REST server's, every :data:`SAMPLE_S`, and
    each request that asks); the callables in ``on_long_outage`` (waiting requests) are
    called once per outage, when it reaches ``early_s``."""

    def __init__(self, early_s: float = NO_QUORUM_EARLY_S) -> None:
        self.early_s = early_s
        self._lost_since: tuple[float, int] | None = None  # (monotonic s, wall ms)
        self._told = False  # on_long_outage was called for this outage
        self.on_long_outage: set[Callable[[], None]] = set()

    @property
    def lost(self) -> bool:
        """The last sample had no quorum (a hot path asks this before sampling afresh)."""
        return self._lost_since is not None

    @property
    def lost_long(self) -> bool:
        """... and the outage had lasted ``early_s`` by then."""
        return self._told

    def observe(self, has_quorum: bool, mono_s: float, wall_ms: int, reached: str = ""
                ) -> tuple[int | None, float, bool]:
        """Record one sample; returns ``(lost_since_ms, lost_for_s, lost_long)``
        (``(None, 0.0, False)`` with a quorum). An outage that lasts ``early_s`` is logged
        once (WARNING, with ``reached``: "2 of 4 validators, a quorum needs 3"), and its end
        (INFO, how long it lasted): shorter cuts, a peer restarting, are the link lines' alone."""
        if has_quorum:
            if self._told and self._lost_since is not None:
                log.info("quorum back: the node reaches a quorum of validators again after "
                         "%.1f s without one", max(0.0, mono_s - self._lost_since[0]))
            self._lost_since, self._told = None, False
            return None, 0.0, False
        if self._lost_since is None:
            self._lost_since = (mono_s, wall_ms)
        lost_for = max(0.0, mono_s - self._lost_since[0])
        if lost_for >= self.early_s and not self._told:
            self._told = True
            log.warning("no quorum for %.1f s: the node reaches %s; nothing commits, "
                        "transactions are admitted and answered 202 no_quorum, and commit "
                        "when the quorum is back", lost_for, reached or "too few validators")
            for tell in list(self.on_long_outage):
                tell()
        return self._lost_since[1], lost_for, self._told


def node_reach(node: Node) -> Reach:
    """Sample ``node``'s links into its watch (``node.admission.quorum_watch``) and say what
    it reaches now."""
    vs = node.ledger.tip.validators
    validator, reached, n = reach_of(node.identity.public_key, vs.members,
                                     node.transport.connected())
    q = quorum(n)
    wall_ms = time.time_ns() // 1_000_000
    since, lost_for, lost_long = node.admission.quorum_watch.observe(
        not validator or reached >= q, time.monotonic(), wall_ms,
        f"{reached} of {n} validators (itself included), a quorum needs {q}")
    tip = node.ledger.tip
    return Reach(validator=validator, reached=reached, validators=n, quorum=q,
                 lost_since_ms=since, lost_for_s=lost_for, lost_long=lost_long,
                 view=node.view,
                 view_change=bool(node.engine.in_vc),
                 last_commit_age_s=(None if tip.height == 0
                                    else max(0, wall_ms - tip.timestamp_ms) / 1000))


def reach_metrics(r: Reach) -> bytes:
    """The ``chainfin_quorum_*`` gauges, ``chainfin_view_change`` and
    ``chainfin_last_commit_age_seconds`` in Prometheus text."""
    rows = [
        ("chainfin_quorum_validators_reached",
         "Validators this node reaches, itself included", r.reached),
        ("chainfin_quorum_size", "Validators a quorum needs", r.quorum),
        ("chainfin_quorum_ok", "1 while this node reaches a quorum (an observer: always 1)",
         1 if r.has_quorum else 0),
        ("chainfin_quorum_lost_seconds",
         "How long this node has reached fewer validators than a quorum (0: it reaches one)",
         round(r.lost_for_s, 3)),
        ("chainfin_view_change", "1 while a view change is under way on this node",
         1 if r.view_change else 0),
    ]
    if r.last_commit_age_s is not None:
        rows.append(("chainfin_last_commit_age_seconds",
                     "Wall-clock time since the newest block this node holds was stamped",
                     round(r.last_commit_age_s, 3)))
    lines: list[str] = []
    for name, doc, value in rows:
        lines += [f"# HELP {name} {doc}", f"# TYPE {name} gauge", f"{name} {value}"]
    return ("\n".join(lines) + "\n").encode()
