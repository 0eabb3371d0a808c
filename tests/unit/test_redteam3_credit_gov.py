"""Red-team round 3 over credit sharing and governance. Each test is a finding: the code before
it let the attack through (the test failed there), and now stops it.

Credit sharing: a record or a delivery sealed to a key its identity had replaced (a lost or
stolen key kept reading), a delivery to a revoked requester, the publisher's node deaf after a
rotation, a consent its subject could not withdraw, a consented bank reading which other banks
asked. Governance: an admin minting the customs authority every bank relies on, a validator
seated on a replaced or revoked key, one bank in two validator seats, a vote good forever."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin.crypto import Identity
from contracts import credit_sharing as cs
from contracts import governance as gov
from contracts.testing import CHAIN_ID, Ledger
from node import access

C, G = "credit_sharing", "governance"
VALIDATORS = ("bank_a", "bank_b", "bank_c", "bank_d")
RECORD = b'{"subject":"ACME","score":712,"exposure_usd":1250000}'
SALT = bytes(range(100, 132))
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def rotate(L: Ledger, who: str, new_name: str) -> Identity:
    """``who`` replaces its key by a new one (as after a suspected theft of the old key)."""
    new = L.add_identity(new_name)
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk(who)))
    L.ok(who, G, "rotate_key", new_public_key=new.public_key.hex(), proof=proof.hex())
    return new


def publish(L: Ledger, publisher: str | Identity = "bank_a",
            recipients: list[str] | None = None) -> str:
    key = publisher.public_key.hex() if isinstance(publisher, Identity) else L.pk(publisher)
    sealed = cs.seal_record(RECORD, SALT, recipients or [key, L.pk("regulator")])
    return str(L.ok(publisher, C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"])


def govern(L: Ledger, action: str, params: dict[str, Any]) -> dict[str, Any]:
    res = L.ok(VALIDATORS[0], G, "propose", action=action, params=params)
    for v in VALIDATORS[1:3]:
        res = L.ok(v, G, "vote", proposal_id=res["proposal_id"])
    return res


def reader(L: Ledger, who: str | Identity) -> access.Reader:
    key = who.public_key.hex() if isinstance(who, Identity) else L.pk(who)
    r = access.resolve_reader(L.get, key)
    assert r is not None
    return r


# ---------------------------------------------------------------------------- credit sharing


def test_a_delivery_is_sealed_to_the_requesters_current_key_not_a_retired_one(L: Ledger) -> None:
    """bank_e replaced its key (the old one may be in a thief's hands): the publisher's node
    sealed the delivery to bank_e's identity id, i.e. to the retired key, which opened it while
    bank_e's current key could not."""
    old = L.ids["bank_e"]
    new = rotate(L, "bank_e", "bank_e_2")
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_e"))
    req_id = L.ok(new, C, "request_access", record_id=rid)["request_id"]
    args = cs.answer_request(L.ids["bank_a"], L.state, req_id)
    assert args is not None and list(args["sealed"]) == [new.public_key.hex()]
    with pytest.raises(cs.RecordCheckError):
        cs.open_record(old, args["sealed"])  # the retired key opens nothing
    # nor may the publisher seal it to the retired key by hand
    L.fails("not_consented", "bank_a", C, "deliver", request_id=req_id,
            sealed=cs.seal_record(RECORD, SALT, [old.public_key]))
    L.ok("bank_a", C, "deliver", **args)
    delivered = L.get(C, "request/" + req_id)["sealed"]
    assert cs.open_and_check(new, delivered, L.get(C, "record/" + rid)["commitment"]) == RECORD


def test_a_record_is_sealed_to_a_regulators_current_key(L: Ledger) -> None:
    """A regulator rotated its key: publish demanded the record sealed to the retired key (its
    identity id) and refused the current one, so every new record was readable by the old key
    and by no key the regulator still uses."""
    old = L.pk("regulator")
    new = rotate(L, "regulator", "regulator_2")
    com = cs.make_commitment(RECORD, SALT)
    to_old = cs.seal_record(RECORD, SALT, [L.pk("bank_a"), old])
    L.fails("not_consented", "bank_a", C, "publish", subject=L.pk("exporter"), commitment=com,
            sealed=to_old)
    rid = publish(L, recipients=[L.pk("bank_a"), new.public_key.hex()])
    rec = L.get(C, "record/" + rid)
    assert cs.open_and_check(new, rec["sealed"], rec["commitment"]) == RECORD


def test_the_publishers_node_answers_after_the_publisher_rotated(L: Ledger) -> None:
    """A publisher that rotated its key could only publish sealed to its retired key, and its
    node (holding the current key) never answered a request: consented banks got nothing."""
    new = rotate(L, "bank_e", "bank_e_2")
    rid = publish(L, new)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    req_id = L.ok("bank_b", C, "request_access", record_id=rid)["request_id"]
    args = cs.answer_request(new, L.state, req_id)
    assert args is not None and list(args["sealed"]) == [L.pk("bank_b")]
    assert cs.answer_request(L.ids["bank_e"], L.state, req_id) is None  # the retired key
    L.ok(new, C, "deliver", **args)


def test_a_revoked_or_frozen_requester_gets_no_delivery(L: Ledger) -> None:
    """bank_e's key was stolen and a regulator revoked bank_e: its pending request was still
    delivered, sealed to the stolen key. A frozen bank is not delivered to either. The refusal
    does not tell the publisher which (a freeze is not told to counterparties)."""
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_e"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    revoked = L.ok("bank_e", C, "request_access", record_id=rid)["request_id"]
    frozen = L.ok("bank_b", C, "request_access", record_id=rid)["request_id"]
    L.ok("regulator", G, "revoke_identity", pubkey=L.pk("bank_e"), reason="key stolen",
         order_ref="R-1")
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("bank_b"), reason="inquiry",
         order_ref="R-2")
    errors = set()
    for req_id, who in ((revoked, "bank_e"), (frozen, "bank_b")):
        assert cs.answer_request(L.ids["bank_a"], L.state, req_id) is None
        r = L.fails("not_consented", "bank_a", C, "deliver", request_id=req_id,
                    sealed=cs.seal_record(RECORD, SALT, [L.pk(who)]))
        errors.add(r.error_message)
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    r = L.fails("not_consented", "bank_a", C, "deliver", request_id=frozen,
                sealed=cs.seal_record(RECORD, SALT, [L.pk("bank_b")]))
    errors.add(r.error_message)
    assert len(errors) == 1  # revoked, frozen and no consent: one answer


def test_a_subject_can_always_withdraw_its_consent(L: Ledger) -> None:
    """Withdrawing consent was refused to a frozen subject, to a subject whose role had
    changed, and for a bank whose role had changed (the consent stayed, and came back to life
    when the bank became a bank again)."""
    rid = publish(L)
    for bank in ("bank_b", "bank_c", "bank_e"):
        L.ok("exporter", C, "grant_consent", bank=L.pk(bank))
    # frozen by a regulator: banks could still be delivered its records, it could not withdraw
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("exporter"), reason="inquiry",
         order_ref="R-3")
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    assert L.ok("bank_b", C, "request_access", record_id=rid)["status"] == "refused"
    L.fails("account_frozen", "exporter", C, "grant_consent", bank=L.pk("bank_b"))  # only less
    L.ok("regulator", G, "unfreeze_identity", pubkey=L.pk("exporter"), reason="closed",
         order_ref="R-3")
    # the bank stopped being a bank, then became one again
    govern(L, "set_role", {"pubkey": L.pk("bank_e"), "role": "importer"})
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_e"))
    govern(L, "set_role", {"pubkey": L.pk("bank_e"), "role": "bank"})
    assert L.ok("bank_e", C, "request_access", record_id=rid)["status"] == "refused"
    # the subject's own role changed
    govern(L, "set_role", {"pubkey": L.pk("exporter"), "role": "auditor"})
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_c"))
    assert L.ok("bank_c", C, "request_access", record_id=rid)["status"] == "refused"
    L.fails("forbidden", "exporter", C, "grant_consent", bank=L.pk("bank_c"))


def test_a_consented_bank_does_not_read_another_banks_request(L: Ledger) -> None:
    """bank_c, consented by the exporter, read bank_b's request for the exporter's record over
    REST: who else asked about the exporter, when, and the size of what it was sent."""
    rid = publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))
    req_id = L.ok("bank_b", C, "request_access", record_id=rid)["request_id"]
    key = "request/" + req_id
    assert access.state_rule(L.get, reader(L, "bank_c"), C, key) is None
    # the record itself stays readable to a consented bank; the request to its parties
    assert access.state_rule(L.get, reader(L, "bank_c"), C, "record/" + rid,
                             now_ms=L.now_ms) == "consented_bank"
    assert access.state_rule(L.get, reader(L, "bank_b"), C, key) == "consented_bank"
    assert access.state_rule(L.get, reader(L, "bank_a"), C, key) == "publisher"
    assert access.state_rule(L.get, reader(L, "exporter"), C, key) == "subject"
    assert access.state_rule(L.get, reader(L, "regulator"), C, key) == "regulator"


# ---------------------------------------------------------------------------- governance


def test_an_admin_cannot_mint_a_customs_authority(L: Ledger) -> None:
    """One admin bank registered a "customs" identity of its own. Any customs identity attests
    any declaration and the first attestation stands: it attested another exporter's
    declaration first (a mismatch stopped every bank's financing of the trade; a match could
    name any amount) and the real customs got ``already_attested``. A customs authority comes
    from genesis or a governance vote."""
    fake = L.add_identity("fake_customs").public_key.hex()
    L.fails("forbidden", "bank_a", G, "register_identity", pubkey=fake, name="Customs desk",
            role="customs")
    # by vote: registered as a customer first, then given the role by quorum
    pk = L.add_identity("new_customs").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=pk, name="Customs 2", role="importer")
    assert govern(L, "set_role", {"pubkey": pk, "role": "customs"})["status"] == "applied"
    assert L.get(G, "id/" + pk)["role"] == "customs"


def test_an_admin_cannot_mint_an_auditor(L: Ledger) -> None:
    """One admin bank registers an "auditor" identity of its own, which reads every balance,
    trade record, transaction and block of the network over REST."""
    spy = L.add_identity("spy")
    r = L.tx("bank_a", G, "register_identity", pubkey=spy.public_key.hex(), name="Audit desk",
             role="auditor")
    if r.ok:  # what the admin's new identity reads: another bank's balance
        assert access.state_rule(L.get, reader(L, spy), "settlement",
                                 f"bal/{L.pk('bank_b')}/USD") is None
    assert r.error_code == "forbidden"


def test_a_validator_is_seated_on_its_identitys_current_key_in_good_standing(L: Ledger) -> None:
    """add_validator seated bank_e on its identity id after bank_e had replaced that key: the
    retired (perhaps stolen) key became a consensus key and read every block as a validator.
    A revoked or frozen bank was seated as well."""
    retired = L.pk("bank_e")
    rotate(L, "bank_e", "bank_e_2")
    L.fails("bad_field", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": retired, "name": "node e"})
    # a proposal made before the rotation fails when applied
    pk = L.add_identity("bank_f").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=pk, name="Bank F", role="bank")
    pid = L.ok("bank_a", G, "propose", action="add_validator",
               params={"pubkey": pk, "name": "node f"})["proposal_id"]
    L.ok("bank_b", G, "vote", proposal_id=pid)
    rotate(L, "bank_f", "bank_f_2")
    res = L.ok("bank_c", G, "vote", proposal_id=pid)
    assert res["status"] == "failed" and retired not in L.get(G, "validators")
    assert pk not in L.get(G, "validators") and L.last.validator_set_change is None
    # revoked or frozen
    for name, method in (("bank_g", "revoke_identity"), ("bank_h", "freeze_identity")):
        pk = L.add_identity(name).public_key.hex()
        L.ok("bank_a", G, "register_identity", pubkey=pk, name=name, role="bank")
        L.ok("regulator", G, method, pubkey=pk, reason="x", order_ref="R-9")
        L.fails("bad_field", "bank_a", G, "propose", action="add_validator",
                params={"pubkey": pk, "name": name})


def test_one_bank_holds_one_validator_seat(L: Ledger) -> None:
    """bank_a registered a second identity under its own BIC and governance seated it: one bank
    held two of five seats (n = 5 tolerates one fault) and cast two votes."""
    twin = L.add_identity("bank_a_node2").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=twin, name="Node 2", role="bank",
         bank="BANK_A")
    L.fails("already_validator", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": twin, "name": "node 2"})
    # two identities of a new bank proposed side by side: the second fails when applied
    z1, z2 = (L.add_identity(n).public_key.hex() for n in ("bank_z", "bank_z_node"))
    for pk, name in ((z1, "Bank Z"), (z2, "Bank Z node")):
        L.ok("bank_a", G, "register_identity", pubkey=pk, name=name, role="bank",
             bank="BANKZZZZ")
    p1, p2 = (L.ok("bank_a", G, "propose", action="add_validator",
                   params={"pubkey": pk, "name": "z"})["proposal_id"] for pk in (z1, z2))
    for v in ("bank_b", "bank_c"):
        L.ok(v, G, "vote", proposal_id=p1)
    assert z1 in L.get(G, "validators")
    for v in ("bank_b", "bank_c"):
        L.ok(v, G, "vote", proposal_id=p2)
    res = L.ok("bank_d", G, "vote", proposal_id=p2)
    assert res["status"] == "failed" and z2 not in L.get(G, "validators")
    assert L.get(G, "proposal/" + p2)["error"] == "already_validator"


def test_a_proposal_expires(L: Ledger) -> None:
    """A proposal stayed open forever and a vote could not be withdrawn: two votes cast for a
    bank's seat were applied by a third a year later, when the first two voters no longer
    wanted it."""
    pk = L.add_identity("bank_f").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=pk, name="Bank F", role="bank")
    pid = L.ok("bank_a", G, "propose", action="add_validator",
               params={"pubkey": pk, "name": "f"})["proposal_id"]
    L.ok("bank_b", G, "vote", proposal_id=pid)
    voted_ms = L.now_ms
    L.now_ms += 365 * DAY_MS
    r = L.tx("bank_c", G, "vote", proposal_id=pid)
    assert r.ok and r.result["status"] == "expired"
    assert [e.name for e in r.events] == ["proposal_expired"]
    assert pk not in L.get(G, "validators") and L.last.validator_set_change is None
    prop = L.get(G, "proposal/" + pid)
    assert prop["status"] == "expired" and prop["votes"] == sorted([L.pk("bank_a"), L.pk("bank_b")])
    assert prop["expires_ms"] == voted_ms - 1000 + gov.PROPOSAL_LIFETIME_MS
    L.fails("proposal_closed", "bank_d", G, "vote", proposal_id=pid)
    # within its lifetime a proposal passes as before
    pid = L.ok("bank_a", G, "propose", action="add_validator",
               params={"pubkey": pk, "name": "f"})["proposal_id"]
    L.now_ms += gov.PROPOSAL_LIFETIME_MS - 10_000
    L.ok("bank_b", G, "vote", proposal_id=pid)
    assert L.ok("bank_c", G, "vote", proposal_id=pid)["status"] == "applied"


def test_a_revoked_validator_reads_nothing(L: Ledger) -> None:
    """A regulator revoked a validator whose node key was stolen: the key stays in the set
    until a vote removes it, and it kept reading every block and balance as a validator."""
    assert reader(L, "bank_b").validator
    L.ok("regulator", G, "revoke_identity", pubkey=L.pk("bank_b"), reason="node key stolen",
         order_ref="R-9")
    assert L.pk("bank_b") in L.get(G, "validators")
    assert access.resolve_reader(L.get, L.pk("bank_b")) is None
