"""trade_documents: key-field validation and normalisation, keyed fingerprints and duplicates,
verification, financing without double financing, repayment/closing, letters of credit that pay
through settlement atomically."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from chainfin import codec
from chainfin.errors import ContractError
from contracts import trade_documents as td
from contracts.testing import FINGERPRINT_KEY, Ledger

T = "trade_documents"
USD = {"USD": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CNY": 2, "HKD": 2}


def exp_of(code: str) -> int:
    if code not in USD:
        raise ContractError("unknown", "unknown_currency")
    return USD[code]


INVOICE = {"seller": "ACME Exports Ltd.", "buyer": "Globex  Corp", "number": "INV-2025-001",
           "issue_date": "2025-03-01", "amount": "1,234.50", "currency": "USD"}
SAMPLES = {
    "invoice": INVOICE,
    "bill_of_lading": {"carrier": "MAEU", "bl_number": "BL 778899", "vessel": "Maersk Kendal",
                       "port_of_loading": "Shanghai", "port_of_discharge": "Rotterdam"},
    "letter_of_credit": {"issuing_bank": "BANKGB2L", "lc_number": "LC-77", "applicant": "Globex",
                         "beneficiary": "ACME", "amount": 500_000, "currency": "USD",
                         "expiry_date": "20251231"},
    "packing_list": {"exporter": "ACME", "number": "PL-1", "issue_date": "2025-03-02"},
    "certificate_of_origin": {"exporter": "ACME", "number": "CO-1", "issue_date": "2025-03-02"},
    "customs_declaration": {"declaration_number": "CD/2025/9", "exporter": "ACME",
                            "amount": 99, "currency": "JPY"},
}


def h(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk("bank_a"),
           amount=10_000_00)
    return led


def register(L: Ledger, doc_type: str = "invoice", fields: dict | None = None, ch: int = 1,
             who: str = "exporter") -> str:
    return str(L.ok(who, T, "register", doc_type=doc_type, fields=fields or SAMPLES[doc_type],
                    content_hash=h(ch))["doc_id"])


# ---------------------------------------------------------------------------- normalisation


def test_name_and_reference_normalisation() -> None:
    assert td.norm_name("  ACME   Exports  Ltd. ", "x") == "acme exports ltd"
    assert td.norm_name("ＡＣＭＥ\tExports, LTD", "x") == "acme exports ltd"  # NFKC, case-fold
    assert td.norm_ref(" inv - 2025 / 001 ", "x") == td.norm_ref("INV2025001", "x")
    with pytest.raises(ContractError):
        td.norm_ref(" - / ", "x")
    with pytest.raises(ContractError):
        td.norm_name(5, "x")
    with pytest.raises(ContractError):
        td.norm_name("   ", "x")


@pytest.mark.parametrize("text", ["2025-03-01", "20250301", "2025/03/01", "2025.03.01",
                                  "2025-03-01T10:00:00Z", " 2025-03-01T23:59:59+05:30 "])
def test_dates_normalise_to_iso(text: str) -> None:
    assert td.norm_date(text, "d") == "2025-03-01"


@pytest.mark.parametrize("text", ["01/03/2025", "03/01/2025", "2025-02-30", "2025-13-01",
                                  "yesterday", 20250301, ""])
def test_bad_dates(text: object) -> None:
    with pytest.raises(ContractError) as ei:
        td.norm_date(text, "d")
    assert ei.value.code == "bad_field"


@pytest.mark.parametrize("value,exp,minor", [
    ("1,234.50", 2, 123450), ("1234.5", 2, 123450), ("1234", 2, 123400), (" 1 234.50 ", 2, 123450),
    ("1,234", 0, 1234), ("1234.000", 0, 1234), ("1.234", 3, 1234), ("0.001", 3, 1),
    (123450, 2, 123450), ("1,000,000.00", 2, 100_000_000),
])
def test_amounts_normalise_to_minor_units(value: object, exp: int, minor: int) -> None:
    assert td.norm_amount(value, "amount", exp) == minor


@pytest.mark.parametrize("value,exp", [
    ("1234.5", 0), ("1.2345", 3), ("1,23", 2), ("12,34.00", 2), ("-5", 2), ("0.00", 2),
    ("1.234,50", 2), ("abc", 2), (0, 2), (True, 2), ("", 2), ("1e5", 2),
])
def test_bad_amounts(value: object, exp: int) -> None:
    with pytest.raises(ContractError) as ei:
        td.norm_amount(value, "amount", exp)
    assert ei.value.code == "bad_field"


def test_scac_and_bic() -> None:
    assert td.norm_scac(" maeu ", "c") == "MAEU"
    assert td.norm_bic("bankgb2l", "b") == td.norm_bic("BANKGB2LXXX", "b") == "BANKGB2LXXX"
    for bad in ("M", "MAERSK", "MA3U"):
        with pytest.raises(ContractError):
            td.norm_scac(bad, "c")
    for bad in ("BANK", "BANKGB2LX", "1ANKGB2L"):
        with pytest.raises(ContractError):
            td.norm_bic(bad, "b")


def test_same_document_differently_written_has_one_fingerprint() -> None:
    other = {"seller": "acme   exports ltd", "buyer": "GLOBEX CORP", "number": "inv 2025 001",
             "issue_date": "20250301", "amount": 123450, "currency": "usd"}
    key = bytes.fromhex(FINGERPRINT_KEY)
    a = td.normalise_fields("invoice", INVOICE, exp_of)
    b = td.normalise_fields("invoice", other, exp_of)
    assert a == b and a["amount"] == 123450
    assert td.fingerprint(key, "invoice", a) == td.fingerprint(key, "invoice", b)
    # keyed: without the consortium key the fingerprint cannot be recomputed
    assert td.fingerprint(key, "invoice", a) != td.fingerprint(b"k" * 32, "invoice", a)
    assert td.fingerprint(key, "invoice", a) == hmac.new(
        key, codec.encode(["invoice", a]), hashlib.sha256).hexdigest()
    assert td.fingerprint(key, "invoice", a) != hashlib.sha256(
        codec.encode(["invoice", a])).hexdigest()
    # a different amount is a different document
    c = td.normalise_fields("invoice", {**INVOICE, "amount": "1,234.51"}, exp_of)
    assert td.fingerprint(key, "invoice", c) != td.fingerprint(key, "invoice", a)


# ---------------------------------------------------------------------------- register


@pytest.mark.parametrize("doc_type", sorted(SAMPLES))
def test_register_every_doc_type(L: Ledger, doc_type: str) -> None:
    r = L.tx("exporter", T, "register", doc_type=doc_type, fields=SAMPLES[doc_type],
             content_hash=h(7).upper())
    assert r.ok, r.error_message
    doc_id = r.result["doc_id"]
    assert doc_id == r.tx_id.hex()
    d = L.get(T, "doc/" + doc_id)
    assert d["doc_type"] == doc_type and d["owner"] == L.pk("exporter")
    assert d["content_hash"] == h(7) and d["fingerprint"] == r.result["fingerprint"]
    assert d["status"] == "registered"
    assert L.get(T, "fp/" + d["fingerprint"]) == doc_id
    assert r.events[0].name == "registered"


@pytest.mark.parametrize("doc_type", sorted(SAMPLES))
def test_every_key_field_is_required(L: Ledger, doc_type: str) -> None:
    for field in SAMPLES[doc_type]:
        fields = {k: v for k, v in SAMPLES[doc_type].items() if k != field}
        r = L.fails("missing_field", "exporter", T, "register", doc_type=doc_type,
                    fields=fields, content_hash=h(1))
        assert field in (r.error_message or "")


def test_register_rejections(L: Ledger) -> None:
    L.fails("unknown_field", "exporter", T, "register", doc_type="invoice",
            fields={**INVOICE, "notes": "private"}, content_hash=h(1))
    L.fails("bad_field", "exporter", T, "register", doc_type="receipt", fields=INVOICE,
            content_hash=h(1))
    L.fails("unknown_currency", "exporter", T, "register", doc_type="invoice",
            fields={**INVOICE, "currency": "EUR"}, content_hash=h(1))
    L.fails("bad_field", "exporter", T, "register", doc_type="invoice",
            fields={**INVOICE, "issue_date": "01/03/2025"}, content_hash=h(1))
    L.fails("bad_field", "exporter", T, "register", doc_type="invoice", fields=INVOICE,
            content_hash="abcd")
    L.fails("bad_field", "exporter", T, "register", doc_type="invoice", fields="x",
            content_hash=h(1))
    L.fails("missing_field", "exporter", T, "register", doc_type="invoice", fields=INVOICE)
    for who in ("bank_a", "importer", "auditor"):
        L.fails("forbidden", who, T, "register", doc_type="invoice", fields=INVOICE,
                content_hash=h(1))


def test_duplicates_are_detected(L: Ledger) -> None:
    first = register(L)
    same_doc = {"seller": "ACME EXPORTS LTD", "buyer": "globex corp", "number": "inv/2025/001",
                "issue_date": "2025-03-01T09:00:00Z", "amount": 123450, "currency": "USD"}
    r = L.fails("duplicate_document", "exporter", T, "register", doc_type="invoice",
                fields=same_doc, content_hash=h(2))  # different file hash
    assert first in (r.error_message or "")
    # another exporter trying to register the same invoice
    L.fails("duplicate_document", "exporter2", T, "register", doc_type="invoice",
            fields=same_doc, content_hash=h(3))
    # the same file under different fields
    L.fails("duplicate_document", "exporter", T, "register", doc_type="invoice",
            fields={**INVOICE, "number": "INV-2"}, content_hash=h(1))
    # the refused attempts are on chain as rejected receipts
    assert L.get("_tx", f"{L.pk('exporter2')}/0")["error"] == "duplicate_document"
    # a genuinely different invoice registers
    register(L, fields={**INVOICE, "number": "INV-2025-002"}, ch=4)


def test_private_fields_never_reach_the_state(L: Ledger) -> None:
    register(L)
    blob = b"".join(k + v for k, v in L.state.data.items()).lower()
    for secret in (b"inv2025001", b"inv-2025-001", b"globex", b"acme", b"2025-03-01"):
        assert secret not in blob


# ---------------------------------------------------------------------------- verify, finance


def test_verify(L: Ledger) -> None:
    doc = register(L)
    assert L.ok("bank_a", T, "verify", doc_id=doc)["verified_by"] == [L.pk("bank_a")]
    L.ok("bank_b", T, "verify", doc_id=doc)
    assert L.get(T, "doc/" + doc)["verified_by"] == sorted([L.pk("bank_a"), L.pk("bank_b")])
    L.fails("already_verified", "bank_a", T, "verify", doc_id=doc)
    L.fails("forbidden", "exporter", T, "verify", doc_id=doc)
    L.fails("unknown_document", "bank_a", T, "verify", doc_id="00" * 32)


def test_financing_by_several_banks_never_exceeds_the_amount(L: Ledger) -> None:
    doc = register(L)  # 1,234.50 USD = 123450
    r = L.ok("bank_a", T, "request_financing", doc_id=doc, amount=100_000, currency="USD")
    assert r == {"doc_id": doc, "financed": 100_000, "remaining": 23_450}
    assert L.get(T, "doc/" + doc)["status"] == "financed"
    # bank B asks for more than remains: refused, and the refusal is on chain
    rb = L.fails("over_financed", "bank_b", T, "request_financing", doc_id=doc, amount=30_000,
                 currency="USD")
    assert L.get("_tx", f"{L.pk('bank_b')}/0") == {"tx_id": rb.tx_id, "status": "rejected",
                                                   "error": "over_financed"}
    L.ok("bank_b", T, "request_financing", doc_id=doc, amount=23_450, currency="USD")
    L.fails("already_financed", "bank_c", T, "request_financing", doc_id=doc, amount=1,
            currency="USD")
    L.fails("already_financed", "bank_a", T, "request_financing", doc_id=doc, amount=1,
            currency="USD")
    d = L.get(T, "doc/" + doc)
    assert d["financed"] == 123450 == sum(d["financing"].values())
    assert d["financing"] == {L.pk("bank_a"): 100_000, L.pk("bank_b"): 23_450}


def test_financing_rejections(L: Ledger) -> None:
    doc = register(L)
    bl = register(L, "bill_of_lading", ch=2)
    L.fails("currency_mismatch", "bank_a", T, "request_financing", doc_id=doc, amount=1,
            currency="JPY")
    L.fails("not_financeable", "bank_a", T, "request_financing", doc_id=bl, amount=1,
            currency="USD")
    L.fails("unknown_document", "bank_a", T, "request_financing", doc_id="00" * 32, amount=1,
            currency="USD")
    L.fails("forbidden", "exporter", T, "request_financing", doc_id=doc, amount=1,
            currency="USD")
    L.fails("bad_field", "bank_a", T, "request_financing", doc_id=doc, amount=0,
            currency="USD")
    L.fails("missing_field", "bank_a", T, "request_financing", doc_id=doc, amount=1)
    L.fails("over_financed", "bank_a", T, "request_financing", doc_id=doc, amount=123451,
            currency="USD")


def test_financing_in_one_block_is_serialised(L: Ledger) -> None:
    """Two banks financing the same invoice in one block: the second sees the first."""
    doc = register(L)
    res = L.block([
        L.make_tx("bank_a", T, "request_financing",
                  {"doc_id": doc, "amount": 123450, "currency": "USD"}),
        L.make_tx("bank_b", T, "request_financing",
                  {"doc_id": doc, "amount": 123450, "currency": "USD"}),
    ])
    assert [r.error_code for r in res.receipts] == [None, "already_financed"]


def test_repay_and_close(L: Ledger) -> None:
    doc = register(L)
    L.ok("bank_a", T, "request_financing", doc_id=doc, amount=100_000, currency="USD")
    L.ok("bank_b", T, "request_financing", doc_id=doc, amount=20_000, currency="USD")
    L.fails("forbidden", "bank_c", T, "repay", doc_id=doc)  # financed nothing
    L.fails("forbidden", "exporter", T, "repay", doc_id=doc)
    L.fails("over_repaid", "bank_a", T, "repay", doc_id=doc, amount=100_001)
    L.fails("outstanding_financing", "exporter", T, "close", doc_id=doc)
    assert L.ok("bank_a", T, "repay", doc_id=doc, amount=40_000)["outstanding"] == 60_000
    assert L.ok("bank_a", T, "repay", doc_id=doc)["status"] == "financed"
    assert L.ok("bank_b", T, "repay", doc_id=doc)["status"] == "repaid"
    # a repaid receivable cannot be financed again (even the 3,450 never financed)
    L.fails("document_closed", "bank_c", T, "request_financing", doc_id=doc, amount=1,
            currency="USD")
    L.fails("forbidden", "exporter2", T, "close", doc_id=doc)
    assert L.ok("exporter", T, "close", doc_id=doc)["status"] == "closed"
    L.fails("document_closed", "exporter", T, "close", doc_id=doc)
    L.fails("document_closed", "bank_a", T, "verify", doc_id=doc)
    # the fingerprint stays taken after closing
    L.fails("duplicate_document", "exporter", T, "register", doc_type="invoice", fields=INVOICE,
            content_hash=h(99))


def test_close_unfinanced_document(L: Ledger) -> None:
    doc = register(L)
    L.ok("exporter", T, "close", doc_id=doc)
    L.fails("document_closed", "bank_a", T, "request_financing", doc_id=doc, amount=1,
            currency="USD")


# ---------------------------------------------------------------------------- letters of credit


def issue_lc(L: Ledger, amount: int = 200_000, expires_in: int = 86_400_000,
             required: tuple[str, ...] = ("invoice", "bill_of_lading"), number: str = "LC-1",
             who: str = "bank_a") -> str:
    return str(L.ok(who, T, "issue_lc", applicant=L.pk("importer"),
                    beneficiary=L.pk("exporter"), amount=amount, currency="USD",
                    expiry=L.now_ms + expires_in, required_docs=list(required),
                    lc_number=number)["lc_id"])


def test_lc_happy_path_pays_through_settlement(L: Ledger) -> None:
    lc = issue_lc(L)
    stored = L.get(T, "lc/" + lc)
    assert stored["status"] == "issued" and stored["required_docs"] == ["bill_of_lading",
                                                                         "invoice"]
    inv, bl = register(L), register(L, "bill_of_lading", ch=2)
    r = L.tx("exporter", T, "present", lc_id=lc, doc_ids=[inv, bl])
    assert r.ok and r.result == {"lc_id": lc, "claim": 123450, "currency": "USD"}
    assert L.get(T, "doc/" + inv)["lc_id"] == lc
    before_a = L.balance("bank_a", "USD")
    r = L.tx("bank_a", T, "accept_presentation", lc_id=lc)
    assert r.ok and r.result == {"lc_id": lc, "paid": 123450, "currency": "USD"}
    assert [(e.contract, e.name) for e in r.events] == [("settlement", "transferred"),
                                                        (T, "presentation_accepted")]
    assert L.balance("exporter", "USD") == 123450
    assert L.balance("bank_a", "USD") == before_a - 123450
    assert L.get(T, "lc/" + lc)["status"] == "paid"
    L.fails("lc_not_presented", "bank_a", T, "accept_presentation", lc_id=lc)
    L.fails("lc_not_open", "exporter", T, "present", lc_id=lc, doc_ids=[inv, bl])


def test_lc_without_invoice_claims_the_lc_amount(L: Ledger) -> None:
    lc = issue_lc(L, required=("packing_list",))
    pl = register(L, "packing_list")
    assert L.ok("exporter", T, "present", lc_id=lc, doc_ids=[pl])["claim"] == 200_000


def test_accept_presentation_is_all_or_nothing(L: Ledger) -> None:
    lc = issue_lc(L, who="bank_b")  # bank_b has no USD
    inv, bl = register(L), register(L, "bill_of_lading", ch=2)
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=[inv, bl])
    before = L.balances("USD")
    L.fails("insufficient_funds", "bank_b", T, "accept_presentation", lc_id=lc)
    assert L.balances("USD") == before and L.get(T, "lc/" + lc)["status"] == "presented"
    L.fails("forbidden", "bank_a", T, "accept_presentation", lc_id=lc)  # not the issuer
    L.fails("forbidden", "exporter", T, "accept_presentation", lc_id=lc)
    L.fails("unknown_lc", "bank_b", T, "accept_presentation", lc_id="00" * 32)
    L.ok("bank_a", "settlement", "transfer", to=L.pk("bank_b"), currency="USD", amount=200_000)
    L.ok("bank_b", T, "accept_presentation", lc_id=lc)
    assert L.balance("exporter", "USD") == 123450


def test_issue_lc_rejections(L: Ledger) -> None:
    base = {"applicant": L.pk("importer"), "beneficiary": L.pk("exporter"), "amount": 1000,
            "currency": "USD", "expiry": L.now_ms + 86_400_000, "required_docs": ["invoice"],
            "lc_number": "LC-9"}
    L.fails("lc_expired", "bank_a", T, "issue_lc", **{**base, "expiry": L.now_ms})
    L.fails("bad_field", "bank_a", T, "issue_lc", **{**base, "beneficiary": L.pk("importer")})
    L.fails("unknown_identity", "bank_a", T, "issue_lc", **{**base, "applicant": "ab" * 32})
    L.fails("bad_field", "bank_a", T, "issue_lc", **{**base, "required_docs": ["selfie"]})
    L.fails("bad_field", "bank_a", T, "issue_lc", **{**base, "required_docs": []})
    L.fails("unknown_currency", "bank_a", T, "issue_lc", **{**base, "currency": "EUR"})
    L.fails("forbidden", "exporter", T, "issue_lc", **base)
    L.fails("missing_field", "bank_a", T, "issue_lc",
            **{k: v for k, v in base.items() if k != "lc_number"})
    L.ok("bank_a", T, "issue_lc", **base)
    L.fails("duplicate_lc", "bank_a", T, "issue_lc", **{**base, "lc_number": " lc 9 "})
    L.ok("bank_b", T, "issue_lc", **base)  # numbers are per issuing bank


def test_present_rejections(L: Ledger) -> None:
    lc = issue_lc(L, amount=200_000, expires_in=100_000)
    inv, bl = register(L), register(L, "bill_of_lading", ch=2)
    jpy = register(L, "customs_declaration", ch=3)
    other = register(L, "invoice", {**INVOICE, "number": "X-1"}, ch=4, who="exporter2")
    big = register(L, "invoice", {**INVOICE, "number": "BIG", "amount": 300_000}, ch=5)
    L.fails("forbidden", "exporter2", T, "present", lc_id=lc, doc_ids=[inv, bl])
    L.fails("unknown_lc", "exporter", T, "present", lc_id="00" * 32, doc_ids=[inv])
    L.fails("missing_documents", "exporter", T, "present", lc_id=lc, doc_ids=[inv])
    L.fails("currency_mismatch", "exporter", T, "present", lc_id=lc, doc_ids=[inv, bl, jpy])
    L.fails("document_mismatch", "exporter", T, "present", lc_id=lc, doc_ids=[other, bl])
    L.fails("amount_exceeds_lc", "exporter", T, "present", lc_id=lc, doc_ids=[big, bl])
    inv2 = register(L, "invoice", {**INVOICE, "number": "INV-2", "amount": 100_000}, ch=6)
    L.fails("amount_exceeds_lc", "exporter", T, "present", lc_id=lc, doc_ids=[inv, inv2, bl])
    L.fails("bad_field", "exporter", T, "present", lc_id=lc, doc_ids=[inv, inv, bl])
    L.fails("unknown_document", "exporter", T, "present", lc_id=lc, doc_ids=["00" * 32])
    # a document already presented under another LC
    lc2 = issue_lc(L, number="LC-2")
    L.ok("exporter", T, "present", lc_id=lc2, doc_ids=[inv, bl])
    L.fails("document_in_use", "exporter", T, "present", lc_id=lc, doc_ids=[inv, bl])
    L.fails("document_in_use", "exporter", T, "close", doc_id=inv)
    # expiry by block time
    inv3 = register(L, "invoice", {**INVOICE, "number": "INV-3"}, ch=7)
    bl3 = register(L, "bill_of_lading", {**SAMPLES["bill_of_lading"], "bl_number": "B3"}, ch=8)
    L.now_ms += 200_000
    L.fails("lc_expired", "exporter", T, "present", lc_id=lc, doc_ids=[inv3, bl3])
