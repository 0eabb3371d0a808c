"""The credit-sharing delivery agent (node/delivery.py) on a contract-level ledger: which
requests it answers, and the nonce it signs with, taken from chain data and never from the
wall clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chainfin import execution
from chainfin.crypto import Identity
from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction
from contracts import credit_sharing as cs
from contracts.testing import CHAIN_ID, Ledger
from node.admission import next_free_nonce
from node.delivery import DeliveryAgent
from node.mempool import Mempool

C = "credit_sharing"
RECORD = b'{"exporter":"ACME","rating":"A-"}'
SALT = bytes(range(32))


def committed_nonces(L: Ledger, sender: bytes) -> list[int]:
    """The nonces ``sender`` used, from the state (as a node's ``n/`` index lists them)."""
    prefix = execution.nonce_word_key(sender, 0)[:-1]
    return [n for k, v in L.state.items_with_prefix(prefix)
            for n in execution.word_nonces(int(k.rsplit(b"/", 1)[1]), v)]


def agent_for(L: Ledger, bank: str, mempool: Mempool, stats: dict[str, int]) -> DeliveryAgent:
    def next_nonce(sender: bytes) -> int:  # as Node.next_nonce: committed, then pending
        return next_free_nonce(committed_nonces(L, sender)
                               + [t.nonce for t in mempool.by_sender(sender)])

    return DeliveryAgent(L.ids[bank], CHAIN_ID, state=lambda: L.state, next_nonce=next_nonce,
                         submit=mempool.add, stats=stats)


def two_requests(L: Ledger) -> execution.BlockResult:
    """bank_a publishes a record, the subject consents to bank_b and bank_c, and both request
    it in one block."""
    sealed = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), L.pk("regulator")])
    rid = L.ok("bank_a", C, "publish", subject=L.pk("exporter"),
               commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"]
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))
    return L.block([L.make_tx(b, C, "request_access", {"record_id": rid})
                    for b in ("bank_b", "bank_c")])


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def test_requests_of_one_block_take_consecutive_nonces_after_the_committed_ones(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    result = two_requests(L)
    assert [e.name for e in result.events] == ["access_requested", "access_requested"]

    def no_wall_clock() -> int:
        raise AssertionError("the delivery agent read the wall clock")

    monkeypatch.setattr(time, "time_ns", no_wall_clock)
    monkeypatch.setattr(time, "time", no_wall_clock)
    pool, stats = Mempool(), {"auto_deliveries": 0, "auto_delivery_failed": 0}
    sent = agent_for(L, "bank_a", pool, stats).on_commit(result, L.now_ms, L.height)
    bank = L.ids["bank_a"].public_key
    assert committed_nonces(L, bank) == [0]  # its publish
    assert [t.nonce for t in sent] == [1, 2]
    assert all(t.sender == bank and (t.contract, t.method) == (C, "deliver") for t in sent)
    assert stats == {"auto_deliveries": 2, "auto_delivery_failed": 0}
    monkeypatch.undo()
    # the deliveries commit, and the bank's next nonce is the one after them, not a time stamp
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed", "committed"]
    assert [e.name for e in out.events] == ["delivered", "delivered"]
    pool.remove([t.tx_id for t in sent])
    assert next_free_nonce(committed_nonces(L, bank)) == 3


def test_two_nodes_acting_for_one_bank_derive_the_same_nonce(L: Ledger) -> None:
    result = two_requests(L)
    stats = {"auto_deliveries": 0, "auto_delivery_failed": 0}
    first = agent_for(L, "bank_a", Mempool(), stats).on_commit(result, L.now_ms, L.height)
    second = agent_for(L, "bank_a", Mempool(), stats).on_commit(result, L.now_ms, L.height)
    assert [t.nonce for t in first] == [t.nonce for t in second] == [1, 2]


def test_requests_for_another_banks_records_are_left_alone(L: Ledger) -> None:
    result = two_requests(L)
    pool, stats = Mempool(), {"auto_deliveries": 0, "auto_delivery_failed": 0}
    assert agent_for(L, "bank_b", pool, stats).on_commit(result, L.now_ms, L.height) == []
    assert len(pool) == 0 and stats["auto_deliveries"] == 0


def test_a_refused_delivery_is_counted_and_the_rest_still_go(L: Ledger) -> None:
    result = two_requests(L)
    stats = {"auto_deliveries": 0, "auto_delivery_failed": 0}
    pool = Mempool()
    calls: list[Transaction] = []

    def submit(tx: Transaction) -> None:
        calls.append(tx)
        if len(calls) == 1:
            raise InvalidTransaction("the node's mempool is full, retry later", "mempool_full")
        pool.add(tx)

    agent = agent_for(L, "bank_a", pool, stats)
    agent.submit = submit
    sent = agent.on_commit(result, L.now_ms, L.height)
    assert len(calls) == 2 and len(sent) == 1
    assert stats == {"auto_deliveries": 1, "auto_delivery_failed": 1}


def test_a_bank_that_rotated_its_key_still_answers_its_requests(L: Ledger) -> None:
    """The request names the publisher by its identity id (its first key): a node acting for
    the bank with the key it rotated to compared the id with that key and left every request
    of the records it published since alone."""
    from contracts import governance as gov

    new = L.add_identity("bank_e_2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("bank_e")))
    L.ok("bank_e", "governance", "rotate_key", new_public_key=new.public_key.hex(),
         proof=proof.hex())
    sealed = cs.seal_record(RECORD, SALT, [new.public_key.hex(), L.pk("regulator")])
    rid = L.ok("bank_e_2", C, "publish", subject=L.pk("exporter"),
               commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"]
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    result = L.block([L.make_tx("bank_b", C, "request_access", {"record_id": rid})])
    pool, stats = Mempool(), {"auto_deliveries": 0, "auto_delivery_failed": 0}
    sent = agent_for(L, "bank_e_2", pool, stats).on_commit(result, L.now_ms, L.height)
    assert len(sent) == 1 and stats == {"auto_deliveries": 1, "auto_delivery_failed": 0}
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed"], out.receipts


# ------------------------------------------------ the sweep of pending requests (decisions 289-292)


def stats0() -> dict[str, int]:
    return {"auto_deliveries": 0, "auto_delivery_failed": 0}


def pending_request(L: Ledger, requester: str = "bank_b", retain_days: int | None = None
                    ) -> tuple[str, execution.BlockResult]:
    """bank_a publishes a record (``retain_days`` of block time), the subject consents to
    ``requester`` and it requests the record: ``(request id, the request's block)``. No node
    answers it: the publisher's node was down."""
    sealed = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), L.pk("regulator")])
    extra = {} if retain_days is None else {"retain_days": retain_days}
    rid = L.ok("bank_a", C, "publish", subject=L.pk("exporter"),
               commitment=cs.make_commitment(RECORD, SALT), sealed=sealed, **extra)["record_id"]
    if L.get(C, f"consent/{L.pk('exporter')}/{L.pk(requester)}") is None:
        L.ok("exporter", C, "grant_consent", bank=L.pk(requester))
    result = L.block([L.make_tx(requester, C, "request_access", {"record_id": rid})])
    return str(result.receipts[0].result["request_id"]), result


def idle(L: Ledger, advance_ms: int = 1000) -> execution.BlockResult:
    """A block with nothing of credit sharing in it (the chain moves on)."""
    return L.block([], advance_ms)


def no_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> int:
        raise AssertionError("the delivery agent read the wall clock")

    monkeypatch.setattr(time, "time_ns", fail)
    monkeypatch.setattr(time, "time", fail)


def test_a_request_is_listed_pending_under_its_publisher_until_delivered_or_closed(
        L: Ledger) -> None:
    """Decision 289: ``pend/<publisher>`` lists the pending requests; a delivery or a close
    takes one off, the last slot moving into its place."""
    a, _ = pending_request(L, "bank_b", retain_days=1)
    b, _ = pending_request(L, "bank_c")
    c, _ = pending_request(L, "bank_d")
    me = L.pk("bank_a")
    assert cs.pending_requests(L.state, me) == (3, [a, b, c])
    assert cs.pending_requests(L.state, me, 3, 2) == (3, [c, a])  # wraps round
    args = cs.answer_request(L.ids["bank_a"], L.state, b, L.now_ms)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    assert cs.pending_requests(L.state, me) == (2, [a, c])
    L.now_ms += cs.DAY_MS
    L.ok("bank_a", C, "close_request", request_id=a)
    assert cs.pending_requests(L.state, me) == (1, [c])
    assert L.get(C, f"pend/{me}/at/{a}") is None and L.get(C, f"pend/{me}/2") is None
    L.ok("bank_a", C, "deliver", **cs.answer_request(L.ids["bank_a"], L.state, c, L.now_ms))
    assert cs.pending_requests(L.state, me) == (0, [])
    assert L.get(C, "pend/" + me) is None


def test_a_delivery_that_failed_is_retried_by_a_later_commit(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's mempool was full when the request committed: the next commit's sweep
    delivers it (before: it stayed pending until a person acted)."""
    request_id, result = pending_request(L)
    pool, stats = Mempool(), stats0()
    agent = agent_for(L, "bank_a", pool, stats)

    def full(tx: Transaction) -> None:
        raise InvalidTransaction("the node's mempool is full, retry later", "mempool_full")

    agent.submit = full
    assert agent.on_commit(result, L.now_ms, L.height) == []
    assert stats == {"auto_deliveries": 0, "auto_delivery_failed": 1}
    agent.submit = pool.add
    later = idle(L)
    no_wall_clock(monkeypatch)
    sent = agent.on_commit(later, L.now_ms, L.height, pending=pool.by_sender)
    monkeypatch.undo()
    assert [(t.method, t.args["request_id"]) for t in sent] == [("deliver", request_id)]
    # while it waits in the mempool the next sweep leaves it alone (no second deliver)
    assert agent.on_commit(idle(L), L.now_ms, L.height, pending=pool.by_sender) == []
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed"], out.receipts
    assert L.get(C, "request/" + request_id)["status"] == "delivered"
    assert stats == {"auto_deliveries": 1, "auto_delivery_failed": 1}


def test_a_request_pending_past_its_records_end_is_closed_not_delivered(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node was down until after the record's end: it submits ``close_request`` (the
    request becomes ``expired``), not a ``deliver`` the chain refuses ``record_expired``."""
    request_id, _ = pending_request(L, retain_days=1)
    pool, stats = Mempool(), stats0()
    later = idle(L, cs.DAY_MS)
    no_wall_clock(monkeypatch)
    sent = agent_for(L, "bank_a", pool, stats).on_commit(later, L.now_ms, L.height,
                                                          pending=pool.by_sender)
    monkeypatch.undo()
    assert [(t.method, dict(t.args)) for t in sent] == [
        ("close_request", {"request_id": request_id})]
    assert stats == {"auto_deliveries": 0, "auto_delivery_failed": 0, "auto_closes": 1}
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed"], out.receipts
    assert L.get(C, "request/" + request_id)["status"] == "expired"
    assert [e.name for e in out.events] == ["request_expired"]


def test_the_agent_answers_at_the_committed_blocks_time(L: Ledger) -> None:
    """The answer is given the block's time (``answer(..., now_ms)``), never the wall clock
    nor no time at all (before: ``answer_request`` without it delivered past the end)."""
    request_id, _ = pending_request(L, retain_days=1)
    seen: list[int | None] = []

    def answer(ident: Identity, state: execution.StateView, rid: str,
               now_ms: int | None = None) -> dict[str, Any] | None:
        seen.append(now_ms)
        return cs.answer_request(ident, state, rid, now_ms)

    agent = agent_for(L, "bank_a", Mempool(), stats0())
    agent.answer = answer
    later = idle(L, cs.DAY_MS)
    sent = agent.on_commit(later, L.now_ms, L.height)
    assert seen == [L.now_ms] and [t.method for t in sent] == ["close_request"]


def test_the_sweep_is_bounded_and_comes_round_to_every_pending_request(L: Ledger) -> None:
    """At most ``sweep_max`` a commit, the slots from ``height * sweep_max`` on: every
    request comes round, whatever the first ones are."""
    ids = [pending_request(L, b)[0] for b in ("bank_b", "bank_c", "bank_b")]
    pool, stats = Mempool(), stats0()
    agent = agent_for(L, "bank_a", pool, stats)
    agent.sweep_max = 2
    seen: list[str] = []
    for _ in range(2):
        sent = agent.on_commit(idle(L), L.now_ms, L.height, pending=pool.by_sender)
        assert len(sent) <= 2
        seen += [t.args["request_id"] for t in sent]
    assert sorted(seen) == sorted(ids) and len(seen) == 3


def test_two_nodes_of_one_bank_sweep_to_the_same_transactions(L: Ledger) -> None:
    """Idempotent across two nodes: the same requests, methods and nonces; and a node that
    holds the other's transaction (gossiped) submits nothing again."""
    a, _ = pending_request(L, retain_days=1)
    b, _ = pending_request(L, "bank_c")
    later = idle(L, cs.DAY_MS)
    plans = []
    for _ in range(2):
        pool = Mempool()
        sent = agent_for(L, "bank_a", pool, stats0()).on_commit(
            later, L.now_ms, L.height, pending=pool.by_sender)
        plans.append([(t.method, t.args["request_id"], t.nonce) for t in sent])
    assert plans[0] == plans[1] == [("close_request", a, 2), ("deliver", b, 3)]
    shared, stats = Mempool(), stats0()
    first = agent_for(L, "bank_a", shared, stats).on_commit(later, L.now_ms, L.height,
                                                            pending=shared.by_sender)
    again = agent_for(L, "bank_a", shared, stats).on_commit(later, L.now_ms, L.height,
                                                            pending=shared.by_sender)
    assert len(first) == 2 and again == []


def test_a_request_whose_consent_is_gone_is_left_to_its_subject_past_the_end(
        L: Ledger) -> None:
    """Decision 291: the agent closes only what it would have delivered but for the end; a
    request whose consent was revoked is the subject's to close ``withdrawn`` (decision 250),
    so the requester, whose consent is gone, is not told by the publisher when the end
    passed."""
    request_id, _ = pending_request(L, retain_days=1)
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    later = idle(L, cs.DAY_MS)
    assert cs.closable(L.state, request_id, L.now_ms)
    pool, stats = Mempool(), stats0()
    assert agent_for(L, "bank_a", pool, stats).on_commit(later, L.now_ms, L.height) == []
    assert stats == stats0()


def test_a_failure_of_the_sweep_is_counted_never_raised(L: Ledger) -> None:
    request_id, _ = pending_request(L)
    stats = stats0()
    agent = agent_for(L, "bank_a", Mempool(), stats)

    def broken(ident: Identity, state: execution.StateView, rid: str,
               now_ms: int | None = None) -> dict[str, Any] | None:
        raise cs.RecordCheckError("own copy does not match its commitment")

    agent.answer = broken
    assert agent.on_commit(idle(L), L.now_ms, L.height) == []
    assert stats == {"auto_deliveries": 0, "auto_delivery_failed": 1}
    assert L.get(C, "request/" + request_id)["status"] == "pending"
