"""Near matches on the watch list (decisions 184, 185; docs/redteam-risk.md round 9 "Left"): a
name that contains a watched one — extra words, initials, an abbreviation, a plural, another
romanisation — raises a ``possible_watch_match`` alert for review and goes through; an exact hit
still refuses; an honest name raises nothing; the alert is never its subject's to read."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chainfin.watchlist import Subject, WatchRules, entries_of
from contracts import risk
from contracts.names import near_words
from contracts.testing import CAST, Ledger, make_genesis
from node import access
from tests.unit.trade_cases import INVOICE, T, h

S, R, G = "settlement", "risk", "governance"
COMPANY, PERSON = "Globex Trading LLC", "Ivan Petrov"

#: the "Left" variants of docs/redteam-risk.md round 9, each with the watched name it contains
LEFT = [
    (COMPANY, "Globex Trading Holdings"),  # extra words
    (COMPANY, "Globex Trading Group (formerly Initech)"),
    (COMPANY, "Globex Trdng"),  # an abbreviation
    (COMPANY, "Globex Tradings"),  # a plural
    (PERSON, "Ivan Aleksandrovich Petrov"),  # a patronymic
    (PERSON, "Ivan A. Petrov"),  # a middle initial (its sound form held already)
    (PERSON, "I. Petrov"),  # initials
    (PERSON, "Petrov I."),
    (PERSON, "И. Петров"),
    (PERSON, "Iwan Petrow"),  # German romanisation
    (PERSON, "Ivan Petroff"),  # French (its sound form held already)
    ("Mohammed Al-Rashid", "M. Al-Rashid"),
    ("Boris Yeltsin", "Boris Jelzin"),
    ("Boris Yeltsin", "Borys Jelcyn"),  # Polish
]
HONEST = ["Nordwind Logistics GmbH", "Globe Textiles Ltd", "Ivan Sokolov", "Petrovsky Bakery",
          "Trading Partners International", "Petra Ivanova", "I. P. Freely Imports",
          "Galaxy Trade Co"]


def _ledger() -> Ledger:
    """alice (importer, bank_a's), bob (exporter, bank_b's) and mallory (exporter, bank_b's,
    registered as "Globex Trading Holdings" before anything was listed), USD 1,000.00 each."""
    L = Ledger(make_genesis(dict(CAST, bank_b=("bank", True, True))))
    for n, role, bank, name in (("alice", "importer", "bank_a", "Alice Imports"),
                                ("bob", "exporter", "bank_b", "Bob Exports"),
                                ("mallory", "exporter", "bank_b", "Globex Trading Holdings")):
        L.add_identity(n)
        L.ok(bank, G, "register_identity", pubkey=L.pk(n), name=name, role=role)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(n), amount=100_000)
    return L


@pytest.fixture(scope="module")
def listed() -> Ledger:
    L = _ledger()
    for name in {w for w, _ in LEFT}:
        watch(L, name)
    return L


def watch(L: Ledger, name: str) -> None:
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(key, name))


def alerts(r: Any, rule: str = "possible_watch_match") -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == "alert" and e.data["rule"] == rule]


_NUMBERS = itertools.count(1)


def register_invoice(L: Ledger, buyer: str) -> Any:
    n = next(_NUMBERS)
    return L.tx("exporter", T, "register", doc_type="invoice", content_hash=h((buyer, n)),
                fields={**INVOICE, "buyer": buyer, "number": f"INV-2026-{n:04d}",
                        "amount": 1_000_00 * n})


def test_the_left_variants_are_read_as_the_watched_name() -> None:
    """The rule on its own: each variant's near forms meet the watched name's."""
    for watched, variant in LEFT:
        stored = set(risk.watch_forms(watched)[0])
        assert stored & set(risk.watch_forms(variant)[1]), (watched, variant)
    assert near_words("Petrov I.") == near_words("И. Петров") == ((("PTRF", "p"),), ("i",))


@pytest.mark.parametrize("case", LEFT)
def test_a_left_variant_on_a_document_alerts_and_is_not_refused(
        listed: Ledger, case: tuple[str, str]) -> None:
    _, variant = case
    r = register_invoice(listed, variant)
    assert r.status == "committed", r.error_message
    (alert,) = alerts(r)
    assert (alert["accounts"], alert["party"]) == ([], "buyer")  # supervisors only
    assert not alerts(r, "sanctioned_party")


def test_a_near_alert_names_the_watched_entry_and_the_name(listed: Ledger) -> None:
    """Where the sound form does not meet it (a sound hit keeps its alert of decision 124),
    the alert names the near form matched (its digest: ``chainfin risk watch check`` relates
    it to a name) and the name as written."""
    key = risk.watch_key(bytes.fromhex(listed.genesis.fingerprint_key))
    r = register_invoice(listed, "I. Petrov")
    (alert,) = alerts(r)
    assert alert["near"] == risk.watch_digest(key, "near:PTRF|i", "")
    assert alert["near"] in risk.watch_entries(key, PERSON)
    assert alert["name"] == "I. Petrov"


@pytest.mark.parametrize("name", [COMPANY, PERSON, "PETROV, Ivan", "Globex Trading Limited"])
def test_an_exact_hit_still_refuses(listed: Ledger, name: str) -> None:
    r = register_invoice(listed, name)
    assert r.error_code == "sanctioned_party"
    assert alerts(r, "sanctioned_party") and not alerts(r)


@pytest.mark.parametrize("name", HONEST)
def test_an_honest_name_raises_nothing(listed: Ledger, name: str) -> None:
    r = register_invoice(listed, name)
    assert r.status == "committed", r.error_message
    assert not [e for e in r.events if e.name == "alert"]


def test_a_new_identity_with_a_near_name_alerts_and_is_registered(listed: Ledger) -> None:
    listed.add_identity("ivan")
    r = listed.tx("bank_a", G, "register_identity", pubkey=listed.pk("ivan"),
                  name="Petrov I.", role="exporter")
    assert r.ok
    assert [(a["party"], a["accounts"]) for a in alerts(r)] == [("identity", [])]


def test_an_identity_near_a_name_listed_later_alerts_its_bank_once_per_match() -> None:
    """mallory was registered as "Globex Trading Holdings" while nothing was listed; "Globex
    Trading LLC" is listed: its next payment (and the payment to it) goes through and alerts
    its home bank and the supervisors, naming mallory; the payments after it read one key
    each and alert nothing more, until a new listing; a listing that changes nothing for
    mallory does not alert its match again (decision 185)."""
    L = _ledger()
    watch(L, COMPANY)
    r = L.tx("mallory", S, "transfer", to=L.pk("alice"), currency="USD", amount=100)
    assert r.status == "committed", r.error_message
    (alert,) = alerts(r)
    assert (alert["accounts"], alert["party"], alert["name"]) == \
        ([L.pk("mallory")], "identity", "Globex Trading Holdings")
    assert L.get(R, "alerts/" + L.pk("mallory"))[-1]["rule"] == "possible_watch_match"
    for frm, to in (("alice", "mallory"), ("mallory", "bob")):
        r = L.tx(frm, S, "transfer", to=L.pk(to), currency="USD", amount=100)
        assert r.status == "committed" and not alerts(r)
    watch(L, "Initech Industries")
    r = L.tx("mallory", S, "transfer", to=L.pk("alice"), currency="USD", amount=100)
    assert r.status == "committed" and not alerts(r)
    assert L.get(R, "near_seen/" + L.pk("mallory"))[0] == L.get(R, risk.NEAR_VERSION) == 2


def test_a_payment_reads_the_names_once_per_version_of_the_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: an ordinary transfer between two registered identities near-screens each
    of them once after the list changed, never per transfer."""
    L = _ledger()
    watch(L, COMPANY)
    calls: list[str] = []
    real = risk._near_match
    monkeypatch.setattr(risk, "_near_match",
                        lambda state, key, name: calls.append(name) or real(state, key, name))
    for _ in range(3):
        L.ok("alice", S, "transfer", to=L.pk("bob"), currency="USD", amount=100)
    assert sorted(calls) == ["Alice Imports", "Bob Exports"]


def test_no_list_no_near_screening_on_a_payment(monkeypatch: pytest.MonkeyPatch) -> None:
    L = _ledger()
    monkeypatch.setattr(risk, "_near_match", lambda *a: pytest.fail("screened"))
    L.ok("alice", S, "transfer", to=L.pk("bob"), currency="USD", amount=100)
    assert L.get(R, "near_seen/" + L.pk("alice")) is None


CUSTOMER, BANK, REGULATOR = "c" * 64, "b" * 64, "f" * 64
STATE: dict[tuple[str, str], Any] = {
    ("governance", "id/" + CUSTOMER): {"role": "exporter", "registered_by": BANK,
                                       "bank": "BANKXX"},
    ("governance", "id/" + BANK): {"role": "bank", "bank": "BANKXX", "admin": True},
    ("governance", "id/" + REGULATOR): {"role": "auditor"},
    ("governance", "regulators"): [REGULATOR],
}


def _reader(who: str) -> access.Reader:
    r = access.resolve_reader(lambda c, k: STATE.get((c, k)), who)
    assert r is not None
    return r


def test_the_near_alert_and_the_screening_record_are_not_the_customers() -> None:
    """No tipping off (decision 144): the alert naming the customer reaches its home bank, not
    the customer; the record of its screening (which says whether it matched) is the
    supervisors' alone."""
    get = lambda c, k: STATE.get((c, k))  # noqa: E731
    ev = {"contract": "risk", "name": "alert",
          "data": {"rule": "possible_watch_match", "accounts": [CUSTOMER], "party": "identity",
                   "near": "a" * 64, "name": "Globex Trading Holdings"}}
    assert not access.event_names_reader(get, _reader(CUSTOMER), ev)
    assert access.event_names_reader(get, _reader(BANK), ev)
    for key in ("near_seen/" + CUSTOMER, risk.NEAR_VERSION, "alerts/" + CUSTOMER):
        assert access.state_rule(get, _reader(CUSTOMER), "risk", key) is None
    assert access.state_rule(get, _reader(REGULATOR), "risk", "near_seen/" + CUSTOMER)


def test_the_regulators_client_checks_a_near_variant_as_a_possible_match() -> None:
    """``chainfin risk watch check`` reads the near forms; ``remove`` leaves them (and the
    index) unless ``--all-forms``: another watched name may share them."""
    rules = WatchRules(watch_key=risk.watch_key, watch_digest=risk.watch_digest,
                       watch_forms=risk.watch_forms)
    key = b"k" * 32
    stored = set(entries_of(Subject("name", PERSON), key, rules))
    assert set(risk.watch_entries(key, PERSON)) == stored
    assert not set(entries_of(Subject("name", PERSON), key, rules, exact_only=True)) & {
        risk.watch_digest(key, k, PERSON) for k in risk.near_kinds(PERSON)}
    looked = {risk.watch_digest(key, k, "I. Petrov") for k in risk.watch_forms("I. Petrov")[1]
              if risk.near_kind(k)}
    assert looked & stored


@pytest.mark.parametrize("name", ["Li Wu", "Al", "Acme", "J. P.", "", "陈伟贸易"])
def test_a_name_too_short_to_screen_has_no_near_form(name: str) -> None:
    assert risk.near_kinds(name) == ()
