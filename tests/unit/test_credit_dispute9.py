"""Decision 180: the subject disputes a record (GDPR art. 16, FCRA s. 611); every delivery
while the dispute is open says so, with the reason; the publisher, told by the event, rejects
the dispute with a reason or publishes a correction that supersedes the record (the old one is
never delivered again). Only the subject disputes, only the publisher answers: anyone else gets
the answer of no record."""

from __future__ import annotations

import pytest

from contracts import credit_sharing as cs
from contracts.testing import Ledger

C = "credit_sharing"
RECORD, FIXED = b'{"defaults":1}', b'{"defaults":0}'
SALT = bytes(range(16, 48))


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def sealed_by(L: Ledger, publisher: str, record: bytes) -> dict[str, str]:
    return cs.seal_record(record, SALT, [L.pk(publisher), L.pk("regulator")])


def publish(L: Ledger) -> str:
    return str(L.ok("bank_a", C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(RECORD, SALT),
                    sealed=sealed_by(L, "bank_a", RECORD))["record_id"])


def consented_request(L: Ledger, rid: str, bank: str = "bank_b") -> str:
    if L.get(C, f"consent/{L.pk('exporter')}/{L.pk(bank)}") is None:
        L.ok("exporter", C, "grant_consent", bank=L.pk(bank), purposes=["credit_decision"])
    r = L.ok(bank, C, "request_access", record_id=rid, purpose="credit_decision")
    assert r["status"] == "pending"
    return str(r["request_id"])


def deliver(L: Ledger, req_id: str) -> dict[str, object]:
    args = cs.answer_request(L.ids["bank_a"], L.state, req_id)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    return dict(L.get(C, "request/" + req_id))


def test_a_disputed_record_is_delivered_marked_until_the_dispute_is_rejected(
        L: Ledger) -> None:
    rid = publish(L)
    r = L.tx("exporter", C, "dispute", record_id=rid, reason="  paid in full on 3 March ")
    assert r.ok and r.result == {"record_id": rid, "dispute": "open"}
    # the publisher is told (the event names it; /v1/events sends it the event)
    assert [(e.name, e.data) for e in r.events] == [("disputed", {
        "record_id": rid, "subject": L.pk("exporter"), "publisher": L.pk("bank_a")})]
    d = L.get(C, "dispute/" + rid)
    assert (d["status"], d["reason"], d["count"]) == ("open", "paid in full on 3 March", 1)
    L.fails("dispute_open", "exporter", C, "dispute", record_id=rid, reason="again")
    got = deliver(L, consented_request(L, rid))
    assert got["disputed"] == {"reason": "paid in full on 3 March", "since_ms": d["opened_ms"]}
    assert L.last is not None and L.last.events[0].data["disputed"] is True
    L.ok("bank_a", C, "reject_dispute", record_id=rid, reason="unpaid per ledger 2026-03")
    d = L.get(C, "dispute/" + rid)
    assert (d["status"], d["answer"]) == ("rejected", "unpaid per ledger 2026-03")
    L.fails("no_open_dispute", "bank_a", C, "reject_dispute", record_id=rid, reason="x")
    assert deliver(L, consented_request(L, rid, "bank_c"))["disputed"] is None
    # it may be disputed again (new facts), a bounded number of times
    for _ in range(cs.MAX_DISPUTES - 1):
        L.ok("exporter", C, "dispute", record_id=rid, reason="new evidence")
        L.ok("bank_a", C, "reject_dispute", record_id=rid, reason="checked")
    L.fails("too_many_disputes", "exporter", C, "dispute", record_id=rid, reason="more")


def test_only_the_subject_disputes_and_only_the_publisher_answers(L: Ledger) -> None:
    rid = publish(L)
    nothing = "00" * 32
    for who in ("exporter2", "importer", "bank_b", "bank_a", "regulator"):
        L.fails("unknown_record", who, C, "dispute", record_id=rid, reason="not mine")
    L.fails("unknown_record", "exporter", C, "dispute", record_id=nothing, reason="x")
    L.ok("exporter", C, "dispute", record_id=rid, reason="wrong amount")
    L.fails("unknown_record", "bank_b", C, "reject_dispute", record_id=rid, reason="no")
    L.fails("unknown_record", "bank_b", C, "correct", record_id=rid,
            commitment=cs.make_commitment(FIXED, SALT), sealed=sealed_by(L, "bank_b", FIXED))
    for who in ("exporter", "regulator"):  # not a bank: refused by role, before any record
        L.fails("forbidden", who, C, "reject_dispute", record_id=rid, reason="no")


def test_a_correction_supersedes_the_record_and_closes_its_dispute(L: Ledger) -> None:
    rid = publish(L)
    early = consented_request(L, rid)  # pending when the correction comes
    L.ok("exporter", C, "dispute", record_id=rid, reason="one default too many")
    com = cs.make_commitment(FIXED, SALT)
    r = L.tx("bank_a", C, "correct", record_id=rid, commitment=com,
             sealed=sealed_by(L, "bank_a", FIXED))
    assert r.ok and r.events[0].name == "corrected"
    new = r.result["record_id"]
    assert r.result == {"record_id": new, "supersedes": rid, "version": 2,
                        "notices": {"sent": 0, "pending": 0}}  # nobody got it yet
    assert L.get(C, "record/" + rid)["superseded_by"] == new
    assert L.get(C, "record/" + new)["supersedes"] == rid
    d = L.get(C, "dispute/" + rid)
    assert (d["status"], d["correction"]) == ("corrected", new)
    # the old record is never delivered again: the pending request gets the correction
    stale = {"request_id": early, "sealed": cs.seal_record(RECORD, SALT, [L.pk("bank_b")])}
    L.fails("superseded", "bank_a", C, "deliver", **stale)
    L.fails("superseded", "bank_a", C, "deliver", **stale, record_id=rid)
    got = deliver(L, early)
    assert (got["record_id"], got["asked_for"], got["disputed"]) == (new, rid, None)
    assert cs.open_and_check(L.ids["bank_b"], got["sealed"], com) == FIXED
    # a new request for the old id is a request for the correction
    later = L.ok("bank_b", C, "request_access", record_id=rid, purpose="credit_decision")
    req = L.get(C, "request/" + later["request_id"])
    assert (req["record_id"], req["asked_for"]) == (new, rid)
    # the old version is neither disputed nor corrected again; the correction may be
    L.fails("superseded", "exporter", C, "dispute", record_id=rid, reason="x")
    L.fails("superseded", "bank_a", C, "correct", record_id=rid, commitment=com,
            sealed=sealed_by(L, "bank_a", FIXED))
    L.ok("exporter", C, "dispute", record_id=new, reason="still wrong")
    # a correction is sealed as a publication: to the publisher and the regulators only
    L.fails("not_consented", "bank_a", C, "correct", record_id=new, commitment=com,
            sealed=cs.seal_record(FIXED, SALT, [L.pk("bank_a"), L.pk("regulator"),
                                                L.pk("bank_b")]))


def test_a_record_has_a_bounded_number_of_versions(L: Ledger) -> None:
    rid = publish(L)
    com = cs.make_commitment(FIXED, SALT)
    for _ in range(cs.MAX_VERSIONS - 1):
        rid = L.ok("bank_a", C, "correct", record_id=rid, commitment=com,
                   sealed=sealed_by(L, "bank_a", FIXED))["record_id"]
    L.fails("too_many_corrections", "bank_a", C, "correct", record_id=rid, commitment=com,
            sealed=sealed_by(L, "bank_a", FIXED))
    assert cs.current_record(L.state, L.get(C, "record/" + rid)["supersedes"])[0] == rid
