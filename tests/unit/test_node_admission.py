"""The node's admission policy (node/admission.py) without sockets or an event loop: the
refusals before any state is read, overload, the commit bookkeeping and the nonce rule."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from chainfin.consensus import api
from chainfin.crypto import Identity
from chainfin.errors import InvalidTransaction
from chainfin.genesis import GenesisParams
from chainfin.types import Transaction
from node.admission import OVERLOAD_LAG_S, Admission, next_free_nonce
from node.mempool import Mempool, TxGossip
from node.metrics import NodeMetrics

CHAIN = "chainfin-test"
ALICE = Identity.generate("alice")


def tx(nonce: int, who: Identity = ALICE, chain: str = CHAIN) -> Transaction:
    return Transaction.create(who, chain, nonce, "settlement", "transfer", {"amount": nonce})


class Setup:
    def __init__(self, max_block_txs: int = 4) -> None:
        self.disk_full = False
        self.mempool = Mempool()
        self.events: asyncio.Queue[api.Event] = asyncio.Queue()
        self.waiters: dict[bytes, list[Any]] = {}
        self.sent: list[tuple[str, bytes]] = []
        # admission reads the ledger only after these refusals: a stub that says so if asked
        ledger = SimpleNamespace(spec={}, tx_location=lambda _id: None)
        self.adm = Admission(
            chain_id=CHAIN, params=GenesisParams(max_block_txs=max_block_txs),
            ledger=ledger,  # type: ignore[arg-type]
            mempool=self.mempool, gossip=TxGossip(lambda k, p: self.sent.append((k, p))),
            metrics=NodeMetrics(), stats={"pending_dropped_inadmissible": 0},
            waiters=self.waiters, events=self.events, disk_full=lambda: self.disk_full)


def refused(s: Setup, t: Transaction) -> str:
    with pytest.raises(InvalidTransaction) as e:
        s.adm.admit(t)
    return e.value.code


def test_a_transaction_for_another_chain_is_refused() -> None:
    assert refused(Setup(), tx(1, chain="other-chain")) == "wrong_chain"


def test_a_node_with_a_full_disk_refuses_transactions() -> None:
    s = Setup()
    s.disk_full = True
    assert refused(s, tx(1)) == "disk_full"


def test_overloaded_only_while_slow_and_a_blocks_worth_is_pending() -> None:
    s = Setup(max_block_txs=4)
    s.adm.commit_lag_s = OVERLOAD_LAG_S + 1
    for n in range(1, 4):
        s.mempool.add(tx(n))
    assert not s.adm.overloaded()  # a short queue always drains
    s.mempool.add(tx(4))
    assert s.adm.overloaded()
    assert refused(s, tx(5)) == "overloaded"
    s.adm.commit_lag_s = OVERLOAD_LAG_S
    assert not s.adm.overloaded()


def test_a_commit_takes_its_txs_out_fails_nonce_rivals_and_measures_the_lag() -> None:
    s = Setup()
    mine, other = tx(1), tx(2)
    rival = Transaction.create(ALICE, CHAIN, 1, "settlement", "transfer", {"amount": 99})
    for t, at in ((rival, 0.0), (other, 0.0)):
        s.mempool.add(t)
        s.adm.admitted_at[t.tx_id] = at
    loop = asyncio.new_event_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    s.waiters[rival.tx_id] = [fut]
    s.adm.in_flight.add(other.tx_id)
    fins = s.adm.committed(7, [mine, other])
    assert fins[0] is None and fins[1] is not None  # ``mine`` was not admitted here
    assert s.adm.commit_lag_s == pytest.approx(fins[1] / 1000.0)
    assert len(s.mempool) == 0 and not s.adm.in_flight and not s.adm.admitted_at
    assert isinstance(fut.exception(), InvalidTransaction)
    assert fut.exception().code == "nonce_reused"  # type: ignore[union-attr]
    assert s.mempool.seen(rival.tx_id)  # late gossip of it is not decoded again
    loop.close()


def test_pending_changed_tells_an_idle_engine_at_once() -> None:
    s = Setup()
    s.mempool.add(tx(1))
    s.adm.pending_changed()
    assert s.events.get_nowait() == api.TxsPending(1, 20)  # the base pacing interval


def test_next_free_nonce_is_one_above_the_highest_until_the_top_is_used() -> None:
    assert next_free_nonce([]) == 1
    assert next_free_nonce([1, 5, 2]) == 6
    assert next_free_nonce([2**63 - 1, 1, 2]) == 3  # nonces are unique, not ordered
