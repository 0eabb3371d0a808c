"""Red-team round 8: evading the controlled-goods list (decision 164) the way sanctions
circumvention works — transshipment through a third country, splitting goods and destination
across documents and across the financing, a buyer in a listed country banking elsewhere, the
list changing between presentation and payment, codes left out, relabelled or padded, a port
written as a name, a monitored prefix run many times a day (docs/redteam-trade.md "Red-team
round 8: controlled goods").

Each ``test_r8_*`` fails on the code before its fix; ``test_held_*`` pin what held."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from tests.unit.test_goods_controls import DAY_MS, alerts, control, finance
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    T,
    h,
    register,
    trade_ledger,
)

R, G = "risk", "governance"
BAN = "EU Reg. 833/2014 Art. 2a"
VOLGA = "Volga Trading LLC"  # a buyer in Russia (its BIC's country)
_n = iter(range(1, 10**6))
_inv = iter(range(1, 10**6))


def invoice(**extra: Any) -> dict[str, Any]:
    """A new invoice of ACME's: its own number, and an amount 2.5 % above the last (no near
    copy of another, however many a test registers)."""
    i = next(_inv)
    return {**INVOICE, "number": f"INV-8{i:05d}-R", "amount": int(20_000_00 * 1.025 ** i),
            **extra}


@pytest.fixture
def L() -> Ledger:
    led = trade_ledger()
    led.add_identity("volga")
    led.ok("bank_a", G, "register_identity", pubkey=led.pk("volga"), name=VOLGA,
           role="importer", bank="SABRRUMM")
    for name, bic in (("ru_bank", "SABRRUMM"), ("ae_bank", "EBILAEAD")):
        led.add_identity(name)
        led.ok("bank_a", G, "register_identity", pubkey=led.pk(name), name=name,
               role="bank", bank=bic)
        led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk(name),
               amount=1_000_000_00)
    return led


def bl(**extra: Any) -> dict[str, Any]:
    return {**BILL_OF_LADING, "bl_number": f"MAEU-8{next(_n):05d}", **extra}


def try_register(led: Ledger, doc_type: str, fields: dict[str, Any], **extra: Any) -> Any:
    return led.tx("exporter", T, "register", doc_type=doc_type, fields=fields,
                  content_hash=h(("r8", doc_type, next(_n))), **extra)


def open_trade(led: Ledger, inv: dict[str, Any], *docs: tuple[str, dict[str, Any]]) -> str:
    """An invoice opens the trade, a declaration (attested) and ``docs`` join it (as
    tests/unit/test_goods_controls.py's, with this file's numbers)."""
    trade = register(led, "invoice", inv, tag=("r8", next(_n)))["trade_id"]
    decl = register(led, "customs_declaration",
                    {**DECLARATION, "declaration_number": f"CD/2028/{next(_n):06d}",
                     "amount": inv["amount"] - 1_000_00},
                    tag=("r8", next(_n)), trade_id=trade)["doc_id"]
    for doc_type, fields in docs:
        register(led, doc_type, fields, tag=("r8", next(_n)), trade_id=trade)
    led.ok("customs", T, "attest", doc_id=decl, result="match",
           declared_amount=inv["amount"] - 1_000_00)
    return str(trade)


def issue(led: Ledger, bank: str, applicant: str = "importer", **extra: Any) -> str:
    return str(led.ok(bank, T, "issue_lc", applicant=led.pk(applicant),
                      beneficiary=led.pk("exporter"), amount=500_000_00, currency="USD",
                      expiry_date="2026-03-31", lc_number=f"LC-R8-{next(_n)}",
                      **extra)["lc_id"])


def join(led: Ledger, trade: str, doc_type: str, fields: dict[str, Any]) -> Any:
    return led.tx("exporter", T, "register", doc_type=doc_type, fields=fields,
                  content_hash=h((doc_type, next(_n))), trade_id=trade)


# ---------------------------------------------------------------------------- F1 order


def test_r8_a_listed_port_registered_into_a_financed_trade_is_refused(L: Ledger) -> None:
    """Codes on the invoice, no port: financing passes (no destination recorded). The B/L to
    Vladivostok, without codes, then joined the financed trade unscreened."""
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = open_trade(L, invoice(hs_codes=["854231"]))
    assert finance(L, trade).ok  # nothing says where the goods go yet
    r = join(L, trade, "bill_of_lading", bl(port_of_discharge="RUVVO"))
    assert r.error_code == "controlled_goods" and "port_of_discharge" in r.error_message
    (a,) = alerts(r)
    assert a["rule"] == "controlled_goods_refused" and a["trade_id"] == trade
    assert a["accounts"] == [L.pk("exporter")]
    # legitimate trade: a B/L to Rotterdam joins
    assert join(L, trade, "bill_of_lading", bl(port_of_discharge="NLRTM")).ok


def test_r8_linking_a_listed_port_to_a_financed_trade_is_refused(L: Ledger) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = open_trade(L, invoice(hs_codes=["854231"]))
    doc = register(L, "bill_of_lading", bl(port_of_discharge="RU VVO"), tag=("r8", next(_n)))["doc_id"]
    assert finance(L, trade).ok
    r = L.tx("exporter", T, "link", trade_id=trade, doc_id=doc)
    assert r.error_code == "controlled_goods" and "RU" in r.error_message


def test_r8_an_lc_copy_of_a_listed_buyers_bank_joining_a_financed_trade_is_refused(
        L: Ledger) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = open_trade(L, invoice(hs_codes=["854231"]))
    assert finance(L, trade).ok
    copy = {"issuing_bank": "SABRRUMM", "lc_number": f"LC-C-{next(_n)}",
            "applicant": "Globex Corp", "beneficiary": "ACME Exports Ltd",
            "amount": 200_000_00, "currency": "USD", "expiry_date": "2026-03-31"}
    r = join(L, trade, "letter_of_credit", copy)
    assert r.error_code == "controlled_goods" and "buyers_bank" in r.error_message


# ---------------------------------------------------------------------------- F2 split


def test_r8_a_presentation_carries_its_trades_goods_not_only_the_presented_ones(
        L: Ledger) -> None:
    """The LC asks only for the B/L (to Rotterdam, no codes); the invoice of its trade says
    8542. Presenting the B/L alone under a Russian bank's credit drew against banned goods."""
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = open_trade(L, invoice(hs_codes=["854231"]))
    b = join(L, trade, "bill_of_lading", bl(port_of_discharge="NLRTM"))
    assert b.ok
    lc_id = issue(L, "ru_bank", required_docs=["bill_of_lading"])
    r = L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[b.result["doc_id"]], amount=1000)
    assert r.error_code == "controlled_goods" and "buyers_bank" in str(r.error_message)
    (a,) = alerts(r)
    assert a["lc_id"] == lc_id and a["accounts"] == [L.pk("exporter")]


# ---------------------------------------------------------------------------- F3 transshipment


def _volga_trade(led: Ledger, codes: list[str]) -> str:
    """ACME sells to Volga (Russia) via Jebel Ali (AE)."""
    return open_trade(led, invoice(buyer=VOLGA, hs_codes=codes),
                      ("bill_of_lading", bl(consignee=VOLGA, port_of_discharge="AEJEA")))


def test_r8_a_buyer_in_a_listed_country_banking_in_a_third_one_is_a_destination(
        L: Ledger) -> None:
    """Transshipment: B/L to Dubai, the LC issued by a Dubai bank, the applicant in Russia."""
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = _volga_trade(L, ["854231"])
    lc_id = issue(L, "ae_bank", applicant="volga")
    inv = L.get(T, "trade/" + trade)["invoice"]
    r = L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000)
    assert r.error_code == "controlled_goods" and "applicant" in str(r.error_message)
    # unlisted goods to the same buyer: not over-blocked
    ok = _volga_trade(L, ["847130"])
    lc_ok = issue(L, "ae_bank", applicant="volga")
    inv_ok = L.get(T, "trade/" + ok)["invoice"]
    assert L.tx("exporter", T, "present", lc_id=lc_ok, doc_ids=[inv_ok], amount=1000).ok


def test_r8_the_applicant_of_an_lc_attached_to_the_trade_is_screened_at_join_and_financing(
        L: Ledger) -> None:
    trade = _volga_trade(L, ["854231"])
    number = f"LC-AE-{next(_n)}"
    L.ok("ae_bank", T, "issue_lc", applicant=L.pk("volga"), beneficiary=L.pk("exporter"),
         amount=500_000_00, currency="USD", expiry_date="2026-03-31", lc_number=number)
    copy = {"issuing_bank": "EBILAEAD", "lc_number": number, "applicant": VOLGA,
            "beneficiary": "ACME Exports Ltd", "amount": 500_000_00, "currency": "USD",
            "expiry_date": "2026-03-31"}
    assert join(L, trade, "letter_of_credit", copy).ok  # nothing listed yet
    assert L.get(T, "trade/" + trade)["lcs"]
    control(L, "8542", "refuse", BAN, to=["RU"])
    r = finance(L, trade)
    assert r.error_code == "controlled_goods" and "applicant" in r.error_message


# ---------------------------------------------------------------------------- F4 list changed


def _presented(led: Ledger) -> tuple[str, str]:
    lc_id = issue(led, "ru_bank")
    inv = register(led, "invoice", invoice(hs_codes=["854231"]), tag=("r8", next(_n)))["doc_id"]
    pres = led.ok("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000)
    return lc_id, str(pres["presentation_id"])


def test_r8_goods_listed_after_presentation_are_not_honoured_on_the_beneficiarys_claim(
        L: Ledger) -> None:
    """The bank cannot pay banned goods and lets the examination period pass; the beneficiary
    then claimed honour, which paid from the bank's balance."""
    _, pres = _presented(L)
    control(L, "8542", "refuse", BAN, to=["RU"])
    L.now_ms += 10 * DAY_MS
    before = L.get("settlement", f"balance/{L.pk('exporter')}/USD")
    r = L.tx("exporter", T, "claim_honour", presentation_id=pres)
    assert r.error_code == "controlled_goods"
    assert L.get("settlement", f"balance/{L.pk('exporter')}/USD") == before
    r = L.tx("ru_bank", T, "accept_presentation", presentation_id=pres)
    assert r.error_code == "controlled_goods"
    # the bank refuses the presentation, as it must
    assert L.tx("ru_bank", T, "refuse_presentation", presentation_id=pres,
                discrepancies=["other"], disposal="RETURN").ok


def test_held_unlisted_goods_are_honoured(L: Ledger) -> None:
    _, pres = _presented(L)
    control(L, "8542", "refuse", BAN, to=["BY"])
    assert L.tx("ru_bank", T, "accept_presentation", presentation_id=pres).ok


# ---------------------------------------------------------------------------- F5 port names


@pytest.mark.parametrize("port", ["Vladivostok", "ruvvo", "Ru Vvo", "Vladivostok, Russia"])
def test_r8_an_unplaced_entry_catches_listed_goods_to_a_port_written_as_a_name(
        L: Ledger, port: str) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"], unplaced=True)
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge=port))
    assert r.error_code == "controlled_goods" and "not placed" in r.error_message
    (a,) = alerts(r)
    assert a["destination"] == "?" and a["party"] == "port_of_discharge"
    # the code places it: elsewhere passes, and unlisted goods to a name pass
    assert try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge=port,
                                                port_of_discharge_locode="NLRTM")).ok
    assert try_register(L, "bill_of_lading", bl(hs_codes=["847130"],
                                                port_of_discharge=port)).ok
    # split: codes on the invoice, the named port on the B/L — refused as it joins
    trade = open_trade(L, invoice(hs_codes=["854239"]))
    r = join(L, trade, "bill_of_lading", bl(port_of_discharge=port))
    assert r.error_code == "controlled_goods"


def test_r8_unplaced_and_codes_required_need_destinations(L: Ledger) -> None:
    for flag in ("unplaced", "codes_required"):
        L.fails("bad_field", "regulator", R, "set_goods_control", code="8542",
                level="refuse", reason="x", **{flag: True})
        L.fails("bad_field", "regulator", R, "set_goods_control", code="8542",
                level="refuse", reason="x", to=["RU"], **{flag: False})
    r = L.ok("regulator", R, "set_goods_control", code="8542", level="monitor",
             reason="diversion", to=["RU"], unplaced=True)
    assert r["unplaced"] is True
    (a,) = alerts(try_register(L, "bill_of_lading", bl(hs_codes=["854231"],
                                                       port_of_discharge="Vladivostok")))
    assert a["rule"] == "controlled_goods" and a["destination"] == "?"


# ---------------------------------------------------------------------------- F6 no codes


def test_r8_codes_required_refuses_uncoded_goods_to_a_listed_destination(L: Ledger) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"], codes_required=True)
    trade = open_trade(L, invoice(), ("bill_of_lading", bl(port_of_discharge="RUVVO")))
    r = finance(L, trade)  # the documents register: the money is the gate
    assert r.error_code == "hs_codes_required" and "RU" in r.error_message
    (a,) = alerts(r)
    assert a["rule"] == "controlled_goods_refused" and a["missing"] == "hs_codes"
    # presentation under a Russian bank's credit, no codes anywhere
    lc_id = issue(L, "ru_bank")
    inv = register(L, "invoice", invoice(), tag=("r8", next(_n)))["doc_id"]
    r = L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000)
    assert r.error_code == "hs_codes_required" and "buyers_bank" in str(r.error_message)
    # not over-blocked: uncoded goods elsewhere, coded unlisted goods to RU
    assert finance(L, open_trade(L, invoice(), ("bill_of_lading",
                                                bl(port_of_discharge="NLRTM")))).ok
    assert finance(L, open_trade(L, invoice(hs_codes=["847130"]),
                                 ("bill_of_lading", bl(port_of_discharge="RUVVO")))).ok


def test_held_without_codes_required_uncoded_goods_pass(L: Ledger) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = open_trade(L, invoice(), ("bill_of_lading", bl(port_of_discharge="RUVVO")))
    assert finance(L, trade).ok


# ---------------------------------------------------------------------------- F7 monitor volume


def test_r8_the_next_monitor_alert_counts_the_matches_it_did_not_alert(L: Ledger) -> None:
    control(L, "8471", "monitor", "dual-use 5A002")
    rs = [try_register(L, "invoice", invoice(hs_codes=["847130"])) for _ in range(100)]
    assert all(r.ok for r in rs), {r.error_code for r in rs}
    assert sum(len(alerts(r, "controlled_goods")) for r in rs) == 1
    assert alerts(rs[0], "controlled_goods")[0]["repeats"] == 0
    L.now_ms += DAY_MS
    (a,) = alerts(try_register(L, "invoice", invoice(hs_codes=["847130"])), "controlled_goods")
    assert a["repeats"] == 99


# ---------------------------------------------------------------------------- F8 padding


@pytest.mark.parametrize("code", ["0085423100", "00854231", "000000"])
def test_r8_a_code_of_chapter_00_is_refused(L: Ledger, code: str) -> None:
    r = try_register(L, "invoice", invoice(hs_codes=[code]))
    assert r.error_code == "bad_field" and "00" in r.error_message


# ---------------------------------------------------------------------------- what held


@pytest.mark.parametrize("code", ["854231", "85423100", "8542310000", "854290"])
@pytest.mark.parametrize("prefix", ["85", "8542"])
def test_held_every_written_length_falls_under_the_prefix(L: Ledger, code: str,
                                                          prefix: str) -> None:
    control(L, prefix, "refuse", BAN, to=["RU"])
    r = try_register(L, "bill_of_lading", bl(hs_codes=[code], port_of_discharge="RU-VVO"))
    assert r.error_code == "controlled_goods"


@pytest.mark.parametrize("code", ["8542.31.00", "8542.31", "8542", "85 42 31", "８５４２３１",
                                  " 854231", "854231 "])
def test_held_dressed_codes_are_refused_not_read(L: Ledger, code: str) -> None:
    r = try_register(L, "invoice", invoice(hs_codes=[code]))
    assert r.error_code == "bad_field"


def test_held_an_lc_amendment_changes_no_destination(L: Ledger) -> None:
    lc_id = issue(L, "ae_bank")
    L.fails("unknown_field", "ae_bank", T, "amend_lc", lc_id=lc_id,
            changes={"issuing_bank": "SABRRUMM"})
    L.fails("unknown_field", "ae_bank", T, "amend_lc", lc_id=lc_id,
            changes={"applicant": L.pk("volga")})


def test_r8_a_declarations_goods_meet_the_trades_port_as_it_joins(L: Ledger) -> None:
    control(L, "8542", "refuse", BAN, to=["RU"])
    inv = invoice()
    trade = register(L, "invoice", inv, tag=("r8", next(_n)))["trade_id"]
    assert join(L, trade, "bill_of_lading", bl(port_of_discharge="RUVVO")).ok
    r = join(L, trade, "customs_declaration",
             {**DECLARATION, "declaration_number": f"CD/2025/{next(_n):06d}",
              "amount": inv["amount"] - 1_000_00, "hs_codes": ["85423100"]})
    assert r.error_code == "controlled_goods"


def test_r8_an_lc_issued_for_a_trade_meets_its_goods(L: Ledger) -> None:
    """Financing before any credit, then the Dubai bank's LC for the Russian buyer issued for
    the trade: the credit for banned goods was issued unscreened (seen only at presentation)."""
    control(L, "8542", "refuse", BAN, to=["RU"])
    trade = _volga_trade(L, ["854231"])
    assert finance(L, trade).ok  # nothing places RU yet
    r = L.tx("ae_bank", T, "issue_lc", applicant=L.pk("volga"), beneficiary=L.pk("exporter"),
             amount=500_000_00, currency="USD", expiry_date="2026-03-31",
             lc_number=f"LC-AE-{next(_n)}", trade_id=trade)
    assert r.error_code == "controlled_goods" and "applicant" in str(r.error_message)
    (a,) = alerts(r)
    assert a["trade_id"] == trade and a["accounts"] == [L.pk("exporter")]
    # unlisted goods: the credit is issued
    ok = _volga_trade(L, ["847130"])
    assert L.tx("ae_bank", T, "issue_lc", applicant=L.pk("volga"),
                beneficiary=L.pk("exporter"), amount=500_000_00, currency="USD",
                expiry_date="2026-03-31", lc_number=f"LC-AE-{next(_n)}", trade_id=ok).ok
