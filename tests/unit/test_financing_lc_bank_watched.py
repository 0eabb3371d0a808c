"""Financing re-screens the banks behind a trade's letters of credit (red-team round 12's
Left, decision 262): a bank watch-listed after it issued an LC for the trade — or after an LC
copy naming it by its BIC was registered — made financing against its promise disburse, where
every party and vessel of the trade's documents is re-screened (F8b)."""

from __future__ import annotations

from typing import Any

from contracts import risk
from contracts.testing import Ledger
from tests.unit.trade_cases import INVOICE_AMOUNT, T, finance, open_trade, register, trade_ledger

G = "governance"
BIC = "GLBXRUMM"


def _watch(L: Ledger, who: str) -> None:
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", "risk", "add_watch", entries=[risk.watch_digest(key, "id", L.pk(who))])


def _lc(L: Ledger, ids: dict[str, str]) -> str:
    """bank_c's credit for the trade, joined to it by the exporter's presentation under it."""
    lc = str(L.ok("bank_c", T, "issue_lc", applicant=L.pk("importer"),
                  beneficiary=L.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
                  expiry_date="2026-01-31", lc_number="LC-W1", required_docs=["invoice"],
                  trade_id=ids["trade"])["lc_id"])
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]], amount=INVOICE_AMOUNT)
    assert L.get(T, "trade/" + ids["trade"])["lcs"] == [lc]
    return lc


def _refused(L: Ledger, bank: str, **target: str) -> Any:
    return L.tx(bank, T, "request_financing", amount=10_000_00, currency="USD",
                maturity_date="2026-03-31", **target)


def test_an_lc_issuer_watched_after_issuing_stops_the_trades_financing() -> None:
    L = trade_ledger()
    ids = open_trade(L)
    _lc(L, ids)
    _watch(L, "bank_c")
    r = _refused(L, "bank_a", trade_id=ids["trade"])
    assert r.error_code == "sanctioned_party", r.error_message
    assert any(e.name == "alert" and e.data["rule"] == "sanctioned_party" for e in r.events)


def test_an_lc_copys_bank_watched_after_registration_stops_the_trades_financing() -> None:
    L = trade_ledger()
    L.add_identity("glbx")
    L.ok("bank_a", G, "register_identity", pubkey=L.pk("glbx"), name="Globex Bank",
         role="bank", bank=BIC)
    ids = open_trade(L)
    register(L, "letter_of_credit", {
        "issuing_bank": BIC, "lc_number": "LC-77", "applicant": "Globex Corp",
        "beneficiary": "ACME Exports Ltd", "amount": 1_000_00, "currency": "USD",
        "expiry_date": "2026-03-31"}, trade_id=ids["trade"])
    _watch(L, "glbx")
    r = _refused(L, "bank_a", trade_id=ids["trade"])
    assert r.error_code == "sanctioned_party" and "issuing_bank" in r.error_message


def test_a_trade_under_a_clean_banks_lc_is_financed() -> None:
    L = trade_ledger()
    ids = open_trade(L)
    _lc(L, ids)
    _watch(L, "bank_b")  # another bank watched: nothing to do with this trade
    assert finance(L, "bank_a", 10_000_00, trade_id=ids["trade"])["financing_id"]
