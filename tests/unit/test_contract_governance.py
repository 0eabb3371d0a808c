"""governance: identity registration, proposals and votes with quorum(n) of the current set,
validator-set changes reported at the block boundary, role changes and currencies."""

from __future__ import annotations

import pytest

from chainfin.consensus.quorum import quorum
from contracts.testing import Ledger, make_genesis

G = "governance"
VALIDATORS = ("bank_a", "bank_b", "bank_c", "bank_d")


@pytest.fixture
def L() -> Ledger:
    return Ledger()


def register(L: Ledger, name: str, role: str = "bank") -> str:
    pk = L.add_identity(name).public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=pk, name=name, role=role)
    return pk


def pass_proposal(L: Ledger, action: str, params: dict, voters: tuple[str, ...]) -> dict:
    res = L.ok(voters[0], G, "propose", action=action, params=params)
    pid = res["proposal_id"]
    for v in voters[1:]:
        res = L.ok(v, G, "vote", proposal_id=pid)
    return res


# ---------------------------------------------------------------------------- register_identity


def test_register_identity(L: Ledger) -> None:
    pk = L.add_identity("acme").public_key.hex()
    r = L.tx("bank_a", G, "register_identity", pubkey=pk.upper(), name="  ACME   Exports ",
             role="exporter", bank="BANKAXXX")
    assert r.ok and r.result == {"pubkey": pk, "role": "exporter"}
    assert L.get(G, "id/" + pk) == {"name": "ACME Exports", "role": "exporter", "admin": False,
                                    "bank": "BANKAXXX", "registered_by": L.pk("bank_a")}
    assert r.events[0].name == "identity_registered"
    # the new identity can transact at once
    assert L.tx("acme", "settlement", "transfer", to=L.pk("bank_a"), currency="USD",
                amount=1).error_code == "insufficient_funds"


def test_register_identity_rejections(L: Ledger) -> None:
    pk = L.add_identity("x").public_key.hex()
    L.fails("forbidden", "bank_b", G, "register_identity", pubkey=pk, name="x", role="exporter")
    L.fails("forbidden", "exporter", G, "register_identity", pubkey=pk, name="x",
            role="exporter")
    L.fails("identity_exists", "bank_a", G, "register_identity", pubkey=L.pk("exporter"),
            name="x", role="exporter")
    L.fails("bad_field", "bank_a", G, "register_identity", pubkey=pk, name="x", role="admin")
    L.fails("bad_field", "bank_a", G, "register_identity", pubkey=pk[:10], name="x",
            role="bank")
    L.fails("bad_field", "bank_a", G, "register_identity", pubkey=pk, name="   ", role="bank")
    L.fails("missing_field", "bank_a", G, "register_identity", pubkey=pk, name="x")


# ---------------------------------------------------------------------------- validators


def test_add_validator_needs_quorum_of_current_set(L: Ledger) -> None:
    pk = register(L, "bank_new")
    assert quorum(4) == 3
    res = L.ok("bank_a", G, "propose", action="add_validator",
               params={"pubkey": pk, "name": "node4"})
    pid = res["proposal_id"]
    assert res == {"proposal_id": pid, "status": "open", "votes": 1, "needed": 3}
    assert L.ok("bank_b", G, "vote", proposal_id=pid)["status"] == "open"
    assert L.last.validator_set_change is None
    res = L.ok("bank_c", G, "vote", proposal_id=pid)
    assert res["status"] == "applied"
    change = L.last.validator_set_change
    assert change is not None and bytes.fromhex(pk) in change and len(change) == 5
    assert [e.name for e in L.last.events] == ["voted", "proposal_applied",
                                               "validator_set_changed"]
    assert L.last.events[-1].data["from_height"] == L.height + 1
    assert pk in L.get(G, "validators") and L.get(G, f"proposal/{pid}")["status"] == "applied"
    L.fails("proposal_closed", "bank_d", G, "vote", proposal_id=pid)
    # the new validator may propose; with n = 5 the quorum is 4, not 2f+1 = 3 (TRAPS #1)
    assert quorum(5) == 4
    other = register(L, "bank_new2")
    res = pass_proposal(L, "add_validator", {"pubkey": other, "name": "node5"},
                        ("bank_new", "bank_a", "bank_b"))
    assert res["status"] == "open" and res["needed"] == 4
    assert L.ok("bank_c", G, "vote", proposal_id=res["proposal_id"])["status"] == "applied"


def test_add_validator_rejections(L: Ledger) -> None:
    stranger = L.add_identity("stranger").public_key.hex()
    L.fails("unknown_identity", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": stranger, "name": "n"})
    L.fails("not_a_bank", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": L.pk("exporter"), "name": "n"})
    L.fails("already_validator", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": L.pk("bank_b"), "name": "n"})
    L.fails("forbidden", "bank_e", G, "propose", action="add_validator",
            params={"pubkey": L.pk("bank_e"), "name": "n"})  # bank, but not a validator
    L.fails("forbidden", "exporter", G, "propose", action="add_validator",
            params={"pubkey": L.pk("bank_e"), "name": "n"})
    L.fails("missing_field", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": L.pk("bank_e")})
    L.fails("unknown_field", "bank_a", G, "propose", action="add_validator",
            params={"pubkey": L.pk("bank_e"), "name": "n", "power": 10})
    L.fails("bad_field", "bank_a", G, "propose", action="make_me_king", params={})
    L.fails("bad_field", "bank_a", G, "propose", action="add_validator", params=[1])


def test_remove_validator_and_votes_of_removed_validators(L: Ledger) -> None:
    # proposal P (set_role) gets bank_d's vote, then bank_d is removed: its vote no longer counts
    p = L.ok("bank_d", G, "propose", action="set_role",
             params={"pubkey": L.pk("importer"), "role": "auditor"})["proposal_id"]
    pass_proposal(L, "remove_validator", {"pubkey": L.pk("bank_d")},
                  ("bank_a", "bank_b", "bank_c"))
    assert L.last.validator_set_change is not None
    assert bytes.fromhex(L.pk("bank_d")) not in L.last.validator_set_change
    assert len(L.get(G, "validators")) == 3 and quorum(3) == 2
    L.fails("forbidden", "bank_d", G, "vote", proposal_id=p)
    res = L.ok("bank_a", G, "vote", proposal_id=p)
    assert (res["votes"], res["needed"], res["status"]) == (1, 2, "open")  # bank_d's vote is gone
    assert L.ok("bank_b", G, "vote", proposal_id=p)["status"] == "applied"
    assert L.get(G, "id/" + L.pk("importer"))["role"] == "auditor"
    L.fails("not_validator", "bank_a", G, "propose", action="remove_validator",
            params={"pubkey": L.pk("bank_d")})


def test_cannot_remove_the_last_validator() -> None:
    cast = {"solo": ("bank", True, True), "other": ("bank", False, False)}
    L = Ledger(make_genesis(cast, regulators=()))
    assert quorum(1) == 1
    L.fails("last_validator", "solo", G, "propose", action="remove_validator",
            params={"pubkey": L.pk("solo")})
    # with n = 1 the proposer's own vote is the quorum: applied at once
    res = L.ok("solo", G, "propose", action="add_validator",
               params={"pubkey": L.pk("other"), "name": "other"})
    assert res["status"] == "applied" and len(L.last.validator_set_change) == 2


def test_proposal_that_no_longer_applies_fails_on_chain(L: Ledger) -> None:
    pk = register(L, "bank_new")
    params = {"pubkey": pk, "name": "n"}
    p1 = L.ok("bank_a", G, "propose", action="add_validator", params=params)["proposal_id"]
    p2 = L.ok("bank_b", G, "propose", action="add_validator", params=params)["proposal_id"]
    for v in ("bank_b", "bank_c"):
        L.ok(v, G, "vote", proposal_id=p1)
    for v in ("bank_a", "bank_c"):
        L.ok(v, G, "vote", proposal_id=p2)
    r = L.tx("bank_d", G, "vote", proposal_id=p2)  # 4 of 5: quorum, but pk is already in
    assert r.ok and r.result["status"] == "failed"
    assert L.get(G, f"proposal/{p2}")["error"] == "already_validator"
    assert [e.name for e in r.events] == ["voted", "proposal_failed"]
    assert L.last.validator_set_change is None


def test_vote_rejections(L: Ledger) -> None:
    pid = L.ok("bank_a", G, "propose", action="set_role",
               params={"pubkey": L.pk("importer"), "role": "exporter"})["proposal_id"]
    L.fails("already_voted", "bank_a", G, "vote", proposal_id=pid)
    L.fails("unknown_proposal", "bank_a", G, "vote", proposal_id="00" * 32)
    L.fails("forbidden", "bank_e", G, "vote", proposal_id=pid)
    L.fails("forbidden", "auditor", G, "vote", proposal_id=pid)
    L.fails("bad_field", "bank_b", G, "vote", proposal_id="x")


# ---------------------------------------------------------------------------- roles, currencies


def test_set_role(L: Ledger) -> None:
    pass_proposal(L, "set_role", {"pubkey": L.pk("importer"), "role": "exporter"},
                  VALIDATORS[:3])
    assert L.get(G, "id/" + L.pk("importer"))["role"] == "exporter"
    L.fails("validator_must_be_bank", "bank_a", G, "propose", action="set_role",
            params={"pubkey": L.pk("bank_b"), "role": "auditor"})
    L.fails("bad_field", "bank_a", G, "propose", action="set_role",
            params={"pubkey": L.pk("importer"), "role": "king"})
    L.fails("unknown_identity", "bank_a", G, "propose", action="set_role",
            params={"pubkey": "ab" * 32, "role": "bank"})


def test_add_currency(L: Ledger) -> None:
    params = {"code": "EUR", "exponent": 2, "issuer": L.pk("bank_e")}
    pass_proposal(L, "add_currency", params, VALIDATORS[:3])
    assert L.get(G, "currency/EUR") == {"exponent": 2, "issuer": L.pk("bank_e")}
    L.ok("bank_e", "settlement", "issue", currency="EUR", to=L.pk("exporter"), amount=5)
    assert L.get("settlement", "supply/EUR") == {"issued": 5, "redeemed": 0}
    L.fails("currency_exists", "bank_a", G, "propose", action="add_currency", params=params)
    L.fails("bad_field", "bank_a", G, "propose", action="add_currency",
            params={"code": "GBP", "exponent": 0, "issuer": L.pk("bank_e")})  # ISO says 2
    L.fails("bad_field", "bank_a", G, "propose", action="add_currency",
            params={"code": "XYZ", "exponent": 9, "issuer": L.pk("bank_e")})
    L.fails("unknown_identity", "bank_a", G, "propose", action="add_currency",
            params={"code": "SGD", "exponent": 2, "issuer": "ab" * 32})


# ---------------------------------------------------------------------------- ledger format upgrade


def test_a_format_1_chain_moves_to_nonce_words_by_vote_and_old_nonces_stay_used() -> None:
    """Decision 95: a chain whose genesis is of format 1 keeps receipts in the state until
    quorum(n) validators apply ``upgrade_ledger_format``; from the block after, nonces are
    recorded in words, and a nonce used before the upgrade (a receipt) is still refused."""
    L = Ledger(make_genesis(params={"ledger_format": 1}))
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bank_a"), amount=100)
    issuer = L.ids["usd_issuer"].public_key.hex()
    assert L.get("_tx", f"{issuer}/0") is not None and not L.context().nonce_words
    res = pass_proposal(L, "upgrade_ledger_format", {"format": 2}, VALIDATORS[:3])
    assert res["status"] == "applied"
    upgraded = [e for e in L.last.events if e.name == "ledger_format_upgraded"]
    assert upgraded and upgraded[0].data == {"format": 2, "from_height": L.height + 1}
    ctx = L.context()
    assert ctx.nonce_words and ctx.legacy_receipts
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bank_a"), amount=1)
    assert L.get("_tx", f"{issuer}/1") is None  # no receipt in the state any more
    assert L.get("_nonce", f"{issuer}/0") == bytes([0b10]) + bytes(31)  # nonce 1 in its word
    again = L.make_tx("usd_issuer", "settlement", "issue",
                      {"currency": "USD", "to": L.pk("bank_a"), "amount": 5}, nonce=0)
    assert L.block([again]).receipts[0].error_code == "nonce_reused"  # used before the upgrade
    L.fails("already_upgraded", "bank_a", G, "propose", action="upgrade_ledger_format",
            params={"format": 2})


def test_a_chain_of_format_2_has_nothing_to_upgrade(L: Ledger) -> None:
    L.fails("already_upgraded", "bank_a", G, "propose", action="upgrade_ledger_format",
            params={"format": 2})
    L.fails("bad_field", "bank_a", G, "propose", action="upgrade_ledger_format",
            params={"format": 3})
