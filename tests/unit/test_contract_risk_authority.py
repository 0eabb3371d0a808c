"""Who may lift a control (decision 111): nobody supervises itself, banks answer to regulators
and not to each other, a regulator's order is lifted only by a regulator, a BIC names one bank,
a network rule's counter is its own, and a watched name stops the identity that bears it.
Each test is a red-team finding that the code before decision 111 let through."""

from __future__ import annotations

import pytest

from contracts import risk
from contracts.testing import Ledger

S, R, G = "settlement", "risk", "governance"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    for who in ("bank_a", "bank_e", "exporter", "importer"):
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(who), amount=1_000_000)
    return led


def pay(L: Ledger, frm: str, to: str, amount: int):
    return L.tx(frm, S, "transfer", to=L.pk(to), currency="USD", amount=amount)


def customer(L: Ledger, name: str = "acme") -> str:
    """An exporter registered by the admin bank bank_a (its home bank)."""
    pk = L.add_identity(name).public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=pk, name=name.upper(), role="exporter",
         bank="BANK_A")
    L.ok("usd_issuer", S, "issue", currency="USD", to=pk, amount=100_000)
    return pk


def watch_name(L: Ledger, name: str) -> None:
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", R, "add_watch", entries=[risk.watch_digest(key, "name", name)])


def test_a_bank_cannot_lift_a_regulators_limit_or_freeze_on_itself(L: Ledger) -> None:
    me = L.pk("bank_e")
    L.ok("regulator", R, "set_limit", subject=me, kind="max_per_tx", currency="USD", max=100,
         rule_id="reg-cap")
    L.fails("forbidden", "bank_e", R, "remove_limit", subject=me, rule_id="reg-cap")
    L.fails("forbidden", "bank_e", R, "set_limit", subject=me, kind="max_per_tx",
            currency="USD", max=10**12, rule_id="reg-cap")
    assert pay(L, "bank_e", "exporter", 5000).error_code == "limit_exceeded"
    L.ok("regulator", R, "freeze_account", account=me, currency="USD", reason="court order",
         order_ref="CO-77")
    L.fails("forbidden", "bank_e", R, "unfreeze_account", account=me, currency="USD",
            reason="self", order_ref="CO-77")
    assert pay(L, "bank_e", "exporter", 10).error_code == "account_frozen"


def test_a_regulator_does_not_supervise_itself(L: Ledger) -> None:
    reg = L.pk("regulator")
    L.fails("forbidden", "regulator", R, "set_limit", subject=reg, kind="max_per_tx",
            currency="USD", max=1)


def test_a_home_bank_cannot_override_a_regulators_order_on_its_customer(L: Ledger) -> None:
    acme = customer(L)
    L.ok("regulator", G, "freeze_identity", pubkey=acme, reason="FIU order", order_ref="FIU-9")
    L.fails("forbidden", "bank_a", G, "unfreeze_identity", pubkey=acme, reason="x",
            order_ref="x")
    L.fails("forbidden", "bank_a", G, "freeze_identity", pubkey=acme, reason="mine",
            order_ref="x")  # nor replace the order with its own, which it could then lift
    L.ok("regulator", G, "unfreeze_identity", pubkey=acme, reason="lifted", order_ref="FIU-9")
    L.ok("regulator", R, "set_limit", subject=acme, kind="max_per_tx", currency="USD", max=5,
         rule_id="cap")
    L.fails("forbidden", "bank_a", R, "remove_limit", subject=acme, rule_id="cap")
    L.ok("regulator", R, "freeze_account", account=acme, currency="USD", reason="r",
         order_ref="o")
    L.fails("forbidden", "bank_a", R, "unfreeze_account", account=acme, currency="USD",
            reason="r", order_ref="o")
    L.fails("forbidden", "bank_a", R, "freeze_account", account=acme, currency="USD",
            reason="r", order_ref="o")


def test_a_home_bank_still_lifts_what_it_set_itself(L: Ledger) -> None:
    acme = customer(L)
    L.ok("bank_a", G, "freeze_identity", pubkey=acme, reason="kyc", order_ref="K-1")
    L.ok("bank_a", G, "unfreeze_identity", pubkey=acme, reason="kyc done", order_ref="K-1")
    L.ok("bank_a", R, "set_limit", subject=acme, kind="max_per_tx", currency="USD", max=5,
         rule_id="own")
    L.ok("bank_a", R, "remove_limit", subject=acme, rule_id="own")
    L.ok("bank_a", R, "freeze_account", account=acme, currency="USD", reason="r", order_ref="o")
    L.ok("bank_a", R, "unfreeze_account", account=acme, currency="USD", reason="r",
         order_ref="o")
    # and a regulator may replace or lift a home bank's control
    L.ok("bank_a", R, "set_limit", subject=acme, kind="max_per_tx", currency="USD", max=5,
         rule_id="own")
    L.ok("regulator", R, "remove_limit", subject=acme, rule_id="own")


def test_an_admin_cannot_mint_an_identity_under_another_banks_bic(L: Ledger) -> None:
    mal = L.add_identity("mallory").public_key.hex()
    for bic in ("BANK_E", "bank_e", " BANK_E "):
        L.fails("forbidden", "bank_a", G, "register_identity", pubkey=mal, name="Mallory",
                role="bank", bank=bic)
    # an admin adds an identity under its own BIC, or a bank under a new one
    L.ok("bank_a", G, "register_identity", pubkey=mal, name="Ops desk", role="bank",
         bank="BANK_A")
    newbank = L.add_identity("newbank").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=newbank, name="New Bank", role="bank",
         bank="NEWBANK")
    assert L.get(G, "bic/NEWBANK") == {"holder": newbank, "by": L.pk("bank_a"), "count": 1,
                                       "time_ms": L.now_ms}
    # the admin that onboarded a bank registers its next identity (its node key, say) too
    node = L.add_identity("newbank-node").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=node, name="New Bank node", role="bank",
         bank="NEWBANK")


def test_banks_answer_to_regulators_not_to_each_other(L: Ledger) -> None:
    """bank_a registered newbank; neither it nor a bank with newbank's BIC may freeze it,
    lift its limits or rebind its key."""
    newbank = L.add_identity("newbank").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=newbank, name="New Bank", role="bank",
         bank="NEWBANK")
    thief = L.add_identity("thief").public_key.hex()
    L.fails("forbidden", "bank_a", G, "freeze_identity", pubkey=newbank, reason="x",
            order_ref="x")
    L.fails("forbidden", "bank_a", G, "revoke_identity", pubkey=newbank, reason="lost key",
            order_ref="x", new_public_key=thief)
    L.ok("regulator", G, "freeze_identity", pubkey=newbank, reason="x", order_ref="x")


def test_a_network_rule_keeps_its_own_counter(L: Ledger) -> None:
    pid = L.ok("bank_a", G, "propose", action="set_network_limit",
               params={"kind": "window_outflow", "currency": "USD", "max": 1000,
                       "window_s": 86400, "rule_id": "net-daily"})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        r = L.tx(v, G, "vote", proposal_id=pid)
        if r.result and r.result.get("status") == "applied":
            break
    acme = customer(L)
    # the home bank's own rule under the network rule's id (another window) used to reset it
    L.ok("bank_a", R, "set_limit", subject=acme, kind="window_outflow", currency="USD",
         max=10**15, window_s=48, rule_id="net-daily")
    assert L.tx("acme", S, "transfer", to=L.pk("importer"), currency="USD",
                amount=1000).status == "committed"
    r = L.tx("acme", S, "transfer", to=L.pk("importer"), currency="USD", amount=1000)
    assert r.error_code == "limit_exceeded"
    L.fails("bad_field", "bank_a", R, "set_limit", subject=acme, kind="max_per_tx",
            currency="USD", max=1, rule_id="*net-daily")


def test_a_watched_name_stops_the_identity_that_bears_it(L: Ledger) -> None:
    acme = customer(L, "globex")  # its name is GLOBEX
    watch_name(L, "Globex")
    assert pay(L, "exporter", "globex", 10).error_code == "sanctioned_party"
    assert L.tx("globex", S, "transfer", to=L.pk("importer"), currency="USD",
                amount=10).error_code == "sanctioned_party"
    other = L.add_identity("globex2").public_key.hex()
    L.fails("sanctioned_party", "bank_a", G, "register_identity", pubkey=other, name="globex",
            role="exporter")
    assert acme


def test_an_exporter_exposure_limit_names_an_identity(L: Ledger) -> None:
    L.fails("bad_field", "bank_a", R, "set_exposure_limit", side="exporter",
            party="ACME Exports Ltd", currency="USD", max=1_000_000)
    L.ok("bank_a", R, "set_exposure_limit", side="exporter", party=L.pk("exporter"),
         currency="USD", max=1_000_000)


def test_a_refused_payment_does_not_tip_off_the_watched_party(L: Ledger) -> None:
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", R, "add_watch", entries=[risk.watch_digest(key, "id", L.pk("importer"))])
    r = pay(L, "exporter", "importer", 10)
    assert r.error_code == "sanctioned_party" and L.pk("importer") not in r.error_message
    assert L.get(R, "alerts/" + L.pk("importer")) is None  # the watched party's own list
    assert [a["rule"] for a in L.get(R, "alerts/" + L.pk("exporter"))] == ["sanctioned_party"]


# ---------------------------------------------------------------------------- round 2


def test_institutions_have_no_home_bank_and_a_regulators_key_is_not_rebound(L: Ledger) -> None:
    """Red-team round 2: bank_a registered an auditor that governance made a regulator (and an
    issuer): as its "home bank" it froze it and rebound its key to one it held."""
    reg2 = L.add_identity("reg2").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=reg2, name="Reg 2", role="importer")
    govern(L, "set_role", {"pubkey": reg2, "role": "auditor"})
    mine = L.add_identity("mine").public_key.hex()
    L.fails("forbidden", "bank_a", G, "freeze_identity", pubkey=reg2, reason="x", order_ref="x")
    L.fails("forbidden", "bank_a", G, "revoke_identity", pubkey=reg2, reason="x",
            order_ref="x", new_public_key=mine)
    # a regulator's own key changes by governance, not by another regulator's call
    govern(L, "add_regulator", {"pubkey": L.pk("auditor")})
    L.fails("forbidden", "regulator", G, "revoke_identity", pubkey=L.pk("auditor"),
            reason="x", order_ref="x", new_public_key=mine)


def govern(L: Ledger, action: str, params: dict) -> None:
    pid = L.ok("bank_a", G, "propose", action=action, params=params)["proposal_id"]
    for v in ("bank_b", "bank_c"):
        r = L.tx(v, G, "vote", proposal_id=pid)
        if r.result and r.result.get("status") == "applied":
            return
    raise AssertionError(f"{action} not applied")


def two_regulators(L: Ledger) -> None:
    """The auditor becomes a second regulator; seizures (and rebinds) need both."""
    govern(L, "add_regulator", {"pubkey": L.pk("auditor")})
    govern(L, "set_seize_approvals", {"count": 2})


def test_a_key_rebind_by_a_regulator_needs_two_when_seizures_do(L: Ledger) -> None:
    two_regulators(L)
    acme = customer(L)
    k = L.add_identity("k").public_key.hex()
    r = L.ok("regulator", G, "revoke_identity", pubkey=acme, reason="lost", order_ref="R-1",
             new_public_key=k)
    assert r["status"] == "pending"
    assert L.tx("k", S, "transfer", to=L.pk("importer"), currency="USD",
                amount=1).error_code == "unknown_sender"
    assert L.ok("auditor", G, "revoke_identity", pubkey=acme, reason="lost", order_ref="R-1",
                new_public_key=k)["key"] == k  # the second regulator executes it


def test_a_pending_order_can_be_withdrawn_and_a_removed_regulator_no_longer_counts(
        L: Ledger) -> None:
    two_regulators(L)
    order = {"account": L.pk("importer"), "currency": "USD", "amount": 5, "order_ref": "CO-1"}
    assert L.ok("regulator", S, "seize", **order)["status"] == "pending"
    L.fails("forbidden", "bank_a", R, "withdraw_order", kind="seizure", order_ref="CO-1",
            reason="x")
    L.ok("auditor", R, "withdraw_order", kind="seizure", order_ref="CO-1", reason="wrong sum")
    assert L.ok("auditor", S, "seize", **order)["status"] == "pending"  # a fresh order
    govern(L, "remove_regulator", {"pubkey": L.pk("auditor")})
    # the removed regulator's approval no longer counts: one more is still pending
    assert L.ok("regulator", S, "seize", **order)["status"] == "pending"


def test_one_home_bank_does_not_lift_anothers_control(L: Ledger) -> None:
    acme = customer(L)  # registered by bank_a with bank BANK_A; give bank_e a say too
    ops = L.add_identity("ops").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=ops, name="Ops", role="bank", bank="BANK_A")
    L.ok("ops", G, "freeze_identity", pubkey=acme, reason="kyc", order_ref="K")
    L.fails("forbidden", "bank_a", G, "unfreeze_identity", pubkey=acme, reason="x",
            order_ref="x")
    L.ok("ops", G, "unfreeze_identity", pubkey=acme, reason="done", order_ref="K")


def test_a_bic_is_one_bank_in_every_spelling(L: Ledger) -> None:
    nb = L.add_identity("nb").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=nb, name="NB", role="bank", bank="NBNKGB2L")
    L.ok("bank_a", G, "register_identity", pubkey=L.add_identity("nb2").public_key.hex(),
         name="NB node", role="bank", bank="NBNKGB2L")
    for i, bic in enumerate(("NBNKGB2LXXX", "ＮＢＮＫＧＢ２Ｌ", "NBNKGB2L\u200b", "nbnk gb2l")):
        shadow = L.add_identity(f"shadow{i}").public_key.hex()
        L.fails("forbidden", "bank_a", G, "register_identity", pubkey=shadow, name="S",
                role="bank", bank=bic)


def test_the_onboarding_right_ends_after_the_banks_first_identities(L: Ledger) -> None:
    nb = L.add_identity("nb").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=nb, name="NB", role="bank", bank="NBNKGB2L")
    L.now_ms += 11 * 60 * 1000  # past the onboarding window
    L.fails("forbidden", "bank_a", G, "register_identity",
            pubkey=L.add_identity("late").public_key.hex(), name="late", role="bank",
            bank="NBNKGB2L")


def test_a_bank_does_not_raise_the_exposure_cap_a_regulator_set_on_it(L: Ledger) -> None:
    L.ok("regulator", R, "set_exposure_limit", bank=L.pk("bank_a"), side="buyer",
         party="Globex Corp", currency="USD", max=1000)
    L.fails("forbidden", "bank_a", R, "set_exposure_limit", side="buyer", party="Globex Corp",
            currency="USD", max=10**12)
    L.ok("bank_a", R, "set_exposure_limit", side="buyer", party="Initech", currency="USD",
         max=10**12)
    L.ok("bank_a", R, "set_exposure_limit", side="buyer", party="Initech", currency="USD",
         max=10**6)  # its own, it changes


def test_a_refusal_about_another_party_says_neither_which_nor_why(L: Ledger) -> None:
    """Red-team round 2: the payer read the payee's freeze (or revocation, or frozen currency)
    from the refusal's message, and the watched account from the alert."""
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("importer"), reason="r", order_ref="o")
    r = pay(L, "exporter", "importer", 1)
    assert r.error_code == "account_frozen" and "frozen)" in r.error_message
    assert L.pk("importer")[:16] not in r.error_message and "USD" not in r.error_message
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", R, "add_watch", entries=[risk.watch_digest(key, "id", L.pk("bank_e"))])
    r = pay(L, "exporter", "bank_e", 1)
    assert r.error_code == "sanctioned_party"
    assert L.pk("bank_e") not in str([e.data for e in r.events])


def test_a_former_bank_keeps_no_powers_over_its_customers(L: Ledger) -> None:
    acme = customer(L)  # bank BANK_A: the ops desk below is its home bank too
    ops = L.add_identity("ops").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=ops, name="Ops", role="bank", bank="BANK_A")
    govern(L, "set_role", {"pubkey": ops, "role": "importer"})
    L.fails("forbidden", "ops", G, "freeze_identity", pubkey=acme, reason="x", order_ref="x")
