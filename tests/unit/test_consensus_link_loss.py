"""The lost-link rule of one replica (decision 198, ``ReplicaState._link_loss_deadline``): when
it fires, and every condition that keeps it quiet."""

from __future__ import annotations

import pytest

from chainfin.consensus.api import LinkChanged, Tick
from chainfin.consensus.engine import PbftConfig
from tests.sim.harness import Cluster, make_txs


def _replica(c: Cluster) -> int:
    return next(nd.idx for nd in c.nodes if nd is not c.primary)


def test_the_rule_fires_at_the_grace_only_with_work_and_a_lost_link_to_the_primary() -> None:
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=300)
    r, p = _replica(c), c.primary.key
    e = c.nodes[r].engine
    c.step(r, LinkChanged(p, False))
    assert e._link_loss_deadline() is None  # no work: no timer, as the progress timer
    c.submit(make_txs(1), [r])
    assert e._link_loss_deadline() == c.now + 300
    c.step(r, LinkChanged(p, True))  # back within the grace: forgotten
    assert e._link_loss_deadline() is None
    c.step(r, LinkChanged(c.nodes[r].key, False))  # (its own key: ignored)
    other = next(nd.key for nd in c.nodes if nd.key not in (p, c.nodes[r].key))
    c.step(r, LinkChanged(other, False))  # a replica's link: not the primary's
    assert e._link_loss_deadline() is None
    c.clock.advance_ms(100)
    c.step(r, Tick(c.now))
    c.step(r, LinkChanged(p, False))
    c.step(r, LinkChanged(p, False))  # a second report does not move the start
    assert e._link_loss_deadline() == c.now + 300
    c.clock.advance_ms(299)
    c.step(r, Tick(c.now))
    assert not e.in_vc
    c.clock.advance_ms(1)
    c.step(r, Tick(c.now))
    assert e.in_vc and e.view == 1 and e.failed_views == 1
    assert e.stats["link_loss_view_changes"] == 1


def test_the_primary_itself_a_disabled_grace_and_a_replica_behind_never_fire() -> None:
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=0)
    r = _replica(c)
    c.submit(make_txs(1), [r])
    c.step(r, LinkChanged(c.primary.key, False))
    assert c.nodes[r].engine._link_loss_deadline() is None  # 0: off
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=300)
    p = c.primary
    c.submit(make_txs(1), [p.idx])
    c.step(p.idx, LinkChanged(c.nodes[_replica(c)].key, False))
    assert p.engine._link_loss_deadline() is None  # the primary suspects nobody
    r = _replica(c)
    c.submit(make_txs(1), [r])
    c.step(r, LinkChanged(p.key, False))
    c.nodes[r].engine._ahead = 5  # a certificate above its height: the network commits
    assert c.nodes[r].engine._link_loss_deadline() is None


def test_a_grace_past_the_timer_changes_nothing_and_a_negative_one_is_refused() -> None:
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=1000)
    r = _replica(c)
    c.submit(make_txs(1), [r])
    c.step(r, LinkChanged(c.primary.key, False))
    assert c.nodes[r].engine._link_loss_deadline() is None  # the timer comes first anyway
    with pytest.raises(ValueError):
        PbftConfig(chain_id="x", link_grace_ms=-1)
