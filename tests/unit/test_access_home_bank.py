"""The REST layer's home-bank rule is the contract's (decision 111): a bank reads its
customers' accounts, never another bank's, whatever BIC it carries or spelling it uses."""

from __future__ import annotations

from typing import Any

from node.access import Reader, account_rule

IDS: dict[str, dict[str, Any]] = {
    "bank_e": {"role": "bank", "bank": "BANK_E", "registered_by": "bank_a"},
    "acme": {"role": "exporter", "bank": "BANK_E", "registered_by": "bank_a"},
}


def get(contract: str, key: str) -> Any:
    return IDS.get(key.removeprefix("id/")) if contract == "governance" else None


def bank(ident: str, bic: str) -> Reader:
    return Reader(key=ident, ident_id=ident, role="bank", bank=bic, validator=False,
                  regulator=False)


def test_a_bank_with_the_same_bic_reads_its_customers_not_the_bank() -> None:
    ops = bank("ops", "bank_e ")  # another identity of BANK_E, spelled loosely
    assert account_rule(get, ops, "acme") == "home_bank"
    assert account_rule(get, ops, "bank_e") is None


def test_the_admin_that_registered_a_bank_does_not_read_its_accounts() -> None:
    assert account_rule(get, bank("bank_a", "BANK_A"), "acme") == "home_bank"
    assert account_rule(get, bank("bank_a", "BANK_A"), "bank_e") is None
