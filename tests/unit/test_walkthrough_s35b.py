"""Session 35's second walkthrough, as a regulator, a bank's compliance officer and an exporter's
back office met the controlled-goods list, the alert queue and document ingestion on a real
testnet: what they tripped on, pinned (the parts that need no node; the rest in
tests/node/test_walkthrough_s35b.py). Each test fails on the code before.

* ``chainfin risk goods set --code 85.42`` (a heading as the HS nomenclature prints it) or
  ``8542.10`` was refused without saying what to write; a 3- or 5-digit prefix without saying
  that HS has no such level.
* ``--reason`` over 140 characters was signed and sent, and refused by the node (exit 1).
* ``--to UK`` / ``--to RUS`` was blamed on ``--code`` ("--code UK is not an ISO 3166-1 code").
* ``chainfin alerts queue`` printed ``destination=None party=None`` for a controlled-goods entry
  listed for every destination, and the accounts as bare key prefixes although the queue sends
  their registered names; "1 open alerts".
* ``chainfin trade show`` as the importer (the invoice's buyer) or as the bank that issued an
  LC "for" the trade before any presentation said "no trade T on URL": a trade the key may not
  read reads as one that does not exist, and the message said only the second.
* The docs' UBL fixture (EUR) on a testnet (USD, CNY): "the ledger has no currency EUR", not
  which it has nor how one is added.
* ``trade register --dry-run`` passed a document the public controlled-goods list refuses (the
  check, :func:`chainfin.cli_docs_ingest.goods_refused`, is pinned here; end to end in the node
  test).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chainfin.cli_alerts import format_case, queue_summary
from chainfin.cli_docs_ingest import IngestError, _exponent, goods_refused
from chainfin.cli_goods import parse_destinations, parse_prefix, parse_reason
from chainfin.errors import ChainfinError
from chainfin.trade_show import no_trade_message

# ---------------------------------------------------------------------------- goods list


@pytest.mark.parametrize(("typed", "advice"), [
    ("85.42", "write 8542 "), ("8542.10", "write 854210 "), ("8542 31", "write 854231 "),
    ("854", "the 2-digit chapter 85 covers it"), ("85421", "the 4-digit heading 8542 covers it"),
    ("85423100", "up to the 6-digit subheading (854231)"), ("00", "no HS chapter 00"),
])
def test_a_mistyped_prefix_says_what_to_write(typed: str, advice: str) -> None:
    with pytest.raises(ChainfinError) as e:
        parse_prefix(typed)
    assert advice in str(e.value), e.value
    assert parse_prefix(" 8542 ") == "8542"  # what is right stays right


@pytest.mark.parametrize(("typed", "said"), [
    ("UK", "--to UK is not an ISO 3166-1 code: write GB"), ("RU,UK", "--to UK"),
    ("RUS", "--to 'RUS': an ISO 3166-1 alpha-2 code"),
])
def test_a_bad_destination_is_blamed_on_to_not_on_code(typed: str, said: str) -> None:
    with pytest.raises(ChainfinError) as e:
        parse_destinations(typed)
    assert said in str(e.value) and "--code" not in str(e.value), e.value
    assert parse_destinations("ru, BY") == ["BY", "RU"]


def test_a_reason_too_long_is_refused_before_signing() -> None:
    # before: sent, and the node refused it at admission (exit 1, "reason: must be 1..140")
    with pytest.raises(ChainfinError) as e:
        parse_reason("x" * 141)
    assert "--reason: 1 to 140 characters (this one has 141)" in str(e.value)
    with pytest.raises(ChainfinError):
        parse_reason("   ")
    assert parse_reason("EU Reg.  833/2014\tart. 2a") == "EU Reg. 833/2014 art. 2a"


# ---------------------------------------------------------------------------- alert queue

EXPORTER = "6fcbc0dbf649f17a798d08e7a075515e778c77a530e9b139aa52b96311664816"


def test_a_queue_line_names_the_account_and_leaves_empty_details_out() -> None:
    line = format_case({
        "accounts": [EXPORTER], "age_ms": 61_000, "alert": "4e7f-0", "height": 12,
        "names": {EXPORTER: "Pearl River Electronics Ltd"}, "rule": "controlled_goods",
        "detail": {"destination": None, "doc_type": "invoice", "hs_code": "847130",
                   "party": None, "prefix": "8471", "reason": "CHP item: diversion risk"}})
    assert "accounts 6fcbc0db… (Pearl River Electronics Ltd)" in line, line
    assert "None" not in line and "destination=" not in line and "party=" not in line, line
    assert "hs_code=847130 prefix=8471" in line
    # a queue answer without names (an older node) prints the key prefix alone
    assert "accounts 6fcbc0db…  alert" in format_case({"accounts": [EXPORTER], "alert": "x-0"})


def test_the_counts_line_says_one_alert() -> None:
    one = {"alerts": [], "height": 26, "queue": "bank", "counts": {"open": 1, "reviewed": 1}}
    assert queue_summary(one) == "1 open alert of this bank's customers (1 reviewed) at height 26"
    two = dict(one, counts={"open": 2, "reviewed": 0})
    assert queue_summary(two).startswith("2 open alerts of this bank's customers")


# ---------------------------------------------------------------------------- trade show


def test_a_trade_the_key_does_not_read_is_not_said_to_be_missing() -> None:
    msg = no_trade_message("ab" * 32, "https://n:1", "importer.json")
    assert "does not exist, or this key is no party of it" in msg
    assert "issuing bank and applicant once the beneficiary presents" in msg
    assert "a buyer named on the invoice is not a party by that alone" in msg


# ---------------------------------------------------------------------------- dry run


LISTED: dict[str, Any] = {
    "8542": {"refuse": {"to": ["RU"], "reason": "EU Reg. 833/2014 art. 2a"}},
    "8471": {"monitor": {"to": [], "reason": "CHP item"}},
    "93": {"refuse": {"to": [], "reason": "arms embargo"}}}


def test_the_dry_run_reads_the_public_list_as_the_ledger_would_for_this_document() -> None:
    bl = {"hs_codes": ["853952", "854231"], "port_of_discharge_locode": "RUVVO"}
    assert goods_refused(bl, LISTED) == (
        "the goods 854231 fall under 8542, which this network's controlled-goods list refuses "
        "to RU (the port_of_discharge's country): EU Reg. 833/2014 art. 2a")
    # another destination, an invoice (no port), a monitored code: nothing refused here
    assert goods_refused(dict(bl, port_of_discharge_locode="USLAX"), LISTED) is None
    assert goods_refused({"hs_codes": ["854231", "847130"]}, LISTED) is None
    # an entry for every destination refuses wherever the goods go
    assert goods_refused({"hs_codes": ["930690"]}, LISTED) == (
        "the goods 930690 fall under 93, which this network's controlled-goods list refuses: "
        "arms embargo")
    assert goods_refused(bl, None) is None and goods_refused({}, LISTED) is None


def test_a_currency_the_ledger_lacks_names_the_ones_it_has() -> None:
    # the docs' fixture (EUR) on a testnet (USD, CNY): before, "the ledger has no currency EUR"
    genesis = {"currencies": [{"code": "USD", "exponent": 2}, {"code": "CNY", "exponent": 2}]}
    with pytest.raises(IngestError) as e:
        asyncio.run(_exponent(None, genesis, "EUR", False))
    assert "the genesis has USD, CNY" in str(e.value) and "add_currency" in str(e.value)
    assert asyncio.run(_exponent(None, genesis, "CNY", False)) == 2


def test_goods_set_takes_the_round_8_options_and_refuses_them_without_destinations(
        tmp_path: Any, capsys: Any) -> None:
    """--unplaced and --codes-required (decision 169) reach the transaction; without --to the
    command says so before anything is signed."""
    import json as _json

    from chainfin import cli
    from chainfin.crypto import Identity, save_identity

    key = tmp_path / "reg.json"
    save_identity(Identity.generate(), str(key))
    base = ["risk", "goods", "set", "--code", "8542", "--level", "refuse", "--reason", "r",
            "--key", str(key), "--node", "http://127.0.0.1:9", "--dry-run"]
    assert cli.main([*base, "--unplaced"]) == 2
    assert "--unplaced needs --to" in capsys.readouterr().err
    assert cli.main([*base, "--to", "RU", "--unplaced", "--codes-required"]) == 0
    sent = _json.loads(capsys.readouterr().out.strip().splitlines()[-1])["args"]
    assert sent["to"] == ["RU"] and sent["unplaced"] is True and sent["codes_required"] is True
