"""trade_documents, the pure part: key-field validation and normalisation, identity and content
fingerprints (keyed), the integer rules (tolerance, advance rate, LC ceiling). Trades, financing
and letters of credit: test_contract_trade_documents_lifecycle.py."""

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
    "bill_of_lading": {"carrier": "MAEU", "bl_number": "BL 778899", "shipper": "ACME",
                       "consignee": "Globex", "vessel": "Maersk Kendal",
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
    assert td.norm_name("  ACME   Exports  Ltd. ", "x") == "acme exports"  # legal form dropped
    assert td.norm_name("ＡＣＭＥ\tExports, LTD", "x") == "acme exports"  # NFKC, case-fold
    assert td.norm_ref(" inv - 2025 / 001 ", "x") == "inv 2025 001"  # tokens
    # the separator-insensitive key: the tokens concatenated
    assert td.norm_ref("INV2025001", "x").replace(" ", "") == "inv2025001"
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
    ident = {"seller": a["seller"], "number": a["number"].replace(" ", "")}
    assert td.fingerprint(key, "invoice", a) == hmac.new(
        key, codec.encode(["invoice", ident]), hashlib.sha256).hexdigest()
    assert td.fingerprint(key, "invoice", a) != hashlib.sha256(
        codec.encode(["invoice", ident])).hexdigest()


@pytest.mark.parametrize("change", [{"amount": "1,234.51"}, {"issue_date": "2025-03-02"},
                                    {"buyer": "Someone Else"}, {"currency": "HKD"}])
def test_identity_fingerprint_ignores_amounts_dates_and_buyer(change: dict) -> None:
    """TRAPS #17: one cent more, another date or buyer is still the same invoice."""
    key = bytes.fromhex(FINGERPRINT_KEY)
    a = td.normalise_fields("invoice", INVOICE, exp_of)
    b = td.normalise_fields("invoice", {**INVOICE, **change}, exp_of)
    assert td.fingerprint(key, "invoice", a) == td.fingerprint(key, "invoice", b)
    assert td.content_fingerprint(key, "invoice", a) != td.content_fingerprint(key, "invoice", b)


@pytest.mark.parametrize("doc_type", sorted(SAMPLES))
def test_identity_is_only_what_names_the_document(doc_type: str) -> None:
    key = bytes.fromhex(FINGERPRINT_KEY)
    a = td.normalise_fields(doc_type, SAMPLES[doc_type], exp_of)
    for field in sorted(a):
        other = dict(a, **{field: a[field] + 1 if type(a[field]) is int else a[field] + "x"})
        same = td.fingerprint(key, doc_type, a) == td.fingerprint(key, doc_type, other)
        assert same == (field not in td.IDENTITY_FIELDS[doc_type]), field


def test_renumbered_invoice_keeps_its_content_fingerprint() -> None:
    key = bytes.fromhex(FINGERPRINT_KEY)
    a = td.normalise_fields("invoice", INVOICE, exp_of)
    b = td.normalise_fields("invoice", {**INVOICE, "number": "INV-2025-001-A"}, exp_of)
    assert td.fingerprint(key, "invoice", a) != td.fingerprint(key, "invoice", b)
    assert td.content_fingerprint(key, "invoice", a) == td.content_fingerprint(key, "invoice", b)
    assert td.content_fingerprint(key, "bill_of_lading",
                                  td.normalise_fields("bill_of_lading",
                                                      SAMPLES["bill_of_lading"], exp_of)) is None


# ---------------------------------------------------------------------------- integer rules


def test_tolerance_is_exact_integer_arithmetic() -> None:
    assert td.within_tolerance(105, 100, 500) and td.within_tolerance(95, 100, 500)
    assert not td.within_tolerance(106, 100, 500) and not td.within_tolerance(94, 100, 500)
    assert td.within_tolerance(100, 100, 0) and not td.within_tolerance(101, 100, 0)
    big = 2**63 - 1
    assert td.within_tolerance(big, big - big // 25, 500)  # no overflow: Python ints


def test_lc_ceiling_rounds_down_and_never_passes_the_largest_amount() -> None:
    from chainfin.execution import MAX_AMOUNT
    from contracts.trade.state import lc_ceiling

    assert lc_ceiling(1000, 500) == 1050
    assert lc_ceiling(999, 5) == 999  # 0.4995 rounds down
    assert lc_ceiling((MAX_AMOUNT + 1) // 2 - 1, 10_000) == MAX_AMOUNT - 1
    with pytest.raises(ContractError) as ei:
        lc_ceiling(MAX_AMOUNT, 1)
    assert ei.value.code == "bad_field"


def test_end_of_day_is_midnight_utc_after_the_date() -> None:
    assert td.end_of_day_ms("1970-01-01") == 86_400_000
    assert td.end_of_day_ms("2025-11-26") == 1_764_201_600_000




def test_every_error_code_is_declared_and_documented() -> None:
    """Each code a trade rule raises is in ERROR_CODES and explained in docs/contracts.md."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    raised = set()
    for src in sorted((root / "contracts" / "trade").glob("*.py")):
        for node in ast.walk(ast.parse(src.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "ContractError" and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)):
                raised.add(node.args[1].value)
    assert {"duplicate_document", "not_attested", "over_financed", "lc_expired"} <= raised
    assert raised <= set(td.ERROR_CODES), sorted(raised - set(td.ERROR_CODES))
    docs = (root / "docs" / "contracts.md").read_text()
    section = docs[docs.index("### trade_documents"):docs.index("### credit_sharing")]
    missing = [c for c in td.ERROR_CODES if f"`{c}`" not in section]
    assert not missing, missing
