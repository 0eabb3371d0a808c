"""A customer of a watched bank: the consortium's ``watched_bank_customers`` policy (red-team
round 12 Left, decisions 277-280).

OFAC's SDN list and the EU's asset freezes block a transaction involving a designated bank, and a
payment to or from an account it holds is one; correspondent-account sanctions (the CAPTA list)
restrict rather than block. So the consortium chooses: ``allow`` (the default, today's rule: a
payment screens its two parties, not their home banks), ``alert`` (it commits with a
``watched_bank_customer`` alert) or ``refuse`` (refused ``sanctioned_party``, the alert kept).
A customer's home banks are those of governance's home-bank rule: the admin bank that registered
it and the bank identity holding the BIC in its ``bank`` field; either watched by id or by name.

Every case but the ``allow`` ones fails on the code before (no such parameter in the genesis,
no such governance action, no such screening); the ``allow`` ones pin today's behaviour.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts import risk
from contracts.testing import Ledger, make_genesis
from tests.unit.trade_cases import T, trade_ledger

S, R, G = "settlement", "risk", "governance"
BIC = "GLBXRUMM"  # "Globex Bank"'s BIC: the bank is registered, funded, then watched
GUARANTEE = {"amount": 1_000_00, "currency": "USD", "form": "DGAR",
             "guarantee_type": "performance", "guarantee_number": "PG-277",
             "underlying_ref": "CONTRACT 277", "expiry_date": "2026-12-31"}


def _key(L: Ledger) -> bytes:
    return risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))


def govern(L: Ledger, policy: str) -> Any:
    pid = L.ok("bank_a", G, "propose", action="set_watched_bank_customers",
               params={"policy": policy})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        res = L.ok(v, G, "vote", proposal_id=pid)
    assert res["status"] == "applied"
    return res


def ledger(policy: str | None = None, by: str = "id") -> Ledger:
    """A trade ledger (genesis ``watched_bank_customers`` = ``policy``, absent if None) with
    "Globex Bank" (BIC :data:`BIC`, registered by bank_a, not an admin), and funded customers:
    ``cust`` (registered by the admin bank_a with Globex's BIC: Globex's customer), ``clean``
    (bank_a's own, no BIC) and the genesis exporter (no home bank on the ledger). Then Globex is
    watched (by id or by name)."""
    L = trade_ledger(**({} if policy is None else {"watched_bank_customers": policy}))
    L.add_identity("glbx")
    L.ok("bank_a", G, "register_identity", pubkey=L.pk("glbx"), name="Globex Bank", role="bank",
         bank=BIC)
    for who, role, bank in (("cust", "importer", BIC), ("clean", "exporter", None)):
        L.add_identity(who)
        L.ok("bank_a", G, "register_identity", pubkey=L.pk(who), name=f"{who} Ltd", role=role,
             **({} if bank is None else {"bank": bank}))
    for who in ("cust", "clean", "exporter"):
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(who), amount=100_000_00)
    if by == "id":
        entries = [risk.watch_digest(_key(L), "id", L.pk("glbx"))]
    else:
        entries = risk.watch_entries(_key(L), "Globex Bank")
    L.ok("regulator", R, "add_watch", entries=entries)
    return L


def pay(L: Ledger, frm: str, to: str, amount: int = 1_000_00) -> Any:
    return L.tx(frm, S, "transfer", to=L.pk(to), currency="USD", amount=amount)


def wbc(r: Any) -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == "alert"
            and e.data["rule"] == risk.WATCHED_BANK_CUSTOMER_RULE]


# ---------------------------------------------------------------------------- allow: as before


@pytest.mark.parametrize("policy", [None, "allow"])
def test_allow_pays_a_watched_banks_customer_as_before(policy: str | None) -> None:
    """``allow`` (and a genesis without the parameter: ``governance/params`` as before) pays
    and is paid without an alert: today's rule, pinned."""
    L = ledger(policy)
    stored = L.state.get(G, "params")
    assert ("watched_bank_customers" in stored) == (policy is not None)
    assert risk.watched_bank_customers(L.state) == "allow"
    for frm, to in (("cust", "clean"), ("clean", "cust")):
        r = pay(L, frm, to)
        assert r.ok and not wbc(r)


def test_the_genesis_refuses_a_policy_it_does_not_know() -> None:
    with pytest.raises(ValidationError, match="'allow', 'alert' or 'refuse'"):
        make_genesis(params={"watched_bank_customers": "block"})


# ---------------------------------------------------------------------------- alert


@pytest.mark.parametrize("by", ["id", "name"])
def test_alert_commits_with_an_alert_that_names_not_the_customer(by: str) -> None:
    """At ``alert`` a payment by or to Globex's customer commits, with a
    ``watched_bank_customer`` alert naming the other side and the signer, never the customer
    (its home bank's review queue would be the watched bank's: tipping off)."""
    L = ledger("alert", by)
    for frm, to in (("cust", "clean"), ("clean", "cust")):
        r = pay(L, frm, to)
        assert r.ok
        (a,) = wbc(r)
        assert a["accounts"] == [L.pk("clean")]
        assert a["policy"] == "alert" and a["party"] == "customer_of_watched_bank"
        assert L.pk("cust") not in str(a)
    assert not [a for a in L.state.get(R, "alerts/" + L.pk("cust")) or []
                if a["rule"] == risk.WATCHED_BANK_CUSTOMER_RULE]
    # a customer of a clean bank pays without one
    assert not wbc(pay(L, "clean", "exporter"))


def test_alert_through_a_governance_vote_from_allow() -> None:
    """A chain started at ``allow`` moves to ``alert`` by a vote: from the next payment."""
    L = ledger()
    assert not wbc(pay(L, "cust", "clean"))
    govern(L, "alert")
    assert L.state.get(G, "params")["watched_bank_customers"] == "alert"
    assert wbc(pay(L, "cust", "clean"))


# ---------------------------------------------------------------------------- refuse


@pytest.mark.parametrize("by", ["id", "name"])
def test_refuse_refuses_both_ways_with_the_alert_kept(by: str) -> None:
    L = ledger("refuse", by)
    for frm, to in (("cust", "clean"), ("clean", "cust")):
        r = pay(L, frm, to)
        assert r.error_code == "sanctioned_party"
        (a,) = [e.data for e in r.events if e.name == "alert"]
        assert a["rule"] == risk.WATCHED_BANK_CUSTOMER_RULE and a["policy"] == "refuse"
        assert L.pk("cust") not in a["accounts"]
    assert L.state.get(S, f"bal/{L.pk('cust')}/USD") == 100_000_00
    assert pay(L, "clean", "exporter").ok  # bank_a's customer: its bank is not watched
    # issuance to the customer is a payment to it too
    assert L.tx("usd_issuer", S, "issue", currency="USD", to=L.pk("cust"),
                amount=1_00).error_code == "sanctioned_party"


def test_refuse_by_a_vote_and_back_to_allow() -> None:
    L = ledger("alert")
    govern(L, "refuse")
    assert pay(L, "cust", "clean").error_code == "sanctioned_party"
    govern(L, "allow")
    r = pay(L, "cust", "clean")
    assert r.ok and not wbc(r)


def test_a_customer_registered_by_a_watched_admin_bank_is_its_customer() -> None:
    """The other way the home-bank rule makes a bank a customer's: the admin bank that
    registered it (``clean``, bank_a's, no BIC), watched by name."""
    L = ledger("refuse")
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(_key(L), "bank_a"))
    assert pay(L, "clean", "exporter").error_code == "sanctioned_party"
    assert pay(L, "exporter", "clean").error_code == "sanctioned_party"
    assert pay(L, "exporter", "importer").ok  # genesis customers: no home bank on the ledger


def test_a_bad_policy_is_not_proposed() -> None:
    L = ledger()
    r = L.tx("bank_a", G, "propose", action="set_watched_bank_customers",
             params={"policy": "block"})
    assert r.error_code == "bad_field"
    assert r.error_message == "params.policy must be one of allow, alert, refuse"


# ---------------------------------------------------------------------------- other payments


def test_refuse_covers_pvp_legs_guarantee_payouts_and_credits() -> None:
    """A PvP offer to the customer, the payout of a guarantee issued to it (and a new one), a
    letter of credit it applies for: each goes through the same screen (``check_payment``,
    ``check_on_behalf``)."""
    L = ledger("alert")
    gid = L.ok("bank_b", T, "issue_guarantee", applicant=L.pk("clean"),
               beneficiary=L.pk("cust"), **GUARANTEE)["guarantee_id"]
    dem = L.ok("cust", T, "demand", guarantee_id=gid, amount=500_00,
               supporting_statement="breach")["demand_id"]
    govern(L, "refuse")
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("clean"), amount=10_000)
    L.fails("sanctioned_party", "clean", S, "offer_pvp", counterparty=L.pk("cust"),
            give={"currency": "JPY", "amount": 100}, get={"currency": "USD", "amount": 1_00},
            expires_at=L.now_ms + 3_600_000)
    L.fails("sanctioned_party", "bank_b", T, "pay_demand", demand_id=dem)
    L.fails("sanctioned_party", "bank_b", T, "issue_lc", applicant=L.pk("cust"),
            beneficiary=L.pk("clean"), amount=1_000_00, currency="USD",
            expiry_date="2026-12-31", lc_number="LC-277")
    L.fails("sanctioned_party", "bank_b", T, "issue_guarantee", applicant=L.pk("clean"),
            beneficiary=L.pk("cust"), **dict(GUARANTEE, guarantee_number="PG-278"))


def test_testnet_init_alerts_and_the_bench_genesis_is_unchanged(tmp_path: Any) -> None:
    """``chainfin testnet init`` writes ``alert`` (decision 279); the genesis the execution
    bench builds (``testnet_genesis``) sets nothing, so its pinned digests stand."""
    import json

    from testnet import exec_bench
    from testnet.launch import init_testnet

    init_testnet(tmp_path, nodes=1, tls=False)
    params = json.loads((tmp_path / "genesis.json").read_text())["params"]
    assert params["watched_bank_customers"] == "alert"
    genesis, _ = exec_bench.bench_genesis(2, 3)
    assert "watched_bank_customers" not in genesis.params.model_fields_set
