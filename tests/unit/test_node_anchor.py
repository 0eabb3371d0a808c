"""The read log's anchor (node/anchor.py, decision 130): a node commits the head of its REST
read log to the chain when it grew, at most once an interval; ``chainfin audit reads
--verify``'s check (chainfin.client.check_read_log) finds an entry dropped or rewritten
against the anchor."""

from __future__ import annotations

from chainfin.client import check_read_log
from chainfin.store import MemoryStore
from chainfin.types import Transaction
from contracts.testing import CHAIN_ID, Ledger
from node.access import ReadLog
from node.anchor import ReadLogAnchor


def _agent(L: Ledger, reads: ReadLog, now: list[float], sent: list[Transaction],
           stats: dict[str, int]) -> ReadLogAnchor:
    return ReadLogAnchor(L.ids["bank_a"], CHAIN_ID, reads, interval_s=60, stats=stats,
                         next_nonce=lambda _: 1 + len(sent), submit=sent.append,
                         clock=lambda: now[0])


def test_the_head_is_anchored_when_the_log_grew_once_an_interval() -> None:
    L = Ledger()
    reads = ReadLog(MemoryStore())
    now, sent = [0.0], []
    stats = {"read_log_anchors": 0, "read_log_anchor_failed": 0}
    agent = _agent(L, reads, now, sent, stats)
    now[0] = 100.0
    assert agent.tick() is None  # nothing read yet: nothing to anchor
    for i in range(3):
        reads.append(1_000 + i, "ab" * 32, f"GET /v1/state/settlement/bal/{i}/USD", "auditor")
    tx = agent.tick()
    assert tx is not None and (tx.contract, tx.method) == ("governance", "anchor_read_log")
    assert tx.args == {"seq": 3, "head": reads.head}
    now[0] = 130.0
    reads.append(2_000, "ab" * 32, "GET /v1/blocks/1", "auditor")
    assert agent.tick() is None  # within the interval
    now[0] = 161.0
    assert agent.tick() is not None and stats["read_log_anchors"] == 2
    out = L.block(sent)
    assert [r.status for r in out.receipts] == ["committed", "committed"], out.receipts
    anchor = L.get("governance", "readlog/" + L.pk("bank_a"))
    assert (anchor["seq"], anchor["head"]) == (4, reads.head)
    assert [e.name for e in out.events] == ["read_log_anchored", "read_log_anchored"]


def test_a_customer_cannot_anchor() -> None:
    L = Ledger()
    L.fails("forbidden", "exporter", "governance", "anchor_read_log", seq=1, head="00" * 32)


def test_the_check_finds_a_dropped_or_rewritten_entry() -> None:
    reads = ReadLog(MemoryStore())
    for i in range(5):
        reads.append(1_000 + i, "cd" * 32, f"GET /v1/tx/{i}", "regulator")
    entries = reads.entries()
    anchor = {"seq": 4, "head": entries[3]["hash"], "height": 9}
    ok, lines = check_read_log(entries, anchor)
    assert ok and "entries 1..4 match" in lines[-1]
    assert check_read_log(entries, None)[0]  # not anchored yet: the chain alone
    # the newest entries dropped, below the anchor
    ok, lines = check_read_log(entries[:3], anchor)
    assert not ok and "dropped" in lines[-1]
    # every entry rewritten and rehashed: a consistent chain, not the anchored one
    forged = ReadLog(MemoryStore())
    for e in entries:
        forged.append(e["time_ms"], e["reader"], e["what"].replace("/v1/tx/2", "/v1/tx/9"),
                      e["rule"])
    ok, lines = check_read_log(forged.entries(), anchor)
    assert not ok and "rewritten" in lines[-1]
    # one entry changed in place
    bad = [dict(e) for e in entries]
    bad[1]["reader"] = "ef" * 32
    ok, lines = check_read_log(bad, anchor)
    assert not ok and "BROKEN at entry 2" in lines[0]
