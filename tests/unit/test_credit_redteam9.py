"""Red-team round 9, credit sharing (docs/redteam-privacy.md "Round 9"): a curious bank and a
curious customer against decisions 179-180 — other banks' records, who holds consent with
whom, a subject's disputes and requests, the existence of a record, a replayed delivery, a
revoked or frozen bank, a key rotation. One test per finding (each fails on the code before its
fix), then what held."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chainfin.crypto import Identity
from contracts import credit_sharing as cs
from contracts import governance as gov
from contracts.testing import CHAIN_ID, Ledger
from node import access

C = "credit_sharing"
RECORD = b'{"rating":"CCC","collections":1}'
SALT = bytes(range(16, 48))
VALIDATORS = ("bank_a", "bank_b", "bank_c", "bank_d")


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    # a month before the node's clock: what lapses is read on the node's clock
    led.now_ms = int(time.time() * 1000) - 30 * cs.DAY_MS
    return led


def publish(L: Ledger, publisher: str = "bank_a") -> str:
    sealed = cs.seal_record(RECORD, SALT, [L.pk(publisher), L.pk("regulator")])
    return str(L.ok(publisher, C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"])


def reader(L: Ledger, who: str | Identity) -> access.Reader:
    key = who.public_key.hex() if isinstance(who, Identity) else L.pk(who)
    r = access.resolve_reader(L.get, key)
    assert r is not None
    return r


def rule(L: Ledger, who: str | Identity, key: str) -> str | None:
    return access.state_rule(L.get, reader(L, who), C, key)


def govern(L: Ledger, action: str, params: dict[str, Any]) -> None:
    res = L.ok(VALIDATORS[0], "governance", "propose", action=action, params=params)
    for v in VALIDATORS[1:3]:
        res = L.ok(v, "governance", "vote", proposal_id=res["proposal_id"])


# ---------------------------------------------------------------------------- findings


def test_only_a_live_consent_covering_the_publisher_opens_a_records_metadata(
        L: Ledger) -> None:
    """F1: a consent that had ended, or was limited to another publisher's records, still let
    its bank read ``record/<id>`` — that bank_a holds a credit record about the exporter, and
    since when: who holds credit with whom."""
    rid = publish(L, "bank_a")
    key = "record/" + rid
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["credit_decision"],
         days=1)  # ended a month ago by the node's clock
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"), purposes=["collections"],
         publisher=L.pk("bank_d"))  # live, but only for bank_d's records
    assert rule(L, "bank_b", key) is None
    assert rule(L, "bank_c", key) is None
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_e"), purposes=["collections"])
    assert rule(L, "bank_e", key) == "consented_bank"  # live, any publisher: opens (any purpose)
    # a consent to an identity that is no longer a bank opens nothing (it comes back with the
    # role, as a delivery would)
    govern(L, "set_role", {"pubkey": L.pk("bank_e"), "role": "importer"})
    assert rule(L, "bank_e", key) is None


def test_the_publisher_is_not_told_the_purpose_of_a_request(L: Ledger) -> None:
    """F2: the pending request (which its publisher reads) and the ``access_requested`` event
    (sent to the publisher) carried the purpose: ``collections`` told bank_a — a competitor —
    that bank_b is collecting a debt from bank_a's customer."""
    rid = publish(L, "bank_a")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["collections"])
    r = L.tx("bank_b", C, "request_access", record_id=rid, purpose="collections")
    req_id = r.result["request_id"]
    assert "purpose" not in r.events[0].data
    assert "purpose" not in L.get(C, "request/" + req_id)
    assert rule(L, "bank_a", "purpose/" + req_id) is None
    assert rule(L, "bank_b", "purpose/" + req_id) == "consented_bank"
    assert rule(L, "exporter", "purpose/" + req_id) == "subject"
    # the chain still checks it when the delivery executes
    args = cs.answer_request(L.ids["bank_a"], L.state, req_id)
    assert args is not None
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["account_review"])
    assert cs.answer_request(L.ids["bank_a"], L.state, req_id) is None
    L.fails("not_consented", "bank_a", C, "deliver", **args)
    # the subject's access report keeps it
    n = L.get(C, "access/" + L.pk("exporter"))["n"]
    assert L.get(C, f"access/{L.pk('exporter')}/{n}")["purpose"] == "collections"


# ---------------------------------------------------------------------------- what held


def test_a_curious_bank_and_a_curious_customer_read_nothing_of_the_subject(L: Ledger) -> None:
    """Without consent, another bank (bank_c) and another customer (exporter2) read none of
    the exporter's credit keys; a consented bank reads the records, not the disputes, the
    access report nor another bank's request or its purpose."""
    rid = publish(L, "bank_a")
    exp = L.pk("exporter")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["credit_decision"])
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_d"), purposes=["credit_decision"])
    req = L.ok("bank_b", C, "request_access", record_id=rid,
               purpose="credit_decision")["request_id"]
    L.ok("exporter", C, "dispute", record_id=rid, reason="the default was cured")
    keys = [f"record/{rid}", f"request/{req}", f"purpose/{req}", f"dispute/{rid}",
            f"consent/{exp}/{L.pk('bank_b')}", f"access/{exp}", f"access/{exp}/1"]
    for who in ("bank_c", "exporter2", "importer"):
        assert [rule(L, who, k) for k in keys] == [None] * len(keys), who
    assert [rule(L, "bank_d", k) for k in keys] == [
        "consented_bank", None, None, None, None, None, None]
    assert [rule(L, "exporter", k) for k in keys] == ["subject"] * len(keys)
    assert [rule(L, "bank_a", k) for k in keys] == [
        "publisher", "publisher", None, "publisher", None, None, None]
    assert {rule(L, "regulator", k) for k in keys} == {"regulator"}
    # a dispute tells no bank but the publisher: its event names the subject and publisher
    assert L.last is not None
    parties = access.tx_parties({"events": [e.to_json() for e in L.last.events]})
    assert {exp, L.pk("bank_a")} <= parties
    assert not parties & {L.pk(b) for b in ("bank_b", "bank_c", "bank_d", "bank_e")}


def test_the_answers_tell_no_outsider_whether_a_record_exists(L: Ledger) -> None:
    """A request, a dispute, an answer to a dispute and a correction of a record the sender
    has nothing to do with get the answer of no record."""
    rid, nothing = publish(L, "bank_a"), "00" * 32
    for record in (rid, nothing):
        r = L.tx("bank_c", C, "request_access", record_id=record, purpose="collections")
        assert (r.result["status"], [e.name for e in r.events]) == ("refused",
                                                                  ["access_refused"])
        assert L.get(C, "request/" + r.result["request_id"]) == {
            "record_id": record, "requester": L.pk("bank_c"), "status": "refused",
            "purpose": "collections"}
        L.fails("unknown_record", "exporter2", C, "dispute", record_id=record, reason="x")
        L.fails("unknown_record", "bank_c", C, "reject_dispute", record_id=record, reason="x")


def test_a_delivery_is_not_replayed_and_goes_to_the_current_key_of_a_bank_in_standing(
        L: Ledger) -> None:
    rid = publish(L, "bank_a")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_e"), purposes=["credit_decision"])
    req = L.ok("bank_e", C, "request_access", record_id=rid,
               purpose="credit_decision")["request_id"]
    # bank_e rotates its key (a suspected theft): the delivery is sealed to the new key only
    new = L.add_identity("bank_e_2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("bank_e")))
    L.ok("bank_e", "governance", "rotate_key", new_public_key=new.public_key.hex(),
         proof=proof.hex())
    args = cs.answer_request(L.ids["bank_a"], L.state, req)
    assert args is not None and list(args["sealed"]) == [new.public_key.hex()]
    L.ok("bank_a", C, "deliver", **args)
    L.fails("request_not_pending", "bank_a", C, "deliver", **args)  # no second delivery
    got = L.get(C, "request/" + req)
    assert cs.open_and_check(new, got["sealed"], L.get(C, "record/" + rid)["commitment"])
    # the subject, after rotating its own key, still reads its report
    exp2 = L.add_identity("exporter_2")
    proof = exp2.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("exporter")))
    L.ok("exporter", "governance", "rotate_key", new_public_key=exp2.public_key.hex(),
         proof=proof.hex())
    assert rule(L, exp2, f"access/{L.pk('exporter')}/2") == "subject"
    # a frozen requester gets no delivery (one answer with no consent)
    req = L.ok(new, C, "request_access", record_id=rid, purpose="credit_decision")["request_id"]
    L.ok("regulator", "governance", "freeze_identity", pubkey=L.pk("bank_e"), reason="inquiry",
         order_ref="R-9")
    assert cs.answer_request(L.ids["bank_a"], L.state, req) is None


def test_a_delivery_by_anyone_but_the_publisher_tells_nothing_of_the_request(
        L: Ledger) -> None:
    """F4: ``deliver`` answered another bank ``forbidden`` for a pending request and
    ``request_not_pending`` ("the request is refused") for a refused one, against
    ``unknown_request`` for none: whether a request exists, and its outcome, to a bank
    holding its id; the publisher too learned of a refused request (which names no
    publisher)."""
    rid = publish(L, "bank_a")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"), purposes=["credit_decision"])
    pending = L.ok("bank_b", C, "request_access", record_id=rid,
                   purpose="credit_decision")["request_id"]
    refused = L.ok("bank_c", C, "request_access", record_id=rid,
                   purpose="collections")["request_id"]
    to_b = cs.seal_record(RECORD, SALT, [L.pk("bank_b")])
    answers = set()
    for who, req in (("bank_c", pending), ("bank_b", pending), ("bank_c", refused),
                     ("bank_a", refused), ("bank_c", "00" * 32), ("bank_a", "00" * 32)):
        r = L.fails("unknown_request", who, C, "deliver", request_id=req, sealed=to_b)
        answers.add((r.error_code, (r.error_message or "").replace(req, "ID")))
    assert len(answers) == 1, answers
