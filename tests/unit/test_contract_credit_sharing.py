"""credit_sharing: publication sealed only to the publisher and regulators, consent grant/revoke,
requests refused on chain without consent, automatic delivery, and the requester's check against
the commitment. No record content may appear in clear in state, events or receipts."""

from __future__ import annotations

import pytest

from chainfin import codec
from contracts import credit_sharing as cs
from contracts.testing import Ledger

C = "credit_sharing"
RECORD = b'{"exporter":"ACME","rating":"BB+","exposure_usd":1250000,"defaults":0}'
SALT = bytes(range(16, 48))


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def publish(L: Ledger, publisher: str = "bank_a", record: bytes = RECORD,
            salt: bytes = SALT) -> str:
    sealed = cs.seal_record(record, salt, [L.pk(publisher), L.pk("regulator")])
    return str(L.ok(publisher, C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(record, salt), sealed=sealed)["record_id"])


def no_clear_content(L: Ledger) -> None:
    blob = b"".join(k + v for k, v in L.state.data.items())
    events = codec.encode([e.data for e in (L.last.events if L.last else [])])
    for secret in (RECORD, b"rating", b"BB+", b"1250000", SALT):
        assert secret not in blob and secret not in events


# ---------------------------------------------------------------------------- helpers


def test_commitment_and_sealing_helpers(L: Ledger) -> None:
    com = cs.make_commitment(RECORD, SALT)
    assert com != cs.make_commitment(RECORD, bytes(32)) and len(com) == 64
    with pytest.raises(ValueError):
        cs.make_commitment(RECORD, b"short")
    sealed = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), L.ids["bank_b"].public_key])
    assert sorted(sealed) == sorted([L.pk("bank_a"), L.pk("bank_b")])
    assert cs.open_and_check(L.ids["bank_b"], sealed, com) == RECORD
    assert cs.open_and_check(L.ids["bank_a"], sealed[L.pk("bank_a")], com, SALT) == RECORD
    with pytest.raises(cs.RecordCheckError):
        cs.open_and_check(L.ids["bank_c"], sealed, com)  # no copy for bank_c
    with pytest.raises(cs.RecordCheckError):
        cs.open_and_check(L.ids["bank_c"], sealed[L.pk("bank_a")], com)  # not its key
    with pytest.raises(cs.RecordCheckError):
        cs.open_and_check(L.ids["bank_a"], sealed, cs.make_commitment(b"other", SALT))
    with pytest.raises(cs.RecordCheckError):
        cs.open_and_check(L.ids["bank_a"], sealed, com, salt=bytes(16))


# ---------------------------------------------------------------------------- publish


def test_publish(L: Ledger) -> None:
    rid = publish(L)
    rec = L.get(C, "record/" + rid)
    assert rec["publisher"] == L.pk("bank_a") and rec["subject"] == L.pk("exporter")
    assert sorted(rec["sealed"]) == sorted([L.pk("bank_a"), L.pk("regulator")])
    assert rec["commitment"] == cs.make_commitment(RECORD, SALT)
    # the regulator can read it and check it
    assert cs.open_and_check(L.ids["regulator"], rec["sealed"], rec["commitment"]) == RECORD
    assert L.last.events[0].name == "published"
    no_clear_content(L)


def test_publish_rejections(L: Ledger) -> None:
    com = cs.make_commitment(RECORD, SALT)
    ok = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), L.pk("regulator")])
    extra = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), L.pk("regulator"), L.pk("bank_b")])
    args = {"subject": L.pk("exporter"), "commitment": com}
    # sealing to a bank without consent (every node holds every ciphertext) is refused
    L.fails("not_consented", "bank_a", C, "publish", **args, sealed=extra)
    L.fails("missing_recipient", "bank_a", C, "publish", **args,
            sealed={L.pk("bank_a"): ok[L.pk("bank_a")]})
    L.fails("missing_recipient", "bank_a", C, "publish", **args,
            sealed={L.pk("regulator"): ok[L.pk("regulator")]})
    L.fails("forbidden", "exporter", C, "publish", **args, sealed=ok)
    L.fails("forbidden", "auditor", C, "publish", **args, sealed=ok)
    L.fails("bad_field", "bank_a", C, "publish", subject=L.pk("bank_b"), commitment=com,
            sealed=ok)
    L.fails("unknown_identity", "bank_a", C, "publish", subject="ab" * 32, commitment=com,
            sealed=ok)
    L.fails("bad_field", "bank_a", C, "publish", **{**args, "commitment": "abc"}, sealed=ok)
    L.fails("bad_field", "bank_a", C, "publish", **args, sealed={})
    L.fails("bad_field", "bank_a", C, "publish", **args, sealed={"nothex": "00"})
    L.fails("bad_field", "bank_a", C, "publish", **args,
            sealed={L.pk("bank_a"): "zz", L.pk("regulator"): "00"})
    L.fails("missing_field", "bank_a", C, "publish", **args)


# ---------------------------------------------------------------------------- consent


def test_consent_grant_and_revoke(L: Ledger) -> None:
    key = f"consent/{L.pk('exporter')}/{L.pk('bank_b')}"
    r = L.tx("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    assert r.ok and r.events[0].name == "consent_granted" and L.get(C, key) is not None
    L.fails("already_consented", "exporter", C, "grant_consent", bank=L.pk("bank_b"))
    r = L.tx("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    assert r.ok and r.events[0].name == "consent_revoked" and L.get(C, key) is None
    L.fails("no_consent", "exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    L.fails("bad_field", "exporter", C, "grant_consent", bank=L.pk("importer"))  # not a bank
    L.fails("unknown_identity", "exporter", C, "grant_consent", bank="ab" * 32)
    L.fails("forbidden", "bank_a", C, "grant_consent", bank=L.pk("bank_b"))
    # anyone may withdraw a consent it gave (only its own): an auditor has none to withdraw
    L.fails("no_consent", "auditor", C, "revoke_consent", bank=L.pk("bank_b"))


# ---------------------------------------------------------------------------- request / deliver


def test_request_without_consent_is_refused_on_chain(L: Ledger) -> None:
    rid = publish(L)
    r = L.tx("bank_b", C, "request_access", record_id=rid)
    assert r.ok and r.result["status"] == "refused"  # a committed tx whose outcome is refusal
    assert [e.name for e in r.events] == ["access_refused"]
    req = L.get(C, "request/" + r.result["request_id"])
    # a bank without consent learns nothing of the record: not its publisher nor its subject
    assert req == {"record_id": rid, "requester": L.pk("bank_b"), "status": "refused"}
    assert set(r.events[0].data) == {"request_id", "record_id", "requester"}
    # nothing can be delivered for a refused request, which names no publisher: to the
    # record's publisher it is no request of its (red-team round 9)
    sealed = cs.seal_record(RECORD, SALT, [L.pk("bank_b")])
    L.fails("unknown_request", "bank_a", C, "deliver", request_id=r.result["request_id"],
            sealed=sealed)
    no_clear_content(L)


def test_full_flow_with_automatic_delivery(L: Ledger) -> None:
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    r = L.tx("bank_b", C, "request_access", record_id=rid)
    assert r.result["status"] == "pending" and r.events[0].name == "access_requested"
    req_id = r.result["request_id"]
    # only the publisher's node has anything to answer
    assert cs.answer_request(L.ids["bank_c"], L.state, req_id) is None
    args = cs.answer_request(L.ids["bank_a"], L.state, req_id)
    assert args is not None and list(args["sealed"]) == [L.pk("bank_b")]
    d = L.tx("bank_a", C, "deliver", **args)
    assert d.ok and d.events[0].name == "delivered"
    req = L.get(C, "request/" + req_id)
    assert req["status"] == "delivered"
    commitment = L.get(C, "record/" + rid)["commitment"]
    assert cs.open_and_check(L.ids["bank_b"], req["sealed"], commitment) == RECORD
    assert cs.answer_request(L.ids["bank_a"], L.state, req_id) is None  # already answered
    L.fails("request_not_pending", "bank_a", C, "deliver", **args)
    no_clear_content(L)


def test_deliver_rejections(L: Ledger) -> None:
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    req_id = L.ok("bank_b", C, "request_access", record_id=rid)["request_id"]
    to_b = cs.seal_record(RECORD, SALT, [L.pk("bank_b")])
    to_bc = cs.seal_record(RECORD, SALT, [L.pk("bank_b"), L.pk("bank_c")])
    to_c = cs.seal_record(RECORD, SALT, [L.pk("bank_c")])
    # another bank (the requester too) is answered as for no request (red-team round 9)
    L.fails("unknown_request", "bank_c", C, "deliver", request_id=req_id, sealed=to_b)
    L.fails("unknown_request", "bank_b", C, "deliver", request_id=req_id, sealed=to_b)
    L.fails("forbidden", "exporter", C, "deliver", request_id=req_id, sealed=to_b)
    L.fails("not_consented", "bank_a", C, "deliver", request_id=req_id, sealed=to_bc)
    L.fails("not_consented", "bank_a", C, "deliver", request_id=req_id, sealed=to_c)
    L.fails("unknown_request", "bank_a", C, "deliver", request_id="00" * 32, sealed=to_b)
    # consent revoked between request and delivery: the delivery is refused
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    assert cs.answer_request(L.ids["bank_a"], L.state, req_id) is None
    L.fails("not_consented", "bank_a", C, "deliver", request_id=req_id, sealed=to_b)
    assert L.get(C, "request/" + req_id)["status"] == "pending"


def test_request_rejections(L: Ledger) -> None:
    rid = publish(L)
    L.fails("own_record", "bank_a", C, "request_access", record_id=rid)
    L.fails("forbidden", "exporter", C, "request_access", record_id=rid)
    L.fails("forbidden", "regulator", C, "request_access", record_id=rid)
    L.fails("bad_field", "bank_b", C, "request_access", record_id="x")


def test_consent_is_per_subject_and_bank(L: Ledger) -> None:
    rid = publish(L)
    L.ok("exporter2", C, "grant_consent", bank=L.pk("bank_b"))  # another subject's consent
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))  # another bank
    assert L.ok("bank_b", C, "request_access", record_id=rid)["status"] == "refused"
    assert L.ok("bank_c", C, "request_access", record_id=rid)["status"] == "pending"


def test_an_unknown_record_is_refused_like_one_without_consent(L: Ledger) -> None:
    """No existence oracle: a request for a record id nobody published gets the answer of a
    request without consent (a committed refusal, the same event and the same stored shape)."""
    rid = publish(L)
    known = L.tx("bank_b", C, "request_access", record_id=rid)
    unknown = L.tx("bank_b", C, "request_access", record_id="00" * 32)
    assert known.ok and unknown.ok
    assert known.result["status"] == unknown.result["status"] == "refused"
    assert [(e.name, sorted(e.data)) for e in known.events] == \
        [(e.name, sorted(e.data)) for e in unknown.events]
    assert L.get(C, "request/" + unknown.result["request_id"]) == {
        "record_id": "00" * 32, "requester": L.pk("bank_b"), "status": "refused"}
