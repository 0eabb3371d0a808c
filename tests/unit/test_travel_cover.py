"""The travel rule on cover payments (FATF INR.16; SWIFT's pacs.009 COV, whose
``UndrlygCstmrCdtTrf`` carries the customer's data; decisions 269-272, docs/risk.md "The travel
rule"): a bank paying on its customer's behalf names the customer (``transfer``'s
``underlying``), and the ledger checks the customer's R.16 data, places and linked sum, not
the bank's completeness by its BIC. Before, a bank moving its customer's money from its own
account was its own transfer, complete by its BIC, and the customer's missing data never
counted (red-team round 11, "Left")."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from contracts.testing import CAST, Ledger, make_genesis
from node import access

S, G = "settlement", "governance"
ADDRESS = {"lines": ["1 Canada Square"], "town": "London", "country": "GB"}
#: name -> (role, BIC): banks in Great Britain and the US, and their customers
PARTIES = {"gb_bank": ("bank", "BARCGB22"), "us_bank": ("bank", "CHASUS33"),
           "gb_exporter": ("exporter", "BARCGB22"), "us_importer": ("importer", "CHASUS33")}


@pytest.fixture
def L() -> Ledger:
    # besides the cast, an admin bank in Great Britain (its name is its BIC: LOYDGB2L)
    led = Ledger(make_genesis({**CAST, "loydgb2l": ("bank", True, False)}))
    for name, (role, bic) in PARTIES.items():
        led.add_identity(name)
        led.ok("bank_a", G, "register_identity", pubkey=led.pk(name), name=name, role=role,
               bank=bic)
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(name), amount=1_000_000)
    return led


def cover(led: Ledger, bank: str, to: str, amount: int, underlying: str | None = None,
          beneficiary: str | None = None) -> Any:
    more = {} if underlying is None else {"underlying": led.pk(underlying)}
    if beneficiary is not None:
        more["underlying_beneficiary"] = led.pk(beneficiary)
    return led.tx(bank, S, "transfer", to=led.pk(to), currency="USD", amount=amount, **more)


def reader(led: Ledger, name: str) -> access.Reader:
    rd = access.resolve_reader(led.get, led.pk(name))
    assert rd is not None
    return rd


def test_a_cover_payment_is_checked_on_the_underlying_originators_data(L: Ledger) -> None:
    """GB bank pays the US bank USD 2,000 for its customer: refused while the customer has no
    data (the bank's own BIC made it complete before), executed once its bank records it, and
    the result names the customer and the version of its data the payment carried."""
    r = cover(L, "gb_bank", "us_bank", 200_000, "gb_exporter")
    assert r.error_code == "incomplete_originator_info", (r.error_code, r.error_message)
    assert "(GB to US) of USD 2,000.00" in r.error_message, r.error_message
    assert L.balance("gb_bank", "USD") == 1_000_000  # not executed
    assert cover(L, "gb_bank", "us_bank", 99_999, "gb_exporter").ok  # under the threshold
    assert cover(L, "gb_bank", "loydgb2l", 500_000, "gb_exporter").ok  # domestic
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    res = L.ok("gb_bank", S, "transfer", to=L.pk("us_bank"), currency="USD", amount=200_000,
               underlying=L.pk("gb_exporter"))
    assert res["underlying"] == L.pk("gb_exporter") and res["travel_v"] == 1


def test_only_the_underlying_originators_home_bank_may_name_it(L: Ledger) -> None:
    """The US bank naming the GB bank's customer would pay under that customer's data (and
    sum): refused ``not_home_bank``, as is a customer naming another, or an unknown identity."""
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    r = cover(L, "us_bank", "gb_bank", 200_000, "gb_exporter")
    assert r.error_code == "not_home_bank" and "home bank" in r.error_message, r.error_message
    assert cover(L, "us_importer", "gb_bank", 10, "gb_exporter").error_code == "not_home_bank"
    assert cover(L, "gb_bank", "us_bank", 10, "gb_bank").error_code == "not_home_bank"  # itself
    L.fails("unknown_identity", "gb_bank", S, "transfer", to=L.pk("us_bank"), currency="USD",
            amount=10, underlying="ef" * 32)
    L.fails("bad_field", "gb_bank", S, "transfer", to=L.pk("us_bank"), currency="USD",
            amount=10, underlying_beneficiary=L.pk("us_importer"))  # no underlying


def test_cover_payments_and_the_customers_own_transfers_share_its_linked_sum(
        L: Ledger) -> None:
    """Linked transfers (decision 225): the customer's own USD 600 and a cover of USD 500 for
    it within 24 hours are its USD 1,100; the bank's own transfers are not summed."""
    assert L.tx("gb_exporter", S, "transfer", to=L.pk("us_importer"), currency="USD",
                amount=60_000).ok
    r = cover(L, "gb_bank", "us_bank", 50_000, "gb_exporter")
    assert r.error_code == "incomplete_originator_info" and "linked" in r.error_message
    assert cover(L, "gb_bank", "us_bank", 50_000).ok  # the bank's own: complete by its BIC


def test_the_underlying_beneficiarys_place_counts(L: Ledger) -> None:
    """A cover paid to a bank at home for a beneficiary abroad is cross-border (pacs.008's
    CdtrAgt, the beneficiary's bank, counts the same way)."""
    assert cover(L, "gb_bank", "loydgb2l", 200_000, "gb_exporter").ok
    r = cover(L, "gb_bank", "loydgb2l", 200_000, "gb_exporter", "us_importer")
    assert r.error_code == "incomplete_originator_info", (r.error_code, r.error_message)
    assert cover(L, "gb_bank", "loydgb2l", 10, "gb_exporter", "gb_exporter").error_code == \
        "bad_field"


def test_the_underlying_parties_are_screened_as_paid_for(L: Ledger) -> None:
    """A frozen customer's money does not leave through its bank's cover: the underlying
    originator (and beneficiary) must pass as an LC's applicant does (``check_on_behalf``)."""
    L.ok("gb_bank", G, "set_travel_info", pubkey=L.pk("gb_exporter"), address=ADDRESS)
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("us_importer"), reason="court order",
         order_ref="CO-1")
    assert cover(L, "gb_bank", "us_bank", 200_000, "gb_exporter", "us_importer").error_code \
        == "account_frozen"
    assert cover(L, "gb_bank", "us_bank", 200_000, "gb_exporter").ok
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("gb_exporter"), reason="court order",
         order_ref="CO-2")
    assert cover(L, "gb_bank", "us_bank", 200_000, "gb_exporter").error_code == \
        "account_frozen"
    assert cover(L, "gb_bank", "us_bank", 200_000).ok  # the bank's own money: its own transfer


def test_a_banks_own_transfer_is_unchanged(L: Ledger) -> None:
    """Pinned: without ``underlying`` a bank's transfer is its own, complete by its BIC, and
    its result is what it was (no travel version, no underlying party)."""
    res = L.ok("gb_bank", S, "transfer", to=L.pk("us_importer"), currency="USD",
               amount=500_000)
    assert res == {"balance": 500_000}
    assert L.ok("gb_exporter", S, "transfer", to=L.pk("us_importer"), currency="USD",
                amount=99_999) == {"balance": 900_001}


def test_the_payee_bank_reads_the_underlying_data_the_cover_carried(L: Ledger) -> None:
    """The payee bank reads the cover's R.16 data as a customer's bank reads a transfer to its
    customer: the underlying originator with the version carried, the ordering bank, the
    beneficiary; an unrelated bank reads nothing; a plain transfer shows its party none."""
    exp = L.pk("gb_exporter")
    L.ok("gb_bank", G, "set_travel_info", pubkey=exp, address=ADDRESS)
    r = cover(L, "gb_bank", "us_bank", 200_000, "gb_exporter", "us_importer")
    assert r.ok
    L.ok("gb_bank", G, "set_travel_info", pubkey=exp, customer_id="C-1")  # later: not shown
    receipt, bank = r.to_json(), L.pk("gb_bank")
    us = reader(L, "us_bank")
    assert access.tx_rule(L.get, us, bank, receipt) == "party"
    outcome = {"tx_id": receipt["tx_id"], "status": "committed"}
    (t,) = access.party_view(L.get, us, outcome, receipt)["travel"]
    assert t["originator"] == {"id": exp, "account": exp, "name": "gb_exporter",
                              "address": ADDRESS, "travel_v": 1}
    assert t["beneficiary"]["id"] == L.pk("us_importer") and "address" not in t["beneficiary"]
    assert t["ordering_bank"]["bic"] == "BARCGB22"
    assert access.tx_rule(L.get, reader(L, "bank_e"), bank, receipt) is None
    # the supervisors read the same through the transaction's view
    assert access.travel_view(L.get, receipt, bank) == [t]
    plain = cover(L, "gb_bank", "us_bank", 10).to_json()
    assert "travel" not in access.party_view(L.get, us, outcome, plain)


# ---------------------------------------------------------------------------- pacs.009 COV

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.009.001.08"


def pacs009_cov(debtor: str, creditor_bank: str, amount: str, *, address: bool,
                beneficiary: str | None = None, cdtr_agt: str = "CHASUS33XXX") -> bytes:
    """A pacs.009 COV: the GB bank's cover to the US bank of its customer's transfer."""
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})

    def sub(p: Any, path: str, text: str | None = None, **a: str) -> Any:
        for tag in path.split("/"):
            p = etree.SubElement(p, f"{{{NS}}}{tag}", a if tag == path.split("/")[-1] else {})
        p.text = text
        return p

    def acct(p: Any, tag: str, key: str) -> None:
        prxy = sub(p, f"{tag}/Prxy")
        sub(prxy, "Tp/Prtry", "CHAINFIN")
        sub(prxy, "Id", key)

    body = sub(root, "FICdtTrf")
    hdr = sub(body, "GrpHdr")
    sub(hdr, "MsgId", "COV-1")
    sub(hdr, "CreDtTm", "2026-12-06T00:00:00+00:00")
    sub(hdr, "NbOfTxs", "1")
    tx = sub(body, "CdtTrfTxInf")
    sub(tx, "PmtId/EndToEndId", "COV-E2E-1")
    sub(tx, "IntrBkSttlmAmt", amount, Ccy="USD")
    sub(tx, "Dbtr/FinInstnId/BICFI", "BARCGB22XXX")
    sub(tx, "Cdtr/FinInstnId/BICFI", "CHASUS33XXX")
    acct(tx, "CdtrAcct", creditor_bank)
    u = sub(tx, "UndrlygCstmrCdtTrf")
    dbtr = sub(u, "Dbtr")
    sub(dbtr, "Nm", "ACME Exports Ltd")
    if address:
        adr = sub(dbtr, "PstlAdr")
        sub(adr, "TwnNm", "London")
        sub(adr, "Ctry", "GB")
    acct(u, "DbtrAcct", debtor)
    sub(u, "DbtrAgt/FinInstnId/BICFI", "BARCGB22XXX")
    sub(u, "CdtrAgt/FinInstnId/BICFI", cdtr_agt)
    sub(u, "Cdtr/Nm", "Globex Corp")
    if beneficiary is not None:
        acct(u, "CdtrAcct", beneficiary)
    return bytes(etree.tostring(root))


def test_a_pacs009_cov_is_submitted_with_its_underlying_debtor(L: Ledger) -> None:
    """A pacs.009 COV names its underlying debtor (``transfer``'s ``underlying``): the ledger
    checks the customer's data; above the threshold across borders, a COV lacking the
    underlying debtor's address or identifier is refused before sending, naming it."""
    from chainfin import iso20022 as iso
    from contracts.settlement import CONTRACT

    exp, us_bank, imp = L.pk("gb_exporter"), L.pk("us_bank"), L.pk("us_importer")
    with pytest.raises(iso.Iso20022Error,
                       match=r"UndrlygCstmrCdtTrf: .*\(GB to US\).*lacks Dbtr/PstlAdr"):
        iso.parse_payment(pacs009_cov(exp, us_bank, "2000.00", address=False))
    assert iso.parse_payment(pacs009_cov(exp, us_bank, "999.99", address=False))  # under
    assert iso.parse_payment(pacs009_cov(exp, us_bank, "2000.00", address=False,
                                         cdtr_agt="LOYDGB2LXXX"))  # domestic
    (t,) = iso.parse_payment(pacs009_cov(exp, us_bank, "2000.00", address=True,
                                         beneficiary=imp)).transfers
    assert (t.underlying, t.underlying_beneficiary) == (exp, imp)
    args = CONTRACT.methods["transfer"].parse_args(t.transfer_args(2))
    assert args["underlying"] == exp and args["underlying_beneficiary"] == imp
    # the ledger: the message's address is the submitter's claim; the customer's record decides
    assert L.tx("gb_bank", S, "transfer", **t.transfer_args(2)).error_code == \
        "incomplete_originator_info"
    L.ok("gb_bank", G, "set_travel_info", pubkey=exp, address=ADDRESS)
    assert L.ok("gb_bank", S, "transfer", **t.transfer_args(2))["underlying"] == exp
