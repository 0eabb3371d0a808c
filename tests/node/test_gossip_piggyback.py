"""Pending gossip rides in the envelope of the node's next consensus broadcast (decision 88); a
validator's clients' transactions go to the primary alone, and to the others only when no
proposal holds them in time (decisions 97, 99): a Node that is not started, its peers' queues
inspected (nothing leaves the process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainfin import codec
from chainfin.store import MemoryStore
from chainfin.types import Transaction
from node.admission import DEFERRED_GOSSIP_MAX_S, DEFERRED_GOSSIP_S, DEFERRED_LAG_FACTOR
from node.runtime import K_CONSENSUS, K_TXS, Node
from tests.fixtures import client_ids, make_genesis, validator_ids


def _node() -> tuple[Node, list[Transaction]]:
    vals, ids = validator_ids(), client_ids()
    gen = make_genesis(vals, ids)
    peers = {v.public_key: f"127.0.0.1:{1000 + i}" for i, v in enumerate(vals)}
    node = Node(vals[0], gen, MemoryStore(), "127.0.0.1", 0, peers, "node0")
    to = ids["exporter"].public_key.hex()
    txs = [Transaction.create(ids["usd_issuer"], gen.chain_id, n, "settlement", "issue",
                              {"currency": "USD", "to": to, "amount": n}) for n in (1, 2, 3)]
    return node, txs


def _queues(node: Node) -> dict[bytes, list[tuple[str, bytes]]]:
    return {k: list(p.queue) for k, p in node.transport._peers.items()}


async def test_a_broadcast_takes_the_pending_gossip_along_in_order() -> None:
    node, txs = _node()
    try:
        for tx in txs:
            node.gossip.add(tx)
        node._outbox = [(None, b"vote")]
        node._end_turn()
        assert len(node.gossip) == 0  # flushed now, not when its timer fires
        queues = _queues(node)
        assert len(queues) == 3
        for q in queues.values():  # gossip first: the peer admits the txs before the vote
            assert [k for k, _ in q] == [K_TXS, K_CONSENSUS]
            assert codec.decode(q[0][1]) == [t.encode() for t in txs]
            assert q[1][1] == b"vote"
        assert node.gossip.stats["gossip_frames_out"] == 1
    finally:
        node.gossip.close()


async def test_a_message_to_one_peer_or_an_empty_buffer_sends_no_gossip() -> None:
    node, txs = _node()
    try:
        one = next(iter(node.transport._peers))
        node.gossip.add(txs[0])
        node._outbox = [(one, b"to-one")]
        node._end_turn()
        assert len(node.gossip) == 1  # waits for its timer (or a broadcast)
        assert {k: [kind for kind, _ in q] for k, q in _queues(node).items() if q} == {
            one: [K_CONSENSUS]}
        node.gossip.close()
        node._outbox = [(None, b"vote")]
        node._end_turn()
        assert node.gossip.stats["gossip_frames_out"] == 0
        assert all([kind for kind, _ in q][-1:] == [K_CONSENSUS]
                   for q in _queues(node).values())
    finally:
        node.gossip.close()


# ------------------------------------------------------------------ a replica's txs to the primary
# (decision 97): at once in a frame of their own, besides the broadcast; nothing on the primary


@pytest.fixture
def built() -> Iterator[tuple[Node, list[Transaction]]]:
    node, txs = _node()
    yield node, txs
    node.gossip.close()
    node.to_primary.close()


def _other_primary(node: Node) -> bytes:
    node.primary = next(k for k in node.transport._peers if k != node.identity.public_key)
    return node.primary


async def test_a_replica_sends_what_it_admits_to_the_primary_alone(
        built: tuple[Node, list[Transaction]]) -> None:
    node, txs = built
    txs = txs[:2]
    primary = _other_primary(node)
    for tx in txs:
        node.admission.admit_checked(tx, gossip=True)
    # the other validators get them in the PRE-PREPARE (decision 99)
    assert len(node.to_primary) == 2 and len(node.gossip) == 0
    node.to_primary.flush()  # what its 1 ms timer does
    queues = _queues(node)
    assert [k for k, _ in queues[primary]] == [K_TXS]
    assert codec.decode(queues[primary][0][1]) == [t.encode() for t in txs]
    assert all(q == [] for k, q in queues.items() if k != primary)
    # a consensus broadcast does not take them to the replicas either
    node._outbox = [(None, b"vote")]
    node._end_turn()
    assert all([k for k, _ in q] == [K_CONSENSUS] for p, q in _queues(node).items()
               if p != primary)


async def test_the_primary_sends_itself_nothing(built: tuple[Node, list[Transaction]]) -> None:
    node, txs = built
    node.primary = node.identity.public_key
    node.admission.admit_checked(txs[0], gossip=True)
    node.to_primary.flush()
    assert all(q == [] for q in _queues(node).values())
    assert node.to_primary.stats["gossip_frames_out"] == 1  # handed over, dropped there
    assert node.transport.stats.get("dropped_no_peer", 0) == 0  # not sent to itself


async def test_what_no_proposal_holds_in_time_is_broadcast(
        built: tuple[Node, list[Transaction]]) -> None:
    node, txs = built
    _other_primary(node)
    adm = node.admission
    for tx in txs[:2]:
        adm.admit_checked(tx, gossip=True)
    t0 = adm.deferred[0][0]
    assert adm.gossip_overdue(t0 + DEFERRED_GOSSIP_S / 2) == 0  # not yet due
    adm.proposed([txs[0]])  # in a proposal: checked again later, not broadcast
    assert adm.gossip_overdue(t0 + DEFERRED_GOSSIP_S + 0.01) == 1
    assert node.gossip._buf == [txs[1].encode()]
    assert node.stats["gossip_deferred_out"] == 1
    assert [i for _, i in adm.deferred] == [txs[0].tx_id]
    # its block discarded by a view change: it is broadcast a period later
    adm.in_flight.clear()
    assert adm.gossip_overdue(t0 + DEFERRED_GOSSIP_S + 0.02) == 0
    assert adm.gossip_overdue(t0 + 2 * DEFERRED_GOSSIP_S + 0.02) == 1
    assert not adm.deferred
    # committed meanwhile: nothing to send
    adm.admit_checked(txs[2], gossip=True)
    adm.committed(1, [txs[2]])
    assert adm.gossip_overdue(adm.deferred[0][0] + DEFERRED_GOSSIP_S) == 0
    assert not adm.deferred


async def test_a_long_queue_that_keeps_committing_stretches_the_wait(
        built: tuple[Node, list[Transaction]]) -> None:
    """Near capacity the queue is longer than DEFERRED_GOSSIP_S: while blocks commit, the
    broadcast waits for twice the commit lag (decision 103); once commits stop, 0.5 s again."""
    node, txs = built
    _other_primary(node)
    adm = node.admission
    adm.admit_checked(txs[0], gossip=True)
    t0 = adm.deferred[0][0]
    adm.last_commit = t0  # a block committed just now, its transactions 0.6 s in the queue
    adm.commit_lag_s = 0.6
    wait = DEFERRED_LAG_FACTOR * 0.6
    assert adm.deferred_wait_s(t0 + 0.1) == pytest.approx(wait)
    adm.last_commit = t0 + 0.45  # still committing
    assert adm.gossip_overdue(t0 + DEFERRED_GOSSIP_S + 0.05) == 0
    assert adm.gossip_overdue(t0 + wait + 0.01) == 1
    # the lag counts only up to the cap; a short lag never shortens the base wait
    adm.commit_lag_s = 60.0
    assert adm.deferred_wait_s(adm.last_commit) == DEFERRED_GOSSIP_MAX_S
    adm.commit_lag_s = 0.01
    assert adm.deferred_wait_s(adm.last_commit) == DEFERRED_GOSSIP_S
    # commits stopped (a silent primary): the base wait, whatever the last lag was
    adm.commit_lag_s = 60.0
    adm.admit_checked(txs[1], gossip=True)
    t1 = adm.deferred[0][0]
    adm.last_commit = t1 - 0.1
    assert adm.gossip_overdue(t1 + DEFERRED_GOSSIP_S + 0.01) == 1
    assert node.stats["gossip_deferred_out"] == 2


async def test_a_new_primary_gets_what_no_proposal_holds(
        built: tuple[Node, list[Transaction]]) -> None:
    node, txs = built
    old = _other_primary(node)
    for tx in txs[:2]:
        node.admission.admit_checked(tx, gossip=True)
    node.to_primary.flush()
    node.admission.proposed([txs[0]])
    new = next(k for k in node.transport._peers if k not in (old, node.identity.public_key))
    node.io.view_changed(1, new)
    node.to_primary.flush()
    queues = _queues(node)
    assert [codec.decode(p) for k, p in queues[new] if k == K_TXS] == [[txs[1].encode()]]


async def test_an_observer_broadcasts_what_it_admits_at_once(
        built: tuple[Node, list[Transaction]]) -> None:
    node, txs = built
    _other_primary(node)
    node.admission.validating = lambda: False  # what an observer's node says
    node.admission.admit_checked(txs[0], gossip=True)
    assert len(node.gossip) == 1 and len(node.to_primary) == 0
    assert not node.admission.deferred
