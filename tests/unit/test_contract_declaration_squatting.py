"""A customs declaration number registered first by an exporter that is not its declarant
(naming itself as the exporter) kept the real exporter out for good (``duplicate_document``;
red-team, decision 139's notes). Customs attests it ``not_declarant``: the squatter's copy is
disputed, gives the number up, its trade is not financed, the supervisors are alerted
(decision 141, the shape of decision 123 for letters of credit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.testing import Ledger
from contracts.trade.documents import ATTEST_RESULTS
from contracts.trade.view import render, trade_report
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    T,
    finance,
    h,
    refused,
    register,
    trade_ledger,
)

SQUATTER_INVOICE = {**INVOICE, "seller": "Borealis Trading Co", "number": "BT-1"}


def _squat(led: Ledger, number: str = DECLARATION["declaration_number"],
           content_hash: str | None = None, in_trade: bool = True) -> dict[str, Any]:
    """exporter2 (Borealis) registers the real exporter's declaration number as its own, in a
    trade of its own. Returns its trade and declaration ids."""
    trade = register(led, "invoice", SQUATTER_INVOICE, who="exporter2")["trade_id"]
    extra = {"trade_id": trade} if in_trade else {}
    decl = led.ok("exporter2", T, "register", doc_type="customs_declaration",
                  fields={**DECLARATION, "declaration_number": number,
                          "exporter": "Borealis Trading Co"},
                  content_hash=content_hash or h("squat"), **extra)["doc_id"]
    return {"trade": trade, "declaration": decl}


def _not_declarant(led: Ledger, doc_id: str) -> Any:
    r = led.tx("customs", T, "attest", doc_id=doc_id, result="not_declarant",
               declared_amount=DECLARATION["amount"])
    assert r.status == "committed", r.error_message
    return r


@pytest.mark.parametrize(("own_number", "same_file"), [
    ("CD/2025/000123", False),   # the number as the squatter wrote it (fp/ key)
    ("CD 2025 0000123", False),  # another form of it (fpt/ key: leading zeros)
    ("CD/2025/000123", True),    # the squatter also claimed the real file's hash (content/)
])
def test_customs_frees_a_declaration_number_squatted_by_another_exporter(
        own_number: str, same_file: bool) -> None:
    led = trade_ledger()  # financing requires a declaration attested 'match'
    own_file = h("the real declaration")
    squat = _squat(led, content_hash=own_file if same_file else None)
    trade = register(led, "invoice", INVOICE)["trade_id"]
    own = {**DECLARATION, "declaration_number": own_number}
    refused(led, "duplicate_document", "exporter", "register", doc_type="customs_declaration",
            fields=own, content_hash=own_file, trade_id=trade)

    r = _not_declarant(led, squat["declaration"])
    doc = led.get(T, "doc/" + squat["declaration"])
    assert doc["disputed"]["reason"] == "not_declarant"
    assert doc["attestation"]["result"] == "not_declarant"
    for key in ("fp/" + doc["fingerprint"], "fpt/" + doc["token_fingerprint"],
                "content/" + doc["content_hash"]):
        assert led.get(T, key) is None, key
    alerts = [e for e in r.events if e.name == "alert"]
    assert [(e.data["rule"], e.data["accounts"], e.data["doc_id"]) for e in alerts] == \
        [("declaration_disputed", [], squat["declaration"])]

    # the real exporter registers its number, customs attests it, its trade is financed
    decl = led.ok("exporter", T, "register", doc_type="customs_declaration", fields=own,
                  content_hash=own_file, trade_id=trade)["doc_id"]
    led.ok("customs", T, "attest", doc_id=decl, result="match",
           declared_amount=DECLARATION["amount"])
    finance(led, "bank_a", 98_000_00, trade_id=trade)
    # and the number is taken again: the squatter cannot register it a second time
    refused(led, "duplicate_document", "exporter2", "register", doc_type="customs_declaration",
            fields={**DECLARATION, "exporter": "Borealis Trading Co"}, content_hash=h("again"))

    # the squatter's trade is not financed
    r = refused(led, "document_disputed", "bank_b", "request_financing", amount=10_000_00,
                currency="USD", maturity_date="2026-02-28", trade_id=squat["trade"])
    assert "declarant" in r.error_message and "ACME" not in r.error_message
    shown = render(trade_report(lambda k: led.get(T, k), squat["trade"], now_ms=led.now_ms))
    assert "DISPUTED: customs attested" in shown  # chainfin trade show


def test_a_disputed_declaration_linked_later_still_stops_financing() -> None:
    led = trade_ledger(financing_requires_attestation=False)
    squat = _squat(led, in_trade=False)
    _not_declarant(led, squat["declaration"])
    led.ok("exporter2", T, "link", trade_id=squat["trade"], doc_id=squat["declaration"])
    refused(led, "document_disputed", "bank_a", "request_financing", amount=10_000_00,
            currency="USD", maturity_date="2026-02-28", trade_id=squat["trade"])


def test_a_financed_trade_keeps_its_financing_but_gets_no_more() -> None:
    """Customs finds the squat after a bank financed the squatter's trade (a consortium that
    does not require attestation): the money moved and stays owed (the financing is untouched
    and is repaid as usual); no bank finances the trade again."""
    led = trade_ledger(financing_requires_attestation=False)
    squat = _squat(led)
    fin = finance(led, "bank_a", 40_000_00, trade_id=squat["trade"])["financing_id"]
    before = led.get(T, "fin/" + fin)
    _not_declarant(led, squat["declaration"])
    assert led.get(T, "fin/" + fin) == before
    trade = led.get(T, "trade/" + squat["trade"])
    assert trade["financed"] == 40_000_00 and trade["outstanding"] == 40_000_00
    refused(led, "document_disputed", "bank_b", "request_financing", amount=1_00,
            currency="USD", maturity_date="2026-02-28", trade_id=squat["trade"])
    refused(led, "document_disputed", "bank_a", "request_financing", amount=1_00,
            currency="USD", maturity_date="2026-02-28", doc_id=squat["declaration"])
    led.ok("exporter2", T, "repay", financing_id=fin, amount=40_000_00)
    # the real exporter's number is free
    trade_id = register(led, "invoice", INVOICE)["trade_id"]
    register(led, "customs_declaration", DECLARATION, trade_id=trade_id)
    finance(led, "bank_b", 98_000_00, trade_id=trade_id)


def test_only_customs_attests_not_declarant_and_only_on_a_declaration() -> None:
    led = trade_ledger()
    squat = _squat(led)
    bl = register(led, "bill_of_lading", BILL_OF_LADING)["doc_id"]
    refused(led, "not_a_declaration", "customs", "attest", doc_id=bl, result="not_declarant",
            declared_amount=1_00)
    for who in ("bank_a", "exporter", "exporter2"):
        refused(led, "forbidden", who, "attest", doc_id=squat["declaration"],
                result="not_declarant", declared_amount=1_00)
    refused(led, "bad_field", "customs", "attest", doc_id=squat["declaration"],
            result="not_the_declarant", declared_amount=1_00)
    assert led.get(T, "doc/" + squat["declaration"]).get("disputed") is None
    # once per declaration, as every attestation: a second one is refused
    _not_declarant(led, squat["declaration"])
    for result in ATTEST_RESULTS:
        refused(led, "already_attested", "customs", "attest", doc_id=squat["declaration"],
                result=result, declared_amount=1_00)


def test_attestation_results_and_the_alert_are_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    section = docs[docs.index("### trade_documents"):docs.index("### credit_sharing")]
    missing = [r for r in (*ATTEST_RESULTS, "declaration_disputed") if f"`{r}`" not in section]
    assert not missing, missing
