"""The credit-sharing delivery agent (node/delivery.py) on a contract-level ledger: which
requests it answers, and the nonce it signs with, taken from chain data and never from the
wall clock."""

from __future__ import annotations

import time

import pytest

from chainfin import execution
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
    sent = agent_for(L, "bank_a", pool, stats).on_commit(result)
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
    first = agent_for(L, "bank_a", Mempool(), stats).on_commit(result)
    second = agent_for(L, "bank_a", Mempool(), stats).on_commit(result)
    assert [t.nonce for t in first] == [t.nonce for t in second] == [1, 2]


def test_requests_for_another_banks_records_are_left_alone(L: Ledger) -> None:
    result = two_requests(L)
    pool, stats = Mempool(), {"auto_deliveries": 0, "auto_delivery_failed": 0}
    assert agent_for(L, "bank_b", pool, stats).on_commit(result) == []
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
    sent = agent.on_commit(result)
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
    sent = agent_for(L, "bank_e_2", pool, stats).on_commit(result)
    assert len(sent) == 1 and stats == {"auto_deliveries": 1, "auto_delivery_failed": 0}
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed"], out.receipts
