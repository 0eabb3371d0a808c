"""Decisions 200-201: a correction is told to every bank the earlier version was delivered to
(GDPR art. 19, FCRA s. 611(d)) — each reads its own notice, no bank learns who else was told,
the subject lists them in its access report; a record carries a retention end after which it
is no longer delivered (GDPR art. 5(1)(e))."""

from __future__ import annotations

import pytest

from contracts import credit_sharing as cs
from contracts.testing import Ledger
from node import access

C = "credit_sharing"
RECORD, FIXED = b'{"defaults":1}', b'{"defaults":0}'
SALT = bytes(range(16, 48))


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def sealed_by(L: Ledger, record: bytes) -> dict[str, str]:
    return cs.seal_record(record, SALT, [L.pk("bank_a"), L.pk("regulator")])


def publish(L: Ledger, **extra: object) -> str:
    return str(L.ok("bank_a", C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(RECORD, SALT), sealed=sealed_by(L, RECORD),
                    **extra)["record_id"])


def delivered(L: Ledger, rid: str, bank: str, days: int = 365) -> str:
    if L.get(C, f"consent/{L.pk('exporter')}/{L.pk(bank)}") is None:
        L.ok("exporter", C, "grant_consent", bank=L.pk(bank), days=days)
    req = str(L.ok(bank, C, "request_access", record_id=rid)["request_id"])
    args = cs.answer_request(L.ids["bank_a"], L.state, req)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    return req


def correct(L: Ledger, rid: str, **extra: object):  # type: ignore[no-untyped-def]
    return L.tx("bank_a", C, "correct", record_id=rid, commitment=cs.make_commitment(FIXED, SALT),
                sealed=sealed_by(L, FIXED), **extra)


def reader(L: Ledger, who: str) -> access.Reader:
    r = access.resolve_reader(L.get, L.pk(who))
    assert r is not None
    return r


def test_a_correction_is_told_to_each_earlier_recipient_alone_and_listed_to_the_subject(
        L: Ledger) -> None:
    rid = publish(L)
    req_b = delivered(L, rid, "bank_b")
    delivered(L, rid, "bank_b")  # twice: told once
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))  # consented, never delivered
    r = correct(L, rid)
    assert r.ok and r.result["notices"] == {"sent": 1, "pending": 0}
    new = r.result["record_id"]
    b = L.pk("bank_b")
    # the bank's signed read of its inbox: record, that it was corrected, where the new one is
    assert cs.notices(L.state, b) == [{
        "record_id": rid, "publisher": L.pk("bank_a"), "status": "corrected", "version": 2,
        "correction": new, "consent": True, "corrected_height": L.height,
        "height": L.height, "timestamp_ms": L.get(C, f"notice/{b}/1")["timestamp_ms"]}]
    get = L.get
    assert access.state_rule(get, reader(L, "bank_b"), C, f"notice/{b}/1") == "notified_bank"
    for who in ("bank_c", "bank_a", "exporter", "importer"):
        assert access.state_rule(get, reader(L, who), C, f"notice/{b}/1") is None, who
        assert access.state_rule(get, reader(L, who), C, "notice/" + b) is None, who
    assert access.state_rule(get, reader(L, "regulator"), C, f"notice/{b}/1") == "regulator"
    assert cs.notices(L.state, L.pk("bank_c")) == []
    # its event stream: the notice event is bank_b's alone; bank_c is no party of it
    notes = [e for e in r.events if e.name == "correction_notice"]
    assert [e.data for e in notes] == [{"record_id": rid, "bank": b, "notice": 1}]
    ev = {"contract": C, "name": "correction_notice", "data": notes[0].data}
    assert access.event_rule(get, reader(L, "bank_b"), ev) == "own_events"
    assert access.event_rule(get, reader(L, "bank_c"), ev) is None
    # the subject (GDPR art. 19) lists whom it was told: its access report and the recipients
    rows = [L.get(C, f"access/{L.pk('exporter')}/{i}")
            for i in range(1, L.get(C, "access/" + L.pk("exporter"))["n"] + 1)]
    told = [x for x in rows if x["status"] == "notified"]
    assert [(x["requester"], x["record_id"], x["request_id"]) for x in told] == [(b, rid, req_b)]
    assert [x["bank"] for x in cs.recipients(L.state, rid)] == [b]
    for who, want in (("exporter", "subject"), ("bank_a", "publisher"), ("bank_b", None),
                      ("bank_c", None)):
        assert access.state_rule(get, reader(L, who), C, f"rcpt/{rid}/1") == want, who


def test_a_bank_whose_consent_ended_is_told_of_the_change_not_where_the_new_version_is(
        L: Ledger) -> None:
    rid = publish(L)
    delivered(L, rid, "bank_b", days=1)
    L.block([], advance_ms=2 * cs.DAY_MS)
    assert correct(L, rid).ok
    (n,) = cs.notices(L.state, L.pk("bank_b"))
    assert (n["record_id"], n["status"], n["correction"], n["consent"]) == (
        rid, "corrected", None, False)


def test_the_notices_of_a_correction_are_paged_and_the_subject_sends_the_rest(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "NOTICE_PAGE", 1)
    rid = publish(L)
    for bank in ("bank_b", "bank_c", "bank_d"):
        delivered(L, rid, bank)
    L.fails("no_pending_notices", "exporter", C, "notify_correction", record_id=rid)
    r = correct(L, rid)
    assert r.result["notices"] == {"sent": 1, "pending": 2}
    L.fails("unknown_record", "bank_b", C, "notify_correction", record_id=rid)
    assert L.ok("exporter", C, "notify_correction", record_id=rid)["notices"] == {
        "sent": 1, "pending": 1}
    assert L.ok("bank_a", C, "notify_correction", record_id=rid)["notices"] == {
        "sent": 1, "pending": 0}
    L.fails("no_pending_notices", "bank_a", C, "notify_correction", record_id=rid)
    for bank in ("bank_b", "bank_c", "bank_d"):
        assert [n["record_id"] for n in cs.notices(L.state, L.pk(bank))] == [rid], bank


def test_a_record_past_its_retention_end_is_no_longer_delivered(L: Ledger) -> None:
    L.fails("bad_field", "bank_a", C, "publish", subject=L.pk("exporter"),
            commitment=cs.make_commitment(RECORD, SALT), sealed=sealed_by(L, RECORD),
            retain_days=cs.MAX_RETENTION_DAYS + 1)
    rid = publish(L, retain_days=2)
    rec = L.get(C, "record/" + rid)
    dflt = L.get(C, "record/" + publish(L))["retain_until_ms"]  # the next block: 1 s later
    assert dflt - rec["retain_until_ms"] == (cs.MAX_RETENTION_DAYS - 2) * cs.DAY_MS + 1000
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    pending = L.ok("bank_b", C, "request_access", record_id=rid)["request_id"]
    L.block([], advance_ms=2 * cs.DAY_MS)
    # the publisher's node no longer answers, and the chain refuses a delivery
    assert cs.answer_request(L.ids["bank_a"], L.state, pending, L.now_ms) is None
    args = cs.answer_request(L.ids["bank_a"], L.state, pending)
    assert args is not None
    L.fails("record_expired", "bank_a", C, "deliver", **args)
    # a request, with a consent or without: the one answer of no consent (decision 214)
    assert L.ok("bank_b", C, "request_access", record_id=rid)["status"] == "refused"
    assert L.ok("bank_c", C, "request_access", record_id=rid)["status"] == "refused"


def test_a_correction_never_extends_the_retention_end(L: Ledger) -> None:
    rid = publish(L, retain_days=10)
    end = L.get(C, "record/" + rid)["retain_until_ms"]
    new = correct(L, rid, retain_days=100).result["record_id"]
    assert L.get(C, "record/" + new)["retain_until_ms"] == end
    newer = correct(L, new, retain_days=1).result["record_id"]
    assert L.get(C, "record/" + newer)["retain_until_ms"] < end
