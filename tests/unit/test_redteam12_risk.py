"""Red-team round 12 of the risk controls (docs/redteam-risk.md "Round 12"): a sanctioned party, a
money mule and a structuring customer against the real contract code, through the newest paths
(guarantee payouts, LC and guarantee promises, documents naming banks by code, vessels) and the
oldest (returns, PvP, transliterated names).

Found and fixed: a watched bank issued credits and guarantees, and a guarantee was advised
through a watched bank (decision 236); a party named by the BIC or LEI of a watched bank, an LC
copy whose issuing bank is a watched one, a party written with a listed LEI beside its name, and
a vessel with a listed IMO number under a new name got through (decision 237); a listed vessel
written with its type prefix ("MV", "M/T") or with its IMO number was only a possible match
(decision 238); a Russian name romanised the German or Polish way with "-ej" ("Sergej Iwanow")
raised nothing (decision 239). Held: transliterations of a listed name (Cyrillic, Greek,
Arabic, "Ivanoff") alert and are not refused; a frozen party gets nothing out through a
guarantee's payment or a PvP offer; honest names cost no read more.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts import risk
from contracts.testing import Ledger
from tests.unit.trade_cases import BILL_OF_LADING, DECLARATION, INVOICE, T, h, trade_ledger

S, R, G = "settlement", "risk", "governance"
BIC = "GLBXRUMM"  # a bank registered with this BIC, then watched
LEI = "5493001KJTIIGC8Y1R12"  # check digits valid
IMO = "9074729"  # check digit valid


def _key(L: Ledger) -> bytes:
    return risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))


def watch_name(L: Ledger, name: str) -> None:
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(_key(L), name))


def watch_id(L: Ledger, who: str) -> None:
    L.ok("regulator", R, "add_watch", entries=[risk.watch_digest(_key(L), "id", L.pk(who))])


def alerts(r: Any, rule: str) -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == "alert" and e.data["rule"] == rule]


def _with_watched_bank(by: str = "id") -> Ledger:
    """A trade ledger with "Globex Bank" (BIC GLBXRUMM, LEI :data:`LEI`'s holder is another
    bank identity, "Globex Bank Two"), registered by bank_a, funded, then watched (by id, or by
    name)."""
    L = trade_ledger()
    for who, name, code in (("glbx", "Globex Bank", BIC), ("glbx2", "Globex Bank Two", LEI)):
        L.add_identity(who)
        L.ok("bank_a", G, "register_identity", pubkey=L.pk(who), name=name, role="bank",
             bank=code)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(who), amount=10_000_00)
    if by == "id":
        watch_id(L, "glbx")
        watch_id(L, "glbx2")
    else:
        watch_name(L, "Globex Bank")
        watch_name(L, "Globex Bank Two")
    return L


GUARANTEE = {"amount": 1_000_00, "currency": "USD", "form": "DGAR",
             "guarantee_type": "performance", "guarantee_number": "PG-12",
             "underlying_ref": "CONTRACT 12", "expiry_date": "2026-12-31"}


def _guarantee(L: Ledger, bank: str, **more: Any) -> Any:
    return L.tx(bank, T, "issue_guarantee", applicant=L.pk("exporter"),
                beneficiary=L.pk("importer"), **GUARANTEE, **more)


def _doc(L: Ledger, doc_type: str, fields: dict[str, Any]) -> Any:
    return L.tx("exporter", T, "register", doc_type=doc_type, fields=fields,
                content_hash=h((doc_type, sorted(fields.items()))))


# ---------------------------------------------------------------------------- found and fixed


@pytest.mark.parametrize("by", ["id", "name"])
def test_a_watched_bank_issues_no_credit_and_no_guarantee_and_advises_none(by: str) -> None:
    """R12-1: the applicant and beneficiary were screened at the promise, never the bank giving
    it: a watched bank issued an LC and a guarantee (an exporter could ship and seek financing
    against them); a guarantee was advised through a watched bank. Decision 236."""
    L = _with_watched_bank(by)
    r = L.tx("glbx", T, "issue_lc", applicant=L.pk("importer"), beneficiary=L.pk("exporter"),
             amount=1_000_00, currency="USD", expiry_date="2026-12-31", lc_number="LC-12")
    assert r.error_code == "sanctioned_party" and alerts(r, "sanctioned_party")
    assert _guarantee(L, "glbx").error_code == "sanctioned_party"
    assert _guarantee(L, "bank_b", advising_bank=L.pk("glbx")).error_code == "sanctioned_party"
    # a clean bank still issues both, advised through a clean bank
    assert _guarantee(L, "bank_b", advising_bank=L.pk("bank_c")).ok
    assert L.tx("bank_b", T, "issue_lc", applicant=L.pk("importer"),
                beneficiary=L.pk("exporter"), amount=1_000_00, currency="USD",
                expiry_date="2026-12-31", lc_number="LC-13").ok


def test_a_watched_admin_bank_registers_no_one() -> None:
    """R12-1: a listed admin bank kept onboarding customers (fresh accounts for a mule
    network); only the new identity's name was screened. Decision 236."""
    L = trade_ledger()
    watch_id(L, "bank_a")
    L.add_identity("mule")
    r = L.tx("bank_a", G, "register_identity", pubkey=L.pk("mule"), name="Fresh Start Ltd",
             role="importer")
    assert r.error_code == "sanctioned_party" and alerts(r, "sanctioned_party")


def test_a_guarantee_of_a_bank_watched_after_issue_is_not_amended_or_extended() -> None:
    """The guarantor listed after the issue: enlarging its undertaking is refused, whether
    it proposes it or the beneficiary accepts it (its payment was refused already, by
    settlement)."""
    L = trade_ledger()
    gid, other = (L.ok("bank_b", T, "issue_guarantee", applicant=L.pk("exporter"),
                       beneficiary=L.pk("importer"), **dict(GUARANTEE, guarantee_number=n)
                       )["guarantee_id"] for n in ("PG-1", "PG-2"))
    p = L.ok("bank_b", T, "amend_guarantee", guarantee_id=gid,
             changes={"amount": 2_000_00})["proposal"]
    watch_id(L, "bank_b")
    assert L.tx("bank_b", T, "amend_guarantee", guarantee_id=other,
                changes={"amount": 3_000_00}).error_code == "sanctioned_party"
    assert L.tx("importer", T, "accept_guarantee_amendment", guarantee_id=gid,
                proposal=p).error_code == "sanctioned_party"


@pytest.mark.parametrize("field,value", [
    ("buyer", BIC), ("buyer", BIC + "XXX"), ("buyer", "glbx rumm"), ("buyer", f"BIC {BIC}"),
    ("buyer", LEI), ("buyer", f"Globex Trading (LEI {LEI})")])
def test_a_party_named_by_a_watched_banks_bic_or_lei_is_refused(field: str, value: str) -> None:
    """R12-2: a party named by a code was screened as a string of letters: the BIC of a
    watched bank as an invoice's buyer registered (and would be financed). The code is now read
    as the bank identity registered with it (governance ``bic/``). Decision 237."""
    L = _with_watched_bank()
    r = _doc(L, "invoice", dict(INVOICE, **{field: value}, number="INV-12"))
    assert r.error_code == "sanctioned_party" and "buyer" in r.error_message


def test_an_lc_copy_issued_by_a_watched_bank_is_refused() -> None:
    """R12-2: an LC copy's issuing bank (a BIC) was read for its country only."""
    L = _with_watched_bank(by="name")
    lc = {"issuing_bank": BIC, "lc_number": "LC-77", "applicant": "Globex Corp",
          "beneficiary": "ACME Exports Ltd", "amount": 1_000_00, "currency": "USD",
          "expiry_date": "2026-03-31"}
    r = _doc(L, "letter_of_credit", lc)
    assert r.error_code == "sanctioned_party" and "issuing_bank" in r.error_message
    assert _doc(L, "letter_of_credit", dict(lc, issuing_bank="DEUTDEFF")).ok  # no such bank


def test_a_listed_lei_or_imo_number_beside_another_name_is_refused() -> None:
    """R12-3: the regulator lists an LEI and a vessel's IMO number (as names); a party written
    "Other Name (LEI …)" and the vessel renamed, its IMO number kept, were only possible
    matches. The number is the party, whatever the name beside it. Decision 237."""
    L = trade_ledger()
    watch_name(L, LEI)
    watch_name(L, f"IMO {IMO}")
    r = _doc(L, "invoice", dict(INVOICE, buyer=f"Northwind Holdings, LEI: {LEI}", number="I-1"))
    assert r.error_code == "sanctioned_party"
    for vessel in (f"Pacific Dawn (IMO {IMO})", f"PACIFIC DAWN IMO NO. {IMO}",
                   f"Pacific Dawn IMO:{IMO}"):
        r = _doc(L, "bill_of_lading", dict(BILL_OF_LADING, vessel=vessel, bl_number=vessel))
        assert r.error_code == "sanctioned_party" and "vessel" in r.error_message, vessel
    # a seven-digit number that is no IMO number (check digit) is not read as one
    assert risk.name_aliases("vessel", "Pacific Dawn IMO 9074728") == ("pacific dawn",)


@pytest.mark.parametrize("vessel", ["MV Oceanic Star", "M/V Oceanic Star", "M.V. OCEANIC STAR",
                                    "MT Oceanic Star", "M/T Oceanic Star", "Motor Tanker Oceanic"
                                    " Star", f"Oceanic Star (IMO {IMO})"])
def test_a_listed_vessel_written_with_its_type_or_number_is_refused(vessel: str) -> None:
    """R12-4: a vessel's type prefix made another name, screened as a possible match only
    (the B/L registered, the trade financed). Dropped from a ``vessel`` field. Decision 238."""
    L = trade_ledger()
    watch_name(L, "Oceanic Star")
    r = _doc(L, "bill_of_lading", dict(BILL_OF_LADING, vessel=vessel))
    assert r.error_code == "sanctioned_party" and "vessel" in r.error_message


def test_a_prefixed_vessel_listed_after_registration_stops_financing() -> None:
    """Financing re-screens the trade's vessel (red-team F8b) by the same rule."""
    L = trade_ledger()
    trade = L.ok("exporter", T, "register", doc_type="invoice", fields=INVOICE,
                 content_hash=h("inv"))["trade_id"]
    decl = L.ok("exporter", T, "register", doc_type="customs_declaration", fields=DECLARATION,
                content_hash=h("decl"), trade_id=trade)["doc_id"]
    L.ok("exporter", T, "register", doc_type="bill_of_lading", content_hash=h("bl"),
         fields=dict(BILL_OF_LADING, vessel="M/V Oceanic Star"), trade_id=trade)
    L.ok("customs", T, "attest", doc_id=decl, result="match", declared_amount=98_000_00)
    watch_name(L, "Oceanic Star")
    r = L.tx("bank_a", T, "request_financing", amount=1_000_00, currency="USD",
             maturity_date="2026-02-28", trade_id=trade)
    assert r.error_code == "sanctioned_party" and "vessel" in r.error_message


def test_a_type_prefix_is_dropped_from_a_vessel_only() -> None:
    """The cost guard of R12-4: "MT Bank" or "MS Amlin" are companies; a buyer so named is not
    read as "Bank" or "Amlin" (a name too short for a near match raises nothing)."""
    assert risk.name_aliases("buyer", "MS Amlin") == ()
    assert risk.name_aliases("vessel", "MS Amlin") == ("amlin",)
    assert risk.name_aliases("vessel", "MV") == ()  # nothing left: the name as written
    L = trade_ledger()
    watch_name(L, "Amlin")
    assert _doc(L, "invoice", dict(INVOICE, buyer="MS Amlin", number="INV-MS")).ok


@pytest.mark.parametrize("listed,variant", [
    ("Sergei Ivanov", "Sergej Iwanow"), ("Иванов Сергей", "Iwanow Sergej"),
    ("Andrei Petrov", "Andrej Petrow"), ("Nikolai Volkov", "Nikolaj Wolkow")])
def test_a_russian_name_romanised_the_german_or_polish_way_alerts(listed: str,
                                                                  variant: str) -> None:
    """R12-5: "-ej"/"-aj" for "-ей"/"-ай" gave another near token ("Sergej" SRKK, "Sergei"
    SRK): no alert at all. Now a possible match, never a refusal. Decision 239."""
    L = trade_ledger()
    watch_name(L, listed)
    L.add_identity("shell")
    r = L.tx("bank_a", G, "register_identity", pubkey=L.pk("shell"), name=variant,
             role="exporter")
    assert r.ok and alerts(r, "possible_watch_match")


# ---------------------------------------------------------------------------- held


@pytest.mark.parametrize("variant,refused", [
    ("Ivanov Sergei", True), ("SERGEI IVANOV", True), ("Сергей Иванов", False),
    ("Ιβάνοφ Σεργκέι", False), ("سيرجي ايفانوف", False), ("Sergei Ivanoff", False),
    ("Sergey Ivanov", False), ("Mr Sergei Ivanov", False), ("S. Ivanov", False)])
def test_a_listed_name_in_another_script_or_spelling_alerts(variant: str, refused: bool) -> None:
    """Word order and case are the name (refused); another script, romanisation, a title or
    an initial is a possible match for review (the name as written is another's too)."""
    L = trade_ledger()
    watch_name(L, "Sergei Ivanov")
    L.add_identity("shell")
    r = L.tx("bank_a", G, "register_identity", pubkey=L.pk("shell"), name=variant,
             role="exporter")
    if refused:
        assert r.error_code == "sanctioned_party"
    else:
        assert r.ok and alerts(r, "possible_watch_match")


def test_a_listed_party_hidden_as_a_port_is_refused() -> None:
    L = trade_ledger()
    watch_name(L, "Globex Trading LLC")
    r = _doc(L, "bill_of_lading", dict(BILL_OF_LADING, port_of_discharge="GLOBEX TRADING"))
    assert r.error_code == "sanctioned_party" and "port_of_discharge" in r.error_message


def test_a_frozen_party_gets_nothing_out_through_a_guarantee_or_a_pvp() -> None:
    """A demand is recorded for a beneficiary frozen since, never paid; a guarantor's frozen
    account pays no demand; a frozen account offers no PvP leg in its currency (a return by or
    to a frozen party: tests/unit/test_redteam_risk9.py)."""
    L = trade_ledger()
    gid = L.ok("bank_b", T, "issue_guarantee", applicant=L.pk("exporter"),
               beneficiary=L.pk("importer"), **GUARANTEE)["guarantee_id"]
    dem = L.ok("importer", T, "demand", guarantee_id=gid, amount=500_00,
               supporting_statement="breach")["demand_id"]
    L.ok("regulator", R, "freeze_account", account=L.pk("importer"), currency="USD",
         reason="court", order_ref="F-12")
    L.fails("account_frozen", "bank_b", T, "pay_demand", demand_id=dem)
    L.ok("regulator", R, "unfreeze_account", account=L.pk("importer"), currency="USD",
         reason="court", order_ref="F-12")
    L.ok("regulator", R, "freeze_account", account=L.pk("bank_b"), currency="USD",
         reason="court", order_ref="F-13")  # the guarantor's own account: no payment out
    L.fails("account_frozen", "bank_b", T, "pay_demand", demand_id=dem)
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("bank_c"), amount=10_000)
    L.fails("account_frozen", "bank_b", S, "offer_pvp", counterparty=L.pk("bank_c"),
            give={"currency": "USD", "amount": 5_000}, get={"currency": "JPY", "amount": 1},
            expires_at=L.now_ms + 3_600_000)


@pytest.mark.parametrize("role,name", [
    ("buyer", "Globex Corp"), ("vessel", "Maersk Kendal"), ("port_of_loading", "Shanghai"),
    ("seller", "ACME Exports Ltd."), ("vessel", "Ever Given")])
def test_an_honest_name_has_no_alias(role: str, name: str) -> None:
    """No extra exact lookup for a name without a code or a vessel prefix; a BIC-shaped word
    ("SHANGHAI") costs one absent read of governance's ``bic/`` index, at document screening
    only (never on a transfer)."""
    assert risk.name_aliases(role, name) == ()
