"""Screening's third form (decision 124): a name that sounds like a watched one — spelt
otherwise, transliterated — raises a ``possible_watch_match`` alert for the supervisors and goes
through; the exact forms still refuse."""

from __future__ import annotations

import pytest

from contracts import risk
from contracts.names import sound_key
from contracts.testing import Ledger
from tests.unit.trade_cases import INVOICE, T, h, register, trade_ledger

R = "risk"
WATCHED = "Rosneft Trading Ltd"


@pytest.mark.parametrize(("a", "b"), [
    ("Globex Corp", "Glowbecks Corporation"), ("Globex", "Klobex"), ("Globex", "Глобекс"),
    ("Globex", "Γκλόμπεξ"), ("Mohammed Trading", "Muhammad Trading LLC"),
    ("Mohammed Trading", "Mahmoud Trading"), ("Rosneft", "Роснефть"), ("Gazprom", "Газпром"),
    ("Philips", "Filips"), ("Schmidt", "Шмидт"), ("Trading Rosneft", "Rosneft Trading"),
])
def test_spellings_of_one_sound_share_a_key(a: str, b: str) -> None:
    assert sound_key(a) and sound_key(a) == sound_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("Globex", "Galapagos"), ("ACME Exports", "Borealis Trading"), ("Rosneft", "Rossiya"),
    ("Gazprom", "Gasprombank"),
])
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert sound_key(a) != sound_key(b)


@pytest.mark.parametrize("name", ["Acme", "Co Ltd", "", "...", "a"])
def test_a_name_too_short_to_screen_by_sound_has_no_key(name: str) -> None:
    assert sound_key(name) == ""


def _watch(led: Ledger, name: str = WATCHED) -> list[str]:
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    entries = risk.watch_entries(key, name)
    led.ok("regulator", R, "add_watch", entries=entries)
    return entries


def _alerts(receipt) -> list[dict]:
    return [e.data for e in receipt.events if e.name == "alert"]


def test_a_buyer_that_sounds_like_a_watched_name_is_an_alert_not_a_refusal() -> None:
    led = trade_ledger()
    assert len(_watch(led)) == 4 + len(risk.near_kinds(WATCHED))  # name, joined, sound,
    # consonants (decision 132), and the near forms (decision 184)
    written = "Роснефть Трейдинг"  # the watched name, in Cyrillic
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h(written),
               fields={**INVOICE, "buyer": written})
    assert r.status == "committed", r.error_message
    (alert,) = _alerts(r)
    assert (alert["rule"], alert["accounts"], alert["party"]) == \
        ("possible_watch_match", [], "buyer")  # supervisors only: nobody is tipped off
    assert led.get(R, "alert_count/possible_watch_match") == 1
    # the exact forms still refuse, and a refusal keeps no possible-match alert
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h("exact"),
               fields={**INVOICE, "number": "INV-9", "buyer": "ROSNEFT trading limited"})
    assert r.error_code == "sanctioned_party"
    assert [a["rule"] for a in _alerts(r)] == ["sanctioned_party"]
    assert led.get(R, "alert_count/possible_watch_match") == 1


def test_a_name_that_does_not_sound_alike_raises_nothing() -> None:
    led = trade_ledger()
    _watch(led)
    doc = register(led, "invoice", INVOICE)
    assert doc["doc_id"]
    assert led.get(R, "alert_count/possible_watch_match") is None


def test_an_identity_registered_under_a_sound_alike_name_is_reviewed() -> None:
    led = trade_ledger()
    _watch(led)
    new = led.add_identity("rosneft_alike")
    r = led.tx("bank_a", "governance", "register_identity", pubkey=new.public_key.hex(),
               name="Rossneft Treyding", role="importer")
    assert r.status == "committed", r.error_message
    assert [(a["rule"], a["party"]) for a in _alerts(r)] == [("possible_watch_match", "identity")]


def test_entries_without_the_sound_form_screen_as_before() -> None:
    """A list built before decision 124 (two entries per name) raises no possible match."""
    led = trade_ledger()
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    led.ok("regulator", R, "add_watch", entries=risk.watch_entries(key, WATCHED)[:2])
    written = "Роснефть Трейдинг"
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h(written),
               fields={**INVOICE, "buyer": written})
    assert r.status == "committed" and _alerts(r) == []
