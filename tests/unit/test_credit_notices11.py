"""Decisions 248-249: the result of a dispute is told — to the subject in its own inbox with the
reason (FCRA s. 611(a)(6)), and a rejection to each bank the record was delivered to marked
disputed (paged, as decision 200's notices); a request left pending at its record's retention
end is closed ``expired`` by its publisher or subject, told to the requester, without letting
the requester probe the end."""

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


def request(L: Ledger, rid: str, bank: str) -> str:
    if L.get(C, f"consent/{L.pk('exporter')}/{L.pk(bank)}") is None:
        L.ok("exporter", C, "grant_consent", bank=L.pk(bank))
    return str(L.ok(bank, C, "request_access", record_id=rid)["request_id"])


def delivered(L: Ledger, rid: str, bank: str) -> str:
    req = request(L, rid, bank)
    args = cs.answer_request(L.ids["bank_a"], L.state, req)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    return req


def reader(L: Ledger, who: str) -> access.Reader:
    r = access.resolve_reader(L.get, L.pk(who))
    assert r is not None
    return r


def names(data: object) -> set[str]:
    return {v for v in (data.values() if isinstance(data, dict) else ()) if isinstance(v, str)}


def test_a_rejected_dispute_is_told_to_the_subject_with_its_reason_and_to_the_banks_that_had_it_marked(
        L: Ledger) -> None:
    rid = publish(L)
    delivered(L, rid, "bank_b")  # before the dispute: not marked
    L.ok("exporter", C, "dispute", record_id=rid, reason="paid in full on 3 March")
    opened = L.get(C, "dispute/" + rid)["opened_ms"]
    req_c = delivered(L, rid, "bank_c")
    delivered(L, rid, "bank_c")  # twice under the dispute: told once
    delivered(L, rid, "bank_b")  # again, now marked
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_d"))  # consented, never delivered
    assert L.get(C, f"request/{req_c}")["disputed"] == {"reason": "paid in full on 3 March",
                                                        "since_ms": opened}
    r = L.tx("bank_a", C, "reject_dispute", record_id=rid, reason="the payment bounced")
    assert r.ok and r.result == {"record_id": rid, "dispute": "rejected",
                                 "notices": {"sent": 2, "pending": 0}}
    subject, b, c = L.pk("exporter"), L.pk("bank_b"), L.pk("bank_c")
    # the subject: the result, its reason and the publisher's, in its own inbox
    (mine,) = cs.notices(L.state, subject)
    assert mine == {
        "record_id": rid, "publisher": L.pk("bank_a"), "status": "dispute_rejected",
        "dispute": 1, "reason": "paid in full on 3 March", "answer": "the payment bounced",
        "correction": None, "opened_ms": opened, "banks": 2, "height": L.height,
        "timestamp_ms": mine["timestamp_ms"]}
    # each bank that had it marked: the dispute was rejected, the record stands — not the answer
    for bank in (c, b):
        (n,) = cs.notices(L.state, bank)
        assert n == {"record_id": rid, "publisher": L.pk("bank_a"),
                     "status": "dispute_rejected", "dispute": 1, "since_ms": opened,
                     "closed_height": L.height, "height": L.height,
                     "timestamp_ms": n["timestamp_ms"]}
    assert cs.notices(L.state, L.pk("bank_d")) == []
    assert [x["bank"] for x in cs.marked_recipients(L.state, rid, 1)] == [c, b]
    # each event names its one reader; no bank learns who else was told, nor the subject's count
    notes = [e.data for e in r.events if e.name == "dispute_notice"]
    assert notes == [{"record_id": rid, "subject": subject, "notice": 1},
                     {"record_id": rid, "bank": c, "notice": 1},
                     {"record_id": rid, "bank": b, "notice": 1}]
    get = L.get
    for data in notes:
        ev = {"contract": C, "name": "dispute_notice", "data": data}
        for who in ("exporter", "bank_a", "bank_b", "bank_c", "bank_d"):
            want = "own_events" if L.pk(who) in names(data) else None
            assert access.event_rule(get, reader(L, who), ev) == want, (who, data)
    # read rules: an inbox is its owner's (and the regulators'); the list is the publisher's
    # and the subject's, never a bank's
    for key, owner in ((f"notice/{subject}/1", "exporter"), (f"notice/{c}/1", "bank_c")):
        for who in ("exporter", "bank_a", "bank_b", "bank_c", "importer"):
            got = access.state_rule(get, reader(L, who), C, key)
            assert (got is not None) == (who == owner), (key, who)
    for who, want in (("exporter", "subject"), ("bank_a", "publisher"), ("bank_b", None),
                      ("bank_c", None), ("regulator", "regulator")):
        for key in (f"rcpt/{rid}/d/1", f"rcpt/{rid}/d/1/1", f"got/{rid}/d/1/{c}"):
            assert access.state_rule(get, reader(L, who), C, key) == want, (who, key)


def test_the_notices_of_a_rejected_dispute_are_paged_and_the_subject_sends_the_rest(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "NOTICE_PAGE", 1)
    rid = publish(L)
    L.ok("exporter", C, "dispute", record_id=rid, reason="not mine")
    for bank in ("bank_b", "bank_c", "bank_d"):
        delivered(L, rid, bank)
    L.fails("no_pending_notices", "exporter", C, "notify_dispute", record_id=rid)  # still open
    r = L.tx("bank_a", C, "reject_dispute", record_id=rid, reason="it is")
    assert r.result["notices"] == {"sent": 1, "pending": 2}
    closed_at, since = L.height, L.get(C, "dispute/" + rid)["opened_ms"]
    L.fails("unknown_record", "bank_b", C, "notify_dispute", record_id=rid)
    L.fails("unknown_record", "importer", C, "notify_dispute", record_id=rid)
    assert L.ok("exporter", C, "notify_dispute", record_id=rid) == {
        "record_id": rid, "dispute": 1, "notices": {"sent": 1, "pending": 1}}
    # a second dispute opens: the first one's last bank is still told, by its number
    L.ok("exporter", C, "dispute", record_id=rid, reason="new evidence")
    L.fails("no_pending_notices", "bank_a", C, "notify_dispute", record_id=rid)
    L.fails("no_pending_notices", "bank_a", C, "notify_dispute", record_id=rid, dispute=3)
    assert L.ok("bank_a", C, "notify_dispute", record_id=rid, dispute=1)["notices"] == {
        "sent": 1, "pending": 0}
    L.fails("no_pending_notices", "bank_a", C, "notify_dispute", record_id=rid, dispute=1)
    for bank in ("bank_b", "bank_c", "bank_d"):
        (n,) = cs.notices(L.state, L.pk(bank))
        assert (n["record_id"], n["status"], n["dispute"], n["since_ms"], n["closed_height"]) \
            == (rid, "dispute_rejected", 1, since, closed_at), bank


def test_a_correction_that_closes_a_dispute_tells_the_subject_the_result(L: Ledger) -> None:
    rid = publish(L)
    L.ok("exporter", C, "dispute", record_id=rid, reason="paid")
    delivered(L, rid, "bank_b")
    r = L.tx("bank_a", C, "correct", record_id=rid, commitment=cs.make_commitment(FIXED, SALT),
             sealed=sealed_by(L, FIXED))
    assert r.ok
    new = r.result["record_id"]
    (mine,) = cs.notices(L.state, L.pk("exporter"))
    assert (mine["record_id"], mine["status"], mine["correction"], mine["answer"],
            mine["banks"]) == (rid, "dispute_corrected", new, None, 1)
    # the bank is told by decision 200's correction notice, not told twice
    assert [n["status"] for n in cs.notices(L.state, L.pk("bank_b"))] == ["corrected"]
    # a correction with no open dispute sends the subject nothing new
    r = L.tx("bank_a", C, "correct", record_id=new, commitment=cs.make_commitment(RECORD, SALT),
             sealed=sealed_by(L, RECORD))
    assert r.ok and len(cs.notices(L.state, L.pk("exporter"))) == 1


def test_a_request_pending_at_the_retention_end_is_closed_expired_and_told_to_the_requester(
        L: Ledger) -> None:
    rid = publish(L, retain_days=2)
    pending = request(L, rid, "bank_b")
    other = request(L, rid, "bank_c")
    refused = L.ok("bank_d", C, "request_access", record_id=rid)["request_id"]
    # before the end: nothing to close (the publisher and the subject know the end)
    L.fails("not_expired", "bank_a", C, "close_request", request_id=pending)
    assert not cs.closable(L.state, pending, L.now_ms)
    L.block([], advance_ms=2 * cs.DAY_MS)
    assert cs.closable(L.state, pending, L.now_ms)
    # the requester may not close it (it would learn the end by trying), nor anyone else; a
    # refused request is no one's to close
    for who in ("bank_b", "bank_c", "bank_d", "importer"):
        L.fails("unknown_request", who, C, "close_request", request_id=pending)
    L.fails("unknown_request", "bank_a", C, "close_request", request_id=refused)
    r = L.tx("bank_a", C, "close_request", request_id=pending)
    assert r.ok and r.result == {"request_id": pending, "status": "expired"}
    req = L.get(C, "request/" + pending)
    assert (req["status"], req["closed_height"]) == ("expired", L.height)
    # told to the requester: its request, and an event naming it (not the subject)
    (ev,) = [e for e in r.events if e.name == "request_expired"]
    assert ev.data == {"request_id": pending, "record_id": rid, "requester": L.pk("bank_b")}
    e = {"contract": C, "name": "request_expired", "data": ev.data}
    assert access.event_rule(L.get, reader(L, "bank_b"), e) == "own_events"
    for who in ("bank_c", "exporter"):
        assert access.event_rule(L.get, reader(L, who), e) is None, who
    assert access.state_rule(L.get, reader(L, "bank_b"), C, "request/" + pending) is not None
    # the subject's access report lists it; the subject closes the other one
    head = L.get(C, "access/" + L.pk("exporter"))["n"]
    last = L.get(C, f"access/{L.pk('exporter')}/{head}")
    assert (last["request_id"], last["status"]) == (pending, "expired")
    L.fails("request_not_pending", "bank_a", C, "close_request", request_id=pending)
    assert L.ok("exporter", C, "close_request", request_id=other)["status"] == "expired"
    assert not cs.closable(L.state, other, L.now_ms)
    # a closed request is not delivered
    L.fails("request_not_pending", "bank_a", C, "deliver", request_id=pending,
            sealed={L.pk("bank_b"): "00"})


def test_a_request_for_a_corrected_record_closes_at_the_end_of_the_version_in_force(
        L: Ledger) -> None:
    rid = publish(L, retain_days=10)
    pending = request(L, rid, "bank_b")
    L.ok("bank_a", C, "correct", record_id=rid, commitment=cs.make_commitment(FIXED, SALT),
         sealed=sealed_by(L, FIXED), retain_days=2)
    L.block([], advance_ms=2 * cs.DAY_MS)
    assert L.ok("bank_a", C, "close_request", request_id=pending)["status"] == "expired"


def test_the_subject_withdraws_a_request_its_consent_no_longer_covers_whatever_the_end(
        L: Ledger) -> None:
    rid = publish(L, retain_days=2)
    kept = request(L, rid, "bank_b")  # its consent stays
    gone = request(L, rid, "bank_c")
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_c"))
    # the consent covers it: the subject may not close it before the end; the publisher, which
    # reads no consent, may not close either (one answer, whatever the consent)
    L.fails("not_expired", "exporter", C, "close_request", request_id=kept)
    L.fails("not_expired", "bank_a", C, "close_request", request_id=gone)
    r = L.tx("exporter", C, "close_request", request_id=gone)
    assert r.ok and r.result == {"request_id": gone, "status": "withdrawn"}
    assert [(e.name, e.data["requester"]) for e in r.events] == [
        ("request_withdrawn", L.pk("bank_c"))]
    assert L.get(C, "request/" + gone)["status"] == "withdrawn"
    # after the end, a request whose consent is gone is withdrawn too: its requester is not
    # told that the end passed
    late = request(L, rid, "bank_d")
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_d"))
    L.block([], advance_ms=2 * cs.DAY_MS)
    assert L.ok("exporter", C, "close_request", request_id=late)["status"] == "withdrawn"
    assert L.ok("exporter", C, "close_request", request_id=kept)["status"] == "expired"
    head = L.get(C, "access/" + L.pk("exporter"))["n"]
    rows = [L.get(C, f"access/{L.pk('exporter')}/{i}") for i in range(1, head + 1)]
    assert [(x["request_id"], x["status"]) for x in rows if x["status"] in (
        "withdrawn", "expired")] == [(gone, "withdrawn"), (late, "withdrawn"), (kept, "expired")]


def test_the_cli_closes_a_request_and_sends_a_rejected_disputes_notices(
        capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from chainfin import cli_credit

    p = argparse.ArgumentParser()
    cli_credit.add_parser(p.add_subparsers(dest="command"))
    rid, node = "ab" * 32, ["--node", "http://127.0.0.1:1", "--key", "k", "--dry-run"]
    for argv, want in (
            (["close", "--request", rid], ("close_request", {"request_id": rid})),
            (["notify", "--record", rid, "--dispute"], ("notify_dispute", {"record_id": rid})),
            (["notify", "--record", rid, "--dispute", "2"],
             ("notify_dispute", {"record_id": rid, "dispute": 2})),
            (["notify", "--record", rid], ("notify_correction", {"record_id": rid}))):
        args = p.parse_args(["credit", *argv, *node])
        assert args.func(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["method"], out["args"]) == want, argv
