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
from contracts.testing import Ledger
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
    led = Ledger()
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
                              "address": ADDRESS}
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


@pytest.mark.parametrize("frm,to,amount,currency,reads", [
    ("gb_exporter", "us_importer", 99_999, "USD", 1),  # small: the payer's record only
    ("gb_exporter", "us_importer", 99_999, "EUR", 1),
    ("gb_bank", "us_importer", 500_000, "USD", 1),  # complete: its record only
    ("gb_exporter", "gb_importer", 500_000, "USD", 3),  # large domestic: the two places
])
def test_the_check_reads_nothing_new_on_a_small_or_complete_transfer(
        L: Ledger, frm: str, to: str, amount: int, currency: str, reads: int) -> None:
    """The payer's record is read already by the freeze check (a peek of the block's shared
    value); only a large transfer of an incomplete originator reads the two places."""
    st = Reads(L)
    travel_rule.check_transfer(st, L.context(), L.pk(frm), L.pk(to), currency,  # type: ignore
                               amount)
    assert st.keys[0] == f"governance/id/{L.pk(frm)}" and len(st.keys) == reads


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
