"""``chainfin identity travel``: a bank's onboarding officer records a customer's FATF R.16 data
and the two banks of a transfer read it (decision 226). The options become exactly the
arguments ``governance.set_travel_info`` takes, a typo is refused naming its option before
anything is signed, the limits mirror the contract's, and a transfer's R.16 view is printed
with its amounts in the currency's decimals."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import cli, cli_identity
from chainfin.errors import ChainfinError, ContractError
from contracts import travel_rule

KEY = "ab" * 32


def _args(*argv: str) -> Any:
    return cli.build_parser().parse_args(
        ["identity", "travel", "set", "--node", "http://x", "--key", "k", "--customer", KEY,
         *argv])


def test_set_builds_the_contracts_arguments_and_the_ledger_takes_them() -> None:
    a = _args("--address-line", "1 Main St", "--address-line", "Suite 4", "--town",
              "New York", "--country", "us", "--customer-id", "C-42", "--birth-date",
              "1980-02-29", "--birth-city", "Boston", "--birth-country", "US")
    out = cli_identity.travel_args(a)
    assert out == {"pubkey": KEY, "address": {"lines": ["1 Main St", "Suite 4"],
                                              "country": "US", "town": "New York"},
                   "customer_id": "C-42",
                   "birth": {"date": "1980-02-29", "city": "Boston", "country": "US"}}
    for k, parse in travel_rule.PARAMS.items():  # the contract's own checks accept them
        if k in out:
            assert parse(out[k], k) == out[k]
    assert a.func is cli_identity.run


@pytest.mark.parametrize("argv, says", [
    ((), "nothing to record"),
    (("--town", "Paris"), "--address-line"),
    (("--address-line", "1 Rue", "--country", "France"), "--country 'France'"),
    (("--address-line", "x" * 71, "--country", "FR"), "--address-line"),
    (("--address-line", "a", "--address-line", "b", "--address-line", "c",
      "--address-line", "d", "--country", "FR"), "at most 3"),
    (("--national-id", "9" * 36), "--national-id"),
    (("--birth-date", "1980-02-30", "--birth-city", "Rome", "--birth-country", "IT"),
     "--birth-date"),
    (("--birth-date", "1980-01-01"), "--birth-city"),
])
def test_a_typo_is_refused_naming_its_option(argv: tuple[str, ...], says: str) -> None:
    with pytest.raises(ChainfinError, match=says.replace("(", r"\(")):
        cli_identity.travel_args(_args(*argv))


def test_the_limits_are_the_contracts() -> None:
    ok = {"lines": ["x" * cli_identity.MAX_LINE], "town": "t" * cli_identity.MAX_TEXT,
          "country": "GB"}
    assert travel_rule.p_address(ok, "address") == ok
    for bad in ({**ok, "lines": ["x" * (cli_identity.MAX_LINE + 1)]},
                {**ok, "lines": ["x"] * (cli_identity.MAX_LINES + 1)},
                {**ok, "town": "t" * (cli_identity.MAX_TEXT + 1)}):
        with pytest.raises(ContractError):
            travel_rule.p_address(bad, "address")
    travel_rule.PARAMS["customer_id"]("c" * cli_identity.MAX_TEXT, "customer_id")
    with pytest.raises(ContractError):
        travel_rule.PARAMS["customer_id"]("c" * (cli_identity.MAX_TEXT + 1), "customer_id")


def test_a_transfers_r16_view_is_read_in_decimals() -> None:
    travel = [{"originator": {"name": "Alice", "account": "a", "address": {
        "lines": ["1 Main St"], "country": "US"}}, "beneficiary": {"name": "Bob",
                                                                   "account": "b"}}]
    doc = {"tx_id": "t", "status": "committed", "height": 6, "travel": travel, "events": [
        {"contract": "settlement", "name": "transferred",
         "data": {"from": "a", "to": "b", "currency": "USD", "amount": 150000}},
        {"contract": "settlement", "name": "transferred",
         "data": {"from": "a", "to": "b", "currency": "JPY", "amount": 1500000}}]}
    out = cli_identity.readable_tx(doc, {"USD": 2, "JPY": 0})
    assert [p["amount"] for p in out["payments"]] == ["USD 1,500.00", "JPY 1,500,000"]
    assert out["payments"][0]["amount_minor"] == 150000 and out["travel"] == travel
    payee = cli_identity.readable_tx({**doc, "travel": None}, {})
    assert "amount" not in payee["payments"][0] and "beneficiary's bank" in payee["note"]


def test_keep_adds_the_recorded_fields_not_given() -> None:
    """The method replaces the whole entry: recording a national id alone removed the address
    (found in the walk-through); ``--keep`` sends the recorded fields too."""
    new = cli_identity.travel_args(_args("--national-id", "123-45-6789"))
    rec = {"address": {"lines": ["1 Main St"], "country": "US"}, "national_id": "old"}
    assert cli_identity.kept(new, rec) == {**new, "address": rec["address"]}
    assert cli_identity.kept(new, None) == new
    assert _args("--keep").keep and not _args().keep
    assert cli_identity._FIELDS == travel_rule.TRAVEL_FIELDS
