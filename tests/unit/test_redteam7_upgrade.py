"""Decision 153 changes the name skeleton (more legal forms, "and"/"the" dropped) and the digit
look-alikes of numbers, so a document registered before the upgrade was fingerprinted under
other keys, and a trade opened before it stores its seller and buyer in the old form. These
tests register under the old rules (the functions kept as ``*_before_153``) and check that a
copy dressed after the upgrade is still found and that the trade still takes its documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts import testing
from contracts.names import ref_tokens_before_153, skeleton_before_153
from contracts.testing import Ledger
from contracts.trade import norm
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    INVOICE,
    INVOICE_AMOUNT,
    T,
    h,
    refused,
    register,
    trade_ledger,
)

SELLER = "ACME Exports Sdn. Bhd."  # "acme exports sdn" before decision 153, "acme exports" after


@pytest.fixture
def L(monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setitem(testing.LEGAL_NAMES, "exporter", SELLER)
    return trade_ledger()


def before_153(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The rules as they were: registrations inside this context are fingerprinted as before."""
    m = monkeypatch.context()
    ctx = m.__enter__()
    ctx.setattr(norm, "name_skeleton", skeleton_before_153)
    ctx.setattr(norm, "ref_tokens", ref_tokens_before_153)
    return m


def test_an_invoice_registered_before_the_upgrade_is_a_duplicate_after_it(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    m = before_153(monkeypatch)
    register(L, "invoice", {**INVOICE, "seller": SELLER, "number": "INV-2025-00З"})
    m.__exit__(None, None, None)
    assert norm.name_skeleton is not skeleton_before_153
    for seller, number in ((SELLER, "INV-2025-00З"), ("ACME Exports Berhad", "INV 2025 00З"),
                           ("acme exports", "No. INV-2025-00З")):
        refused(L, "duplicate_document", "exporter", "register", doc_type="invoice",
                fields={**INVOICE, "seller": seller, "number": number,
                        "issue_date": "2025-12-20"}, content_hash=h((seller, number)))


def test_a_renumbered_copy_of_an_invoice_from_before_the_upgrade_is_suspected(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    m = before_153(monkeypatch)
    register(L, "invoice", {**INVOICE, "seller": SELLER, "buyer": "The Globex Corp"})
    m.__exit__(None, None, None)
    refused(L, "suspected_duplicate", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, "seller": SELLER, "buyer": "The Globex Corp",
                    "number": "INV-2025-777"}, content_hash=h("copy"))
    refused(L, "suspected_duplicate", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, "seller": SELLER, "buyer": "The Globex Corp",
                    "number": "INV-2025-778", "amount": INVOICE_AMOUNT + 50_00},
            content_hash=h("near"))


def test_a_trade_opened_before_the_upgrade_takes_its_documents_after_it(
        L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    m = before_153(monkeypatch)
    trade = register(L, "invoice", {**INVOICE, "seller": SELLER})["trade_id"]
    m.__exit__(None, None, None)
    assert L.get(T, "trade/" + trade)["seller"] == "acme exports sdn"
    register(L, "bill_of_lading", {**BILL_OF_LADING, "shipper": "ACME Exports Sendirian Berhad"},
             trade_id=trade)
    register(L, "packing_list", {"exporter": "ACME Exports", "number": "PL-1",
                                 "issue_date": "2025-11-21"}, trade_id=trade)
