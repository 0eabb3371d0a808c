"""No view-change storm when the honest replicas' execution disagrees (decision 189;
docs/consensus.md, "Invalid proposals: at once, at most f times in a row").

Found in the walk-through of 2026-12-07: four nodes, two running another version of the contract
code, disagreed on a block's state root; each half found the other's proposals invalid and
changed the view at once, f + 1 VIEW-CHANGEs moved everyone, the next primary proposed at once:
view 0 to 976 in a minute, nothing committed. Here, in the hand-driven cluster of real engines,
two replicas execute with another state-root function (another "code version").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chainfin.testing import toyapp
from tests.sim.harness import Cluster, make_txs

BASE = 1000  # view_timeout_ms
STEP = 100  # ms between ticks
#: messages delivered per tick at most (the old code's storm never lets the wire empty)
PER_STEP = 400


def _diverge(c: Cluster, idx: int) -> Callable[[], None]:
    """Make replica ``idx`` build and execute blocks with :func:`_other_version`; returns the
    undo (the operator finishing the upgrade)."""
    app = c.nodes[idx].app
    saved = {name: getattr(app, name) for name in ("build", "check")}
    honest_root = toyapp.state_root

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            toyapp.state_root = lambda p, t: hashlib.sha256(  # type: ignore[assignment]
                b"contract code v2" + honest_root(p, t)).digest()
            try:
                return fn(*a, **k)
            finally:
                toyapp.state_root = honest_root
        return run

    for name, fn in saved.items():
        setattr(app, name, wrap(fn))

    def undo() -> None:
        for name, fn in saved.items():
            setattr(app, name, fn)
    return undo


def _run(c: Cluster, ms: int) -> None:
    for _ in range(ms // STEP):
        c.advance(STEP)
        c.deliver(limit=PER_STEP)


def test_two_halves_that_execute_differently_change_view_at_the_timers_pace() -> None:
    c = Cluster(4, view_timeout_ms=BASE, max_timeout_ms=600_000)
    # the primaries alternate between the halves (views 0, 2 in one, 1, 3 in the other): the
    # worst case, every primary is found invalid by the other half
    prim = [c.nodes.index(c.node_of(c.validators.primary(v))) for v in range(4)]
    undo = [_diverge(c, prim[1]), _diverge(c, prim[3])]
    c.submit(make_txs(3))
    c.deliver(limit=PER_STEP)
    _run(c, 10_000)
    views = [nd.engine.view for nd in c.nodes]
    assert c.heights() == [0, 0, 0, 0]  # safety: nothing final without a quorum that agrees
    # before decision 189: every proposal found invalid started a view change at once (the
    # view climbed by hundreds in these 10 s); now f = 1 at once, then the doubled timers
    assert max(views) <= 6, views
    assert max(views) >= 2, views
    assert all(nd.engine.stats["suspicions_deferred"] >= 1 for nd in c.nodes), \
        [nd.engine.stats["suspicions_deferred"] for nd in c.nodes]
    assert all(nd.engine.stats["proposals_rejected"] <= 6 for nd in c.nodes)
    # the operator finishes the upgrade: the next view whose primary proposes commits
    for u in undo:
        u()
    for _ in range(1200):  # up to 120 s: the timers doubled meanwhile
        c.advance(STEP)
        c.deliver(limit=PER_STEP)
        if min(c.heights()) >= 1:
            break
    assert min(c.heights()) >= 1, ([nd.engine.view for nd in c.nodes], c.heights())


def test_invalid_primaries_are_still_replaced_at_once_up_to_f_in_a_row() -> None:
    # n = 7, f = 2: the primaries of views 0 and 1 propose blocks with a wrong state root (each
    # is byzantine). Both are replaced without any timer: no clock moves until view 2 commits
    c = Cluster(7, view_timeout_ms=BASE)
    prim = [c.nodes.index(c.node_of(c.validators.primary(v))) for v in range(3)]
    _diverge(c, prim[0])
    _diverge(c, prim[1])
    c.submit(make_txs(3))
    c.deliver()
    honest = [nd for nd in c.nodes if nd.idx not in prim[:2]]
    assert c.now == 0
    assert all(nd.engine.view == 2 and not nd.engine.in_vc for nd in honest), \
        [(nd.engine.view, nd.engine.in_vc) for nd in honest]
    assert all(nd.app.height >= 1 for nd in honest), [nd.app.height for nd in honest]
    assert all(nd.engine.stats.get("suspicions_deferred", 0) == 0 for nd in honest)
