"""Decision 179: a consent names its purposes, ends, and may be limited to one publisher; a
request states its purpose and is refused (on chain, the answer of no consent) when no live
consent covers it; a delivery checks again when it executes; a consent recorded before the
decision covers any purpose until revoked; the subject's access report (GDPR art. 15)."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import cli_credit
from contracts import credit_sharing as cs
from contracts.testing import Ledger

C = "credit_sharing"
RECORD = b'{"rating":"BB+"}'
SALT = bytes(range(16, 48))


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def publish(L: Ledger, publisher: str = "bank_a") -> str:
    sealed = cs.seal_record(RECORD, SALT, [L.pk(publisher), L.pk("regulator")])
    return str(L.ok(publisher, C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"])


def ask(L: Ledger, rid: str, purpose: str | None = "credit_decision", bank: str = "bank_b"
        ) -> dict[str, Any]:
    args = {"record_id": rid} | ({"purpose": purpose} if purpose else {})
    r = L.tx(bank, C, "request_access", **args)
    assert r.ok, r.error_code
    return {"status": r.result["status"], "events": [(e.name, sorted(e.data)) for e in r.events],
            "stored": L.get(C, "request/" + r.result["request_id"]), "id": r.result["request_id"]}


def refused_like_no_consent(L: Ledger, got: dict[str, Any], rid: str,
                            purpose: str = "credit_decision") -> None:
    assert got["status"] == "refused"
    assert got["events"] == [("access_refused", ["record_id", "request_id", "requester"])]
    assert got["stored"] == {"record_id": rid, "requester": L.pk("bank_b"), "status": "refused",
                             "purpose": purpose}


def test_a_consent_names_purposes_an_end_and_maybe_one_publisher(L: Ledger) -> None:
    r = L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"),
             purposes=["account_review", "credit_decision"], days=30, publisher=L.pk("bank_a"))
    stored = L.get(C, f"consent/{L.pk('exporter')}/{L.pk('bank_b')}")
    assert stored["purposes"] == ["account_review", "credit_decision"]
    assert stored["until_ms"] == L.now_ms + 30 * cs.DAY_MS == r["until_ms"]
    assert stored["publisher"] == L.pk("bank_a")
    # a consent naming no purpose covers any, and ends too (a year by default)
    r = L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))
    assert r["purposes"] == ["any"] and r["until_ms"] == L.now_ms + 365 * cs.DAY_MS
    for bad in ({"purposes": ["marketing"]}, {"purposes": []}, {"days": 0}, {"days": 366},
                {"purposes": ["any", "collections"]}):
        L.fails("bad_field", "exporter", C, "grant_consent", bank=L.pk("bank_d"), **bad)
    L.fails("bad_field", "exporter", C, "grant_consent", bank=L.pk("bank_d"),
            publisher=L.pk("importer"))  # a publisher is a bank
    rid = publish(L)
    L.fails("bad_field", "bank_b", C, "request_access", record_id=rid, purpose="any")
    L.fails("bad_field", "bank_b", C, "request_access", record_id=rid, purpose="marketing")


def test_a_request_not_covered_is_refused_as_without_consent(L: Ledger) -> None:
    rid_a, rid_c = publish(L, "bank_a"), publish(L, "bank_c")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["account_review"],
         days=10, publisher=L.pk("bank_a"))
    assert ask(L, rid_a, "account_review")["status"] == "pending"
    refused_like_no_consent(L, ask(L, rid_a, "collections"), rid_a, "collections")  # purpose
    refused_like_no_consent(L, ask(L, rid_c, "account_review"), rid_c, "account_review")
    no_purpose = ask(L, rid_a, None)  # a request stating none: covered by `any` only
    assert no_purpose["status"] == "refused" and "purpose" not in no_purpose["stored"]
    # the consent ends: the same refusal; and a new consent may then be granted
    L.now_ms += 10 * cs.DAY_MS
    refused_like_no_consent(L, ask(L, rid_a, "account_review"), rid_a, "account_review")
    unknown = ask(L, "00" * 32, "account_review")
    assert unknown["events"] == ask(L, rid_a, "account_review")["events"]
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["collections"])
    assert ask(L, rid_c, "collections")["status"] == "pending"
    L.fails("already_consented", "exporter", C, "grant_consent", bank=L.pk("bank_b"))


def test_a_consent_recorded_before_decision_179_covers_any_purpose_until_revoked(
        L: Ledger) -> None:
    rid = publish(L)
    key = f"consent/{L.pk('exporter')}/{L.pk('bank_b')}"
    L.state.put(C, key, {"height": 1, "timestamp_ms": L.now_ms})  # the old shape
    L.now_ms += 3 * 365 * cs.DAY_MS
    for purpose in (*cs.PURPOSES, None):
        assert ask(L, rid, purpose)["status"] == "pending"
    L.fails("already_consented", "exporter", C, "grant_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    assert ask(L, rid)["status"] == "refused"


def test_a_delivery_checks_the_consent_again_when_it_executes(L: Ledger) -> None:
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["credit_decision"],
         days=1)
    req = ask(L, rid)
    assert req["status"] == "pending"
    args = cs.answer_request(L.ids["bank_a"], L.state, req["id"])
    assert args is not None and args["record_id"] == rid
    L.now_ms += cs.DAY_MS  # the consent ended before the delivery executes
    assert cs.answer_request(L.ids["bank_a"], L.state, req["id"], now_ms=L.now_ms + 1) is None
    L.fails("not_consented", "bank_a", C, "deliver", **args)
    # narrowed to another purpose between request and delivery: refused alike
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["collections"])
    L.fails("not_consented", "bank_a", C, "deliver", **args)
    assert L.get(C, "request/" + req["id"])["status"] == "pending"


def test_the_subject_s_access_report_lists_every_request_and_delivery(L: Ledger) -> None:
    rid = publish(L)
    subject = L.pk("exporter")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["credit_decision"])
    t0 = L.now_ms
    refused = ask(L, rid, "credit_decision", bank="bank_c")  # no consent
    pending = ask(L, rid, "credit_decision")
    ask(L, "00" * 32)  # no such record: about nobody, in no report
    L.ok("bank_a", C, "deliver", **cs.answer_request(L.ids["bank_a"], L.state, pending["id"]))
    assert L.get(C, "access/" + subject) == {"n": 3}
    rows = [L.get(C, f"access/{subject}/{i}") for i in (1, 2, 3)]
    assert [(e["request_id"], e["requester"], e["status"], e["purpose"]) for e in rows] == [
        (refused["id"], L.pk("bank_c"), "refused", "credit_decision"),
        (pending["id"], L.pk("bank_b"), "pending", "credit_decision"),
        (pending["id"], L.pk("bank_b"), "delivered", "credit_decision")]
    assert all(e["publisher"] == L.pk("bank_a") and e["record_id"] == rid for e in rows)
    assert [e["timestamp_ms"] for e in rows] == [t0 + 1000, t0 + 2000, t0 + 4000]
    # the refused request itself still names neither the subject nor the publisher
    assert set(refused["stored"]) == {"record_id", "requester", "purpose", "status"}


def test_the_cli_mirrors_the_contracts_limits() -> None:
    assert cli_credit.PURPOSES == cs.PURPOSES
    assert cli_credit.MAX_CONSENT_DAYS == cs.MAX_CONSENT_DAYS
    assert cli_credit.MAX_RETENTION_DAYS == cs.MAX_RETENTION_DAYS
