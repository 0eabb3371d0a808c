"""What the node tells the engine for the request timer (node/admission.py ``request_tick``):
only a transaction an honest primary would propose counts, from when it had its chance to
reach the primary; one the committed state no longer admits is dropped, not counted; the
starving ones go to the primary again. And the engine's side, driven by hand: the config knob."""

from __future__ import annotations

import time

import pytest

from chainfin.consensus.config import PbftConfig
from chainfin.crypto import Identity
from chainfin.store import MemoryStore
from chainfin.types import Transaction
from node.runtime import Node
from tests.fixtures import client_ids, make_genesis, validator_ids

T_MS = 2000


def _replica() -> tuple[Node, dict[str, Identity]]:
    """A validator that is not the primary of view 0 (not started: no sockets)."""
    validators = validator_ids(4)
    ids = client_ids()
    genesis = make_genesis(validators, ids, chain_id="chainfin-testnet-reqtimer")
    p0 = genesis.validator_set().primary(0)
    me = next(v for v in validators if v.public_key != p0)
    return Node(me, genesis, MemoryStore(), "127.0.0.1", 0, {}, "r",
                request_timeout_ms=T_MS), ids


def _issue(ids: dict[str, Identity], chain: str, nonce: int) -> Transaction:
    return Transaction.create(ids["usd_issuer"], chain, nonce, "settlement", "issue",
                              {"currency": "USD", "amount": 5,
                               "to": ids["exporter"].public_key.hex()})


async def test_a_client_transaction_counts_from_admission_once_past_half_the_timeout() -> None:
    node, ids = _replica()
    adm = node.admission
    t = _issue(ids, node.chain_id, 1)
    node.admit(t)
    start = adm.request_start[t.tx_id]
    assert adm.admitted_at[t.tx_id] == start  # it left for the primary when admitted
    assert not adm.request_tick(start + 0.4 * T_MS / 1000) and adm.oldest_start is None
    assert adm.request_tick(start + 0.6 * T_MS / 1000) and adm.oldest_start == start
    assert node.admission.pending_event().oldest_ms is not None
    adm.in_flight.add(t.tx_id)  # in a proposal this node accepted: not waiting any more
    assert adm.request_tick(start + 0.7 * T_MS / 1000) and adm.oldest_start is None
    assert node.admission.pending_event().oldest_ms is None
    adm.in_flight.clear()
    adm.committed(1, [t])
    assert t.tx_id not in adm.request_start
    assert not adm.request_tick(start + 5.0) and adm.oldest_start is None


async def test_a_gossiped_transaction_counts_from_when_it_was_passed_to_the_primary() -> None:
    node, ids = _replica()
    adm = node.admission
    t = _issue(ids, node.chain_id, 1)
    adm.admit_checked(t, gossip=False)  # heard from a peer's deferred broadcast
    heard = adm.admitted_at[t.tx_id]
    assert t.tx_id not in adm.request_start
    assert not adm.request_tick(heard + 5.0) and adm.oldest_start is None  # not counted yet
    adm.gossip_overdue(heard + 1.0)  # relayed to the primary now
    relayed = adm.request_start[t.tx_id]
    assert relayed > heard
    assert node.stats["gossip_relayed_to_primary"] == 1
    assert adm.request_tick(relayed + 0.6 * T_MS / 1000) and adm.oldest_start == relayed


async def test_a_transaction_the_committed_state_no_longer_admits_is_dropped_not_counted() -> None:
    # (as a sender whose identity was revoked after admission: under load the idle sweep
    # never runs, and without this it would start a view change every timeout)
    node, ids = _replica()
    adm = node.admission
    good = _issue(ids, node.chain_id, 1)
    node.admit(good)
    stranger = Transaction.create(Identity.generate("nobody"), node.chain_id, 1, "settlement",
                                  "issue", {"currency": "USD", "amount": 5,
                                            "to": ids["exporter"].public_key.hex()})
    node.mempool.add(stranger)  # older than ``good``, and inadmissible
    t0 = adm.admitted_at[good.tx_id] - 0.01
    adm.admitted_at = {stranger.tx_id: t0, **adm.admitted_at}
    adm.request_start[stranger.tx_id] = t0
    fut = node.wait_for(stranger.tx_id)
    assert adm.request_tick(t0 + 0.6 * T_MS / 1000 + 0.02)
    assert stranger.tx_id not in node.mempool and fut.done()
    assert fut.exception().code == "unknown_sender"  # type: ignore[union-attr]
    assert adm.oldest_start == adm.request_start[good.tx_id]  # the next one counts
    assert node.stats["pending_dropped_inadmissible"] == 1


async def test_starving_transactions_go_to_the_primary_again_every_quarter_timeout() -> None:
    node, ids = _replica()
    adm = node.admission
    sent: list[bytes] = []
    node._send_to_primary = lambda kind, payload: sent.append(payload)  # type: ignore
    adm.to_primary._broadcast = node._send_to_primary  # type: ignore[union-attr]
    t = _issue(ids, node.chain_id, 1)
    node.admit(t)
    adm.to_primary.flush()  # type: ignore[union-attr]
    sent.clear()
    start = adm.request_start[t.tx_id]
    adm.request_tick(start + 0.6 * T_MS / 1000)
    adm.to_primary.flush()  # type: ignore[union-attr]
    assert len(sent) == 1 and node.stats["request_resent_to_primary"] == 1
    adm.request_tick(start + 0.7 * T_MS / 1000)  # not a quarter timeout later: no resend
    adm.to_primary.flush()  # type: ignore[union-attr]
    assert len(sent) == 1
    adm.request_tick(start + 0.6 * T_MS / 1000 + T_MS / 4000 + 0.01)
    adm.to_primary.flush()  # type: ignore[union-attr]
    assert len(sent) == 2


async def test_the_request_timer_can_be_switched_off() -> None:
    node, ids = _replica()
    node.admission.request_timeout_s = 0
    t = _issue(ids, node.chain_id, 1)
    node.admit(t)
    assert not node.admission.request_tick(time.perf_counter() + 100)
    assert node.admission.pending_event().oldest_ms is None
    assert PbftConfig("c").request_timeout_ms == 10_000
    assert PbftConfig("c", request_timeout_ms=0).request_timeout_ms == 0
    with pytest.raises(ValueError):
        PbftConfig("c", request_timeout_ms=-1)
