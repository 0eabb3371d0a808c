"""The travel rule, FATF Recommendation 16 (docs/risk.md "The travel rule", decisions 221-222):
a cross-border transfer of USD/EUR 1,000 or more whose originator has no address or identifier
on record is refused ``incomplete_originator_info`` (the originator's bank must not execute
it); the identity's home bank records that data (``governance.set_travel_info``), which only the
identity, its home bank, the supervisors and the two banks of a transfer it made read."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contracts import travel_rule
from contracts.testing import CAST, Ledger, make_genesis
from node import access

S, R, G = "settlement", "risk", "governance"
DAY_MS = 24 * 3600 * 1000
ADDRESS = {"lines": ["1 Canada Square"], "town": "London", "country": "GB"}
#: name -> (role, BIC): banks in Great Britain and the US, and their customers
PARTIES = {"gb_bank": ("bank", "BARCGB22"), "us_bank": ("bank", "CHASUS33"),
           "gb_exporter": ("exporter", "BARCGB22"), "gb_importer": ("importer", "BARCGB22"),
           "us_importer": ("importer", "CHASUS33")}


@pytest.fixture
def L() -> Ledger:
    # besides the cast, an admin bank in Great Britain (its name is its BIC: LOYDGB2L)
    led = Ledger(make_genesis({**CAST, "loydgb2l": ("bank", True, False)}))
    for name, (role, bic) in PARTIES.items():
        led.add_identity(name)
        led.ok("bank_a", G, "register_identity", pubkey=led.pk(name), name=name, role=role,
               bank=bic)
        for ccy, amount in (("USD", 1_000_000), ("JPY", 10_000_000)):
            led.ok("usd_issuer" if ccy == "USD" else "jpy_issuer", S, "issue", currency=ccy,
                   to=led.pk(name), amount=amount)
    return led


def pay(led: Ledger, frm: str, to: str, amount: int, currency: str = "USD") -> Any:
    return led.tx(frm, S, "transfer", to=led.pk(to), currency=currency, amount=amount)


def test_a_cross_border_transfer_at_the_threshold_needs_the_originators_address(
        L: Ledger) -> None:
    r = pay(L, "gb_exporter", "us_importer", 100_000)  # USD 1,000.00, GB -> US
    assert r.status == "rejected" and r.error_code == "incomplete_originator_info"
    # the message says which border, the amount in decimals and what the home bank runs
    assert "(GB to US) of USD 1,000.00 (100000 minor units)" in r.error_message, r.error_message
    assert "chainfin identity travel set" in r.error_message, r.error_message
    assert L.balance("gb_exporter", "USD") == 1_000_000  # not executed
    assert pay(L, "gb_exporter", "us_importer", 99_999).ok  # below the threshold
    assert pay(L, "gb_exporter", "gb_importer", 500_000).ok  # domestic
    assert pay(L, "gb_bank", "us_importer", 500_000).ok  # an institution: its BIC
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    assert pay(L, "gb_exporter", "us_importer", 100_000).ok


def test_another_currency_counts_at_the_reference_rate_and_a_stale_rate_counts_as_above(
        L: Ledger) -> None:
    # no rate of JPY against USD: counted as above
    r = pay(L, "gb_exporter", "us_importer", 10, "JPY")
    assert r.error_code == "incomplete_originator_info"
    L.ok("regulator", R, "publish_rates", base="USD", as_of_ms=L.now_ms,
         rates=[{"currency": "JPY", "per": 1_000_000, "base_units": 670_000}])
    assert pay(L, "gb_exporter", "us_importer", 149_252, "JPY").ok  # USD 999.99
    assert pay(L, "gb_exporter", "us_importer", 149_253, "JPY").error_code == \
        "incomplete_originator_info"  # USD 1,000.00 rounded up
    L.block([], advance_ms=7 * DAY_MS)  # the rate is stale now
    assert pay(L, "gb_exporter", "us_importer", 10, "JPY").error_code == \
        "incomplete_originator_info"
    assert pay(L, "gb_exporter", "gb_importer", 5_000_000, "JPY").ok  # domestic


def test_only_the_home_bank_or_a_regulator_records_it_and_fields_are_checked(
        L: Ledger) -> None:
    pk = L.pk("gb_exporter")
    L.fails("forbidden", "us_bank", G, "set_travel_info", pubkey=pk, national_id="X1")
    L.fails("forbidden", "gb_exporter", G, "set_travel_info", pubkey=pk, national_id="X1")
    L.fails("missing_field", "gb_bank", G, "set_travel_info", pubkey=pk)
    for bad in ({"address": {"lines": [], "country": "GB"}},
                {"address": {"lines": ["x"], "country": "UK"}},
                {"address": {"lines": ["x"], "country": "GB", "zip": "1"}},
                {"birth": {"date": "1990-02-30", "city": "Leeds", "country": "GB"}},
                {"national_id": "x" * 36}):
        L.fails("bad_field", "gb_bank", G, "set_travel_info", pubkey=pk, **bad)
    r = L.ok("regulator", G, "set_travel_info", pubkey=pk, customer_id="C-42",
             birth={"date": "1990-02-28", "city": "Leeds", "country": "GB"})
    assert r["fields"] == ["birth", "customer_id"]
    ev = L.last.receipts[0].events[0]  # names the fields, never their values
    assert ev.name == "travel_info_set" and "C-42" not in str(ev.data)
    assert L.get(G, "id/" + pk)["travel"]["customer_id"] == "C-42"


def test_the_beneficiary_always_has_a_name_and_an_account(L: Ledger) -> None:
    """The beneficiary half of R.16 holds by construction: no identity without a name, and its
    account is its identity id."""
    L.add_identity("nameless")
    L.fails("bad_field", "bank_a", G, "register_identity", pubkey=L.pk("nameless"), name=" ",
            role="importer")
    assert travel_rule.complete(L.get(G, "id/" + L.pk("gb_bank")))
    assert not travel_rule.complete(L.get(G, "id/" + L.pk("gb_exporter")))


def reader(L: Ledger, name: str) -> access.Reader:
    rd = access.resolve_reader(L.get, L.pk(name))
    assert rd is not None
    return rd


def test_the_transfers_two_banks_read_its_r16_data_and_nobody_else(L: Ledger) -> None:
    exp = L.pk("gb_exporter")
    L.ok("gb_bank", G, "set_travel_info", pubkey=exp, address=ADDRESS)
    rec = L.get(G, "id/" + exp)
    # the record: the identity, its home bank, the supervisors, never a counterparty's bank
    for name, sees in (("gb_exporter", True), ("gb_bank", True), ("regulator", True),
                       ("us_bank", False), ("us_importer", False), ("bank_e", False)):
        shown = access.visible_value(L.get, reader(L, name), G, "id/" + exp, rec)
        assert ("travel" in shown) is sees, name
    r = pay(L, "gb_exporter", "us_importer", 200_000)
    assert r.ok
    receipt = r.to_json()
    # the beneficiary's bank reads the transfer: status, the payment, the R.16 data
    assert access.tx_rule(L.get, reader(L, "us_bank"), exp, receipt) == "beneficiary_bank"
    view = access.beneficiary_bank_view(L.get, {"tx_id": receipt["tx_id"],
                                                "status": "committed", "result": {"x": 1}},
                                        receipt, exp)
    assert "result" not in view and [e["name"] for e in view["events"]] == ["transferred"]
    (t,) = view["travel"]
    assert t["originator"] == {"id": exp, "account": exp, "name": "gb_exporter",
                              "address": ADDRESS, "travel_v": 1}
    assert t["beneficiary"] == {"id": L.pk("us_importer"), "account": L.pk("us_importer"),
                                "name": "us_importer"}
    assert "beneficiary_bank" in access.TRAVEL_RULES and access.logged("beneficiary_bank")
    # the originator's bank reads the whole transaction; an unrelated bank nothing
    assert access.tx_rule(L.get, reader(L, "gb_bank"), exp, receipt) == "home_bank"
    assert access.tx_rule(L.get, reader(L, "bank_e"), exp, receipt) is None
    # the beneficiary reads its part, not the originator's address
    assert access.tx_rule(L.get, reader(L, "us_importer"), exp, receipt) == "party"
    assert "party" not in access.TRAVEL_RULES


class Reads:
    """A state that records the keys read through it."""

    def __init__(self, led: Ledger) -> None:
        self.led, self.keys = led, []  # type: ignore[var-annotated]

    def get(self, contract: str, key: str) -> Any:
        self.keys.append(f"{contract}/{key}")
        return self.led.get(contract, key)

    peek = get

    def put(self, contract: str, key: str, value: Any) -> None:
        self.keys.append(f"put {contract}/{key}")


@pytest.mark.parametrize("frm,to,amount,linked", [
    ("gb_bank", "us_importer", 500_000, None),  # complete: its record only
    ("gb_exporter", "gb_importer", 500_000, False),  # domestic: the records and home banks
    ("gb_exporter", "us_importer", 99_999, True),  # cross-border: and its linked sum
])
def test_the_check_reads_nothing_new_on_a_complete_transfer(
        L: Ledger, frm: str, to: str, amount: int, linked: bool | None) -> None:
    """The payer's record is read already by the freeze check (a peek of the block's shared
    value); only a transfer of an incomplete originator reads the places: the two records
    (read by the freeze checks too) and their home banks' (shared by all their customers), and
    a cross-border one the originator's linked sum (decision 225)."""
    st = Reads(L)
    travel_rule.check_transfer(st, L.context(), L.pk(frm), L.pk(to), "USD",  # type: ignore
                               amount)
    want = {f"governance/id/{L.pk(frm)}"}
    if linked is not None:
        want |= {f"governance/id/{L.pk(x)}" for x in (to, "bank_a")}
    if linked:
        want |= {f"{p}governance/travel/{L.pk(frm)}/linked" for p in ("", "put ")}
    assert st.keys[0] == f"governance/id/{L.pk(frm)}" and set(st.keys) == want


# ------------------------------------------------- red-team round 11 (decisions 224, 225)


def test_linked_transfers_each_under_the_threshold_are_summed(L: Ledger) -> None:
    """Splitting USD 1,200 into four of USD 300 (INR.16, EU 2023/1113 art. 6(2): linked
    transfers): the one that brings an incomplete originator's cross-border sum within 24 hours
    to the threshold is refused, whoever the payee; domestic ones are not counted."""
    for _ in range(3):
        assert pay(L, "gb_exporter", "us_importer", 30_000).ok
    assert pay(L, "gb_exporter", "gb_importer", 90_000).ok  # domestic: not counted
    r = pay(L, "gb_exporter", "us_bank", 10_000)  # another payee abroad: USD 1,000 in all
    assert r.error_code == "incomplete_originator_info" and "linked" in r.error_message
    assert pay(L, "gb_exporter", "us_importer", 9_999).ok  # USD 999.99 in all
    L.block([], advance_ms=DAY_MS)  # a new window
    assert pay(L, "gb_exporter", "us_importer", 99_999).ok
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    assert pay(L, "gb_exporter", "us_importer", 1).ok  # complete: nothing counted
    # the sum is the identity's, its home bank's and the supervisors', no one else's
    key = "travel/" + L.pk("gb_exporter") + "/linked"
    assert access.state_rule(L.get, reader(L, "us_bank"), G, key) is None
    assert access.state_rule(L.get, reader(L, "gb_bank"), G, key) == "home_bank"


@pytest.mark.parametrize("field", ["5493001KJTIIGC8Y1R12", "x", "CHASUS33"])
def test_a_customers_bank_field_does_not_take_it_out_of_the_rule(L: Ledger, field: str) -> None:
    """A customer's ``bank`` field is its registering bank's to write, unchecked: an LEI, no
    BIC at all, or a BIC of the payee's country made a GB bank's customer placeless (never
    under the rule) or domestic to a US payee. Its home bank's place counts too."""
    L.add_identity("gb_trader")
    L.ok("loydgb2l", G, "register_identity", pubkey=L.pk("gb_trader"), name="gb_trader",
         role="exporter", bank=field)
    L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("gb_trader"), amount=1_000_000)
    assert pay(L, "gb_trader", "us_importer", 100_000).error_code == \
        "incomplete_originator_info"


def test_the_transfers_view_shows_the_data_it_carried_not_the_records_now(L: Ledger) -> None:
    """R.16 record-keeping (five years): the view read the record at the time of reading, so
    an auditor (and the payee's bank) of a past transfer saw data set after it — or none, once
    changed. Each version is kept, never rewritten; the transfer's event names the one it
    carried (decision 224)."""
    exp = L.pk("gb_exporter")
    receipts = []
    for addr in (ADDRESS, {"lines": ["9 Rue X"], "town": "Paris", "country": "FR"}):
        L.ok("gb_bank", G, "set_travel_info", pubkey=exp, address=addr)
        r = pay(L, "gb_exporter", "us_importer", 200_000)
        assert r.ok
        receipts.append(r.to_json())
    L.ok("gb_bank", G, "set_travel_info", pubkey=exp, customer_id="C-9")  # later again
    # the version is in the result (the payer's), not in the event the payee reads
    assert receipts[0]["result"]["travel_v"] == 1 and "travel_v" not in str(receipts[0]["events"])
    views = [access.travel_view(L.get, rc, exp)[0]["originator"] for rc in receipts]
    assert views[0]["address"] == ADDRESS and views[0]["travel_v"] == 1
    assert views[1]["address"]["town"] == "Paris" and "customer_id" not in views[1]
    kept = L.get(G, f"travel/{exp}/1")
    assert kept["info"] == {"address": ADDRESS} and kept["by"] == L.pk("gb_bank")
    # a transfer made before any data was recorded carried none, and is shown with none
    L.add_identity("late")
    L.ok("loydgb2l", G, "register_identity", pubkey=L.pk("late"), name="late",
         role="exporter", bank="BARCGB22")
    L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("late"), amount=1_000_000)
    r = pay(L, "late", "us_importer", 50_000)
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("late"), customer_id="C-10")
    assert "customer_id" not in access.travel_view(L.get, r.to_json(), L.pk("late"))[0][
        "originator"]
    # the versions are read as the record's travel is: not by the counterparty's bank
    for name, rule in (("us_bank", None), ("gb_bank", "home_bank"), ("gb_exporter", "owner"),
                       ("regulator", "regulator")):
        assert access.state_rule(L.get, reader(L, name), G, f"travel/{exp}/1") == rule, name


def test_a_pvp_swap_across_borders_is_under_the_rule_on_both_legs(L: Ledger) -> None:
    """A PvP swap moves value both ways between its two parties: each leg is a transfer whose
    payer is its originator. Before, USD 2,000 against JPY moved GB <-> US with no data."""
    def swap(offerer: str, accepter: str) -> Any:
        oid = L.ok(offerer, S, "offer_pvp", counterparty=L.pk(accepter),
                   give={"currency": "USD", "amount": 200_000},
                   get={"currency": "JPY", "amount": 10}, expires_at=L.now_ms + DAY_MS)
        return L.tx(accepter, S, "accept_pvp", offer_id=oid["offer_id"])

    assert swap("us_importer", "gb_exporter").error_code == "incomplete_originator_info"
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    # the give leg: the offerer's (US) USD 2,000, its originator without data
    assert swap("us_importer", "gb_exporter").error_code == "incomplete_originator_info"
    L.ok("regulator", G, "set_travel_info",
         pubkey=L.pk("us_importer"), customer_id="U-1")
    assert swap("us_importer", "gb_exporter").ok
    assert swap("gb_importer", "gb_exporter").ok  # domestic


# ---------------------------------------------------------------------------- ISO 20022 pacs.008

DEBTOR, CREDITOR = "ab" * 32, "cd" * 32


def pacs008(amount: str, currency: str = "USD", travel: dict[str, Any] | None = None,
            creditor_bic: str = "BARCGB22XXX") -> bytes:
    from chainfin import iso20022 as iso

    return iso.build_pacs008([iso.OutgoingTransfer(
        "E2E-1", amount, currency, DEBTOR, CREDITOR, debtor_name="ACME Exports Ltd",
        creditor_name="Globex Corp", debtor_travel=travel)],
        debtor_agent_bic="CHASUS33XXX", creditor_agent_bic=creditor_bic)


def test_the_pacs008_written_carries_the_r16_data_and_one_without_it_is_refused() -> None:
    from chainfin import iso20022 as iso

    assert (iso.TRAVEL_THRESHOLD_MINOR, iso.TRAVEL_AT_PAR) == (travel_rule.THRESHOLD_MINOR,
                                                               travel_rule.AT_PAR)
    full = {"address": ADDRESS, "customer_id": "C-42",
            "birth": {"date": "1990-02-28", "city": "Leeds", "country": "GB"}}
    xml = pacs008("1000.00", travel=full)  # valid against the XSD (build_pacs008 checks)
    flat = re.sub(rb">\s+<", b"><", xml)
    for part in (b"<PstlAdr><TwnNm>London</TwnNm><Ctry>GB</Ctry><AdrLine>1 Canada Square",
                 b"<BirthDt>1990-02-28</BirthDt>", b"<Id>C-42</Id><SchmeNm><Cd>CUST</Cd>",
                 b"<Cdtr><Nm>Globex Corp</Nm>", b"<DbtrAcct>"):
        assert part in flat, part
    assert iso.parse_payment(xml).transfers[0].amount == 1000
    org = pacs008("5000.00", "EUR", travel={"customer_id": "C-7"})
    assert b"<OrgId><Othr><Id>C-7</Id>" in re.sub(rb">\s+<", b"><", org) and iso.parse_payment(org)
    with pytest.raises(iso.Iso20022Error, match="Dbtr/PstlAdr.*Recommendation 16"):
        iso.parse_payment(pacs008("1000.00"))  # US -> GB, no address
    with pytest.raises(iso.Iso20022Error, match="Recommendation 16"):
        iso.parse_payment(pacs008("10", "JPY"))  # no rate here: counted as above
    assert iso.parse_payment(pacs008("999.99"))  # under the threshold
    assert iso.parse_payment(pacs008("5000.00", creditor_bic="CITIUS33XXX"))  # domestic


def test_the_pain002_reports_the_refusal_as_missing_debtor_name_or_address() -> None:
    from chainfin.iso20022 import pain001

    assert pain001.ledger_reason("incomplete_originator_info") == ("RR02", None)
