"""A symbol standing for a letter inside a word ("Gl○bex") and business words abbreviated other
than by dropping vowels ("Intl") — docs/redteam-risk.md round 9, still left after decisions 184
and 185 — read as the watched name by near screening (decision 207): a possible match for
review, never a refusal; honest names with symbols or abbreviations raise nothing."""

from __future__ import annotations

import pytest

from contracts import names
from contracts.testing import Ledger
from tests.unit.test_watch_fuzzy import COMPANY, G, _ledger, alerts, register_invoice, watch

MASKED = ["Gl○bex Trading", "Gl@bex Trading", "Gl*bex Tr●ding Ltd", "GL◯BEX TRADING",
          "Globex International Trdg", "Initech Intl", "Initech Int’l Mfg"]
HONEST = ["Globe★Textiles", "AT&T Trading", "Nordwind ★ Logistics", "Intl Paper Co",
          "Galaxy Trdg", "Café★Royal International", "Initial Tech"]


@pytest.fixture(scope="module")
def listed() -> Ledger:
    L = _ledger()
    for name in (COMPANY, "Initech International"):
        watch(L, name)
    return L


def test_a_masked_letter_or_an_abbreviation_is_read_as_the_word() -> None:
    assert names.unmasked("Gl○○bex Tr●ding") == "Glbex Trding"
    assert names.unmasked("AT&T ★ 1○2") == "AT&T ★ 1○2"  # a symbol not inside a word stays
    assert names.near_words("Glbex Intl") == names.near_words("Globex International")


@pytest.mark.parametrize("name", MASKED)
def test_a_masked_or_abbreviated_name_alerts_and_is_not_refused(listed: Ledger,
                                                                 name: str) -> None:
    r = register_invoice(listed, name)
    assert r.status == "committed", r.error_message
    (alert,) = alerts(r)
    assert (alert["party"], alert["name"]) == ("buyer", name)
    assert not alerts(r, "sanctioned_party")


@pytest.mark.parametrize("name", HONEST)
def test_an_honest_name_with_a_symbol_or_an_abbreviation_raises_nothing(
        listed: Ledger, name: str) -> None:
    r = register_invoice(listed, name)
    assert r.status == "committed", r.error_message
    assert not [e for e in r.events if e.name == "alert"]


def test_a_new_identity_with_a_masked_name_alerts_at_its_registration(
        listed: Ledger) -> None:
    listed.add_identity("gl")
    r = listed.tx("bank_b", G, "register_identity", pubkey=listed.pk("gl"),
                  name="Gl○bex Trading", role="exporter")
    assert r.ok and [a["party"] for a in alerts(r)] == ["identity"]
