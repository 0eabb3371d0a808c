"""The regulator's list of controlled goods (docs/risk.md "Controlled goods"): HS code prefixes
of 2, 4 or 6 digits at ``refuse`` or ``monitor``, for every destination or some, a regulator's
act; documents carry ``hs_codes``; registration screens a document's goods to the destination
it records, financing the whole trade's goods to every destination the trade records, against
the list as it stands then; ``refuse`` refuses ``controlled_goods`` (the alert kept),
``monitor`` alerts the exporter's home bank and the supervisors — never the exporter — once
per exporter, prefix and destination per 24 h of block time."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import risk
from contracts import risk_goods as goods
from contracts.testing import Ledger
from node import access
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    INVOICE_AMOUNT,
    MATURITY,
    T,
    h,
    register,
    state_without_receipts,
    trade_ledger,
)

R, G = "risk", "governance"
DAY_MS = 24 * 3600 * 1000
DELTA = "Delta Machines Ltd"  # an exporter its home bank (bank_a) registered


@pytest.fixture
def L() -> Ledger:
    led = trade_ledger()
    led.add_identity("delta")
    led.ok("bank_a", G, "register_identity", pubkey=led.pk("delta"), name=DELTA,
           role="exporter", bank="BARCGB22")
    return led


def control(led: Ledger, code: str, level: str, reason: str = "EU Reg. 833/2014 Annex VII",
            **extra: Any) -> dict[str, Any]:
    return led.ok("regulator", R, "set_goods_control", code=code, level=level, reason=reason,
                  **extra)


def alerts(receipt: Any, rule: str | None = None) -> list[dict[str, Any]]:
    return [e.data for e in receipt.events if e.name == "alert"
            and (rule is None or e.data["rule"] == rule)]


_n = iter(range(1, 10**6))


def invoice(**extra: Any) -> dict[str, Any]:
    """A new invoice of ACME's (its own number, amount and date: no copy of another)."""
    i = next(_n)
    return {**INVOICE, "number": f"INV-9{i:04d}-X", "amount": INVOICE_AMOUNT + i * 5_000_00,
            **extra}


def bl(**extra: Any) -> dict[str, Any]:
    return {**BILL_OF_LADING, "bl_number": f"MAEU-7{next(_n):05d}", **extra}


def try_register(led: Ledger, doc_type: str, fields: dict[str, Any], who: str = "exporter",
                 **extra: Any) -> Any:
    return led.tx(who, T, "register", doc_type=doc_type, fields=fields,
                  content_hash=h((doc_type, next(_n))), **extra)


def open_trade(led: Ledger, inv: dict[str, Any], *docs: tuple[str, dict[str, Any]],
               who: str = "exporter", seller: str = "ACME Exports Ltd") -> str:
    """An invoice opens the trade, a declaration (attested) and ``docs`` join it."""
    trade = register(led, "invoice", inv, tag=("inv", next(_n)), who=who)["trade_id"]
    decl = register(led, "customs_declaration",
                    {**DECLARATION, "exporter": seller,
                     "declaration_number": f"CD/2025/{next(_n):06d}",
                     "amount": inv["amount"] - 1_000_00},
                    tag=("decl", next(_n)), who=who, trade_id=trade)["doc_id"]
    for doc_type, fields in docs:
        register(led, doc_type, fields, tag=(doc_type, next(_n)), who=who, trade_id=trade)
    led.ok("customs", T, "attest", doc_id=decl, result="match",
           declared_amount=inv["amount"] - 1_000_00)
    return str(trade)


def finance(led: Ledger, trade: str, bank: str = "bank_a") -> Any:
    return led.tx(bank, T, "request_financing", amount=1000, currency="USD",
                  maturity_date=MATURITY, trade_id=trade)


def changed_keys(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> set[bytes]:
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


# ---------------------------------------------------------------------------- the list


@pytest.mark.parametrize("code", ["8", "847", "84711", "8471300", "00", "0012", "84.7", "84 71",
                                  " 8471", 8471, "８４７１", "", "84a1", None])
def test_a_prefix_not_of_2_4_or_6_digits_is_refused(L: Ledger, code: Any) -> None:
    r = L.tx("regulator", R, "set_goods_control", code=code, level="refuse", reason="x")
    assert r.status == "rejected" and r.error_code in ("bad_field", "missing_field")
    assert L.get(R, goods.LIST_KEY) is None


@pytest.mark.parametrize("to,code", [(["UK"], "bad_jurisdiction"), (["ru"], "bad_jurisdiction"),
                                     ([], "bad_field"), ("RU", "bad_field"),
                                     (["RU"] * 33, "bad_field")])
def test_destinations_are_iso_codes_one_to_32(L: Ledger, to: Any, code: str) -> None:
    L.fails(code, "regulator", R, "set_goods_control", code="8542", level="refuse",
            reason="x", to=to)


def test_a_level_other_than_refuse_or_monitor_and_a_missing_reason_are_refused(
        L: Ledger) -> None:
    L.fails("bad_field", "regulator", R, "set_goods_control", code="8542", level="block",
            reason="x")
    L.fails("missing_field", "regulator", R, "set_goods_control", code="8542", level="refuse")


@pytest.mark.parametrize("who", ["bank_a", "exporter", "auditor", "customs", "delta"])
def test_only_a_regulator_sets_or_removes(L: Ledger, who: str) -> None:
    L.fails("forbidden", who, R, "set_goods_control", code="8542", level="refuse", reason="x")
    control(L, "8542", "refuse")
    L.fails("forbidden", who, R, "remove_goods_control", code="8542", reason="x")
    assert L.get(R, goods.LIST_KEY)["8542"]["refuse"]["by"] == L.pk("regulator")


def test_each_change_is_an_event_and_the_list_is_one_record(L: Ledger) -> None:
    r = L.tx("regulator", R, "set_goods_control", code="8542", level="refuse",
             reason="EU Reg. 833/2014", to=["RU", "BY", "RU"])
    (ev,) = [e.data for e in r.events if e.name == "goods_control_set"]
    assert ev == {"code": "8542", "level": "refuse", "to": ["BY", "RU"], "previous": None,
                  "reason": "EU Reg. 833/2014", "by": L.pk("regulator")}
    r = L.tx("regulator", R, "set_goods_control", code="8542", level="refuse", reason="widened",
             to=["RU", "BY", "IR"])
    (ev,) = [e.data for e in r.events if e.name == "goods_control_set"]
    assert ev["previous"] == ["BY", "RU"] and ev["to"] == ["BY", "IR", "RU"]
    control(L, "8542", "monitor", "common high priority item")  # the same prefix, both levels
    control(L, "93", "refuse", "arms embargo")
    lst = L.get(R, goods.LIST_KEY)
    assert set(lst) == {"8542", "93"} and set(lst["8542"]) == {"refuse", "monitor"}
    assert lst["8542"]["monitor"]["to"] == [] and lst["8542"]["refuse"]["reason"] == "widened"
    r = L.tx("regulator", R, "remove_goods_control", code="8542", level="monitor",
             reason="delisted")
    (ev,) = [e.data for e in r.events if e.name == "goods_control_removed"]
    assert ev == {"code": "8542", "levels": ["monitor"], "reason": "delisted",
                  "by": L.pk("regulator")}
    L.fails("unknown_goods_control", "regulator", R, "remove_goods_control", code="8542",
            level="monitor", reason="again")
    assert L.ok("regulator", R, "remove_goods_control", code="8542",
                reason="lifted") == {"code": "8542", "removed": ["refuse"]}
    L.ok("regulator", R, "remove_goods_control", code="93", reason="lifted")
    assert L.get(R, goods.LIST_KEY) is None  # an empty list is no key: one absent read
    L.fails("unknown_goods_control", "regulator", R, "remove_goods_control", code="93",
            reason="again")


def test_the_list_is_bounded(L: Ledger) -> None:
    codes = [f"{c:04d}" for c in range(101, 101 + goods.MAX_GOODS_CONTROLS)]
    txs = [L.make_tx("regulator", R, "set_goods_control",
                     {"code": c, "level": "monitor", "reason": "x"}) for c in codes]
    assert all(r.status == "committed" for r in L.block(txs).receipts)
    assert goods.entry_count(L.get(R, goods.LIST_KEY)) == goods.MAX_GOODS_CONTROLS
    L.fails("too_many_goods_controls", "regulator", R, "set_goods_control", code="99",
            level="refuse", reason="x")
    control(L, codes[0], "monitor", "replacing an entry is no new entry")


def test_any_identity_reads_the_list_and_the_memory_is_hidden_from_the_exporter(
        L: Ledger) -> None:
    def reader(name: str) -> access.Reader:
        rd = access.resolve_reader(L.get, L.pk(name))
        assert rd is not None
        return rd

    for who in ("exporter", "delta", "bank_b", "importer"):
        assert access.state_rule(L.get, reader(who), R, goods.LIST_KEY) == "any"
    key = f"stats/{L.pk('delta')}/{goods.SEEN}"
    assert access.state_rule(L.get, reader("delta"), R, key) is None
    assert access.state_rule(L.get, reader("bank_a"), R, key) == "home_bank"


# ---------------------------------------------------------------------------- documents' codes


@pytest.mark.parametrize("codes", [["8471"], ["84713000123"], ["8471.30"], ["847130 "],
                                   [847130], ["８４７１３０"], [], "847130", [None],
                                   ["847130"] * 65, {"847130": 1}])
def test_bad_hs_codes_are_refused_bad_field(L: Ledger, codes: Any) -> None:
    r = try_register(L, "invoice", invoice(hs_codes=codes))
    assert r.status == "rejected" and r.error_code == "bad_field", r.error_message


def test_hs_codes_are_stored_sorted_once_and_only_on_three_document_types(L: Ledger) -> None:
    r = register(L, "invoice", invoice(hs_codes=["8471300000", "847130", "847130"]),
                 tag="inv-codes")
    assert L.get(T, "doc/" + r["doc_id"])["fields"]["hs_codes"] == ["847130", "8471300000"]
    register(L, "bill_of_lading", bl(hs_codes=["847130"]), tag="bl-codes")
    register(L, "customs_declaration", {**DECLARATION, "hs_codes": ["84713000"]},
             tag="decl-codes")
    r = try_register(L, "packing_list", {"exporter": "ACME Exports Ltd", "number": "PL-1",
                                         "issue_date": "2025-11-20", "hs_codes": ["847130"]})
    assert r.error_code == "unknown_field"


def test_a_document_without_hs_codes_is_not_screened_by_goods(L: Ledger) -> None:
    for prefix in ("84", "85", "93"):
        control(L, prefix, "refuse")
    r = register(L, "invoice", invoice(), tag="no-codes")
    assert "hs_codes" not in L.get(T, "doc/" + r["doc_id"])["fields"]  # the record as before
    trade = open_trade(L, invoice(), ("bill_of_lading", bl(port_of_discharge="RUVVO")))
    assert finance(L, trade).ok


# ---------------------------------------------------------------------------- refuse


@pytest.mark.parametrize("prefix", ["85", "8542", "854231"])
def test_refuse_stops_a_registration_at_each_prefix_length_and_keeps_the_alert(
        L: Ledger, prefix: str) -> None:
    control(L, prefix, "refuse", "dual-use: EU Reg. 2021/821 Annex I")
    before = state_without_receipts(L)
    r = try_register(L, "invoice", invoice(hs_codes=["847130", "85423190"]))
    assert r.status == "rejected" and r.error_code == "controlled_goods"
    assert "85423190" in r.error_message and prefix in r.error_message
    assert "EU Reg. 2021/821 Annex I" in r.error_message  # the published list's reason
    (a,) = alerts(r)
    assert a["rule"] == "controlled_goods_refused" and a["prefix"] == prefix
    assert a["hs_code"] == "85423190" and a["destination"] is None
    assert a["accounts"] == [L.pk("exporter")]
    changed = changed_keys(before, state_without_receipts(L))
    assert changed and all(k.startswith(b"risk/") for k in changed)  # only the alert is kept
    assert L.get(R, "alert_count/controlled_goods_refused") == 1


@pytest.mark.parametrize("prefix", ["84", "8543", "854232", "8541", "86"])
def test_codes_outside_the_prefix_register(L: Ledger, prefix: str) -> None:
    control(L, prefix, "refuse")
    r = try_register(L, "invoice", invoice(hs_codes=["854231", "850440"]))
    assert r.ok and not alerts(r), r.error_message


def test_a_destination_restricted_entry_applies_only_to_a_recorded_destination(
        L: Ledger) -> None:
    control(L, "8542", "refuse", "EU Reg. 833/2014 Art. 2a", to=["RU", "BY"])
    # no destination recorded: the restricted entry does not apply
    assert try_register(L, "invoice", invoice(hs_codes=["854231"])).ok
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge="RUVVO"))
    assert r.error_code == "controlled_goods"
    assert "RU" in r.error_message and "port_of_discharge" in r.error_message
    (a,) = alerts(r)
    assert a["destination"] == "RU" and a["party"] == "port_of_discharge"
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge="BY MSQ"))
    assert r.error_code == "controlled_goods"
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"],
                                              port_of_discharge="Vladivostok",
                                              port_of_discharge_locode="RUVVO"))
    assert r.error_code == "controlled_goods"  # the coded field places the port
    for port in ("NLRTM", "Vladivostok"):  # elsewhere; a name is never placed (decision 152)
        assert try_register(L, "bill_of_lading", bl(hs_codes=["854231"],
                                                    port_of_discharge=port)).ok
    # the port of loading is no destination
    assert try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_loading="RULED",
                                                port_of_discharge="NLRTM")).ok


def test_financing_screens_the_list_as_it_stands_then(L: Ledger) -> None:
    trade = open_trade(L, invoice(hs_codes=["930690"]))  # registered before the listing
    control(L, "9306", "refuse", "arms embargo")
    before = state_without_receipts(L)
    r = finance(L, trade)
    assert r.error_code == "controlled_goods" and "9306" in r.error_message
    (a,) = alerts(r)
    assert a["rule"] == "controlled_goods_refused" and a["trade_id"] == trade
    assert a["accounts"] == [L.pk("exporter")]
    changed = changed_keys(before, state_without_receipts(L))
    assert all(k.startswith(b"risk/") for k in changed)
    assert L.get(T, "trade/" + trade)["financed"] == 0
    L.ok("regulator", R, "remove_goods_control", code="9306", reason="embargo lifted")
    assert finance(L, trade).ok  # removal restores


def test_financing_joins_one_documents_goods_to_anothers_destination(L: Ledger) -> None:
    """An invoice coded 8542 (no destination) and a B/L to Vladivostok without codes each
    register; the trade they make is refused at financing. (Listed after the B/L joined: the
    join itself is now screened, red-team round 8, tests/unit/test_redteam8_goods.py.)"""
    trade = open_trade(L, invoice(hs_codes=["854231"]),
                       ("bill_of_lading", bl(port_of_discharge="RU VVO")))
    control(L, "8542", "refuse", "EU Reg. 833/2014 Art. 2a", to=["RU"])
    r = finance(L, trade)
    assert r.error_code == "controlled_goods" and "port_of_discharge" in r.error_message
    ok = open_trade(L, invoice(hs_codes=["854231"]),
                    ("bill_of_lading", bl(port_of_discharge="NLRTM")))
    assert finance(L, ok).ok


def test_the_buyers_bank_of_a_letter_of_credit_is_a_destination(L: Ledger) -> None:
    lc = {"issuing_bank": "SABRRUMM", "lc_number": "LC-8542", "applicant": "Globex Corp",
          "beneficiary": "ACME Exports Ltd", "amount": 200_000_00, "currency": "USD",
          "expiry_date": "2026-03-31"}
    trade = open_trade(L, invoice(hs_codes=["854231"]), ("letter_of_credit", lc))
    # listed after the copy joined (the join itself is screened since red-team round 8)
    control(L, "8542", "refuse", "EU Reg. 833/2014 Art. 2a", to=["RU"])
    r = finance(L, trade)
    assert r.error_code == "controlled_goods" and "buyers_bank" in r.error_message


def test_refuse_is_the_strictest_of_two_entries_for_one_prefix(L: Ledger) -> None:
    control(L, "8542", "refuse", "EU Reg. 833/2014", to=["RU", "BY"])
    control(L, "8542", "monitor", "common high priority item: diversion")
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge="RUVVO"))
    assert r.error_code == "controlled_goods" and not alerts(r, "controlled_goods")
    r = try_register(L, "bill_of_lading", bl(hs_codes=["854231"], port_of_discharge="KZALA"))
    assert r.ok
    (a,) = alerts(r, "controlled_goods")
    assert a["prefix"] == "8542" and a["destination"] is None


# ---------------------------------------------------------------------------- monitor


def test_monitor_alerts_the_home_bank_and_supervisors_never_the_exporter(L: Ledger) -> None:
    control(L, "8471", "monitor", "dual-use: 5A002 (cryptography)")
    r = try_register(L, "invoice", invoice(seller=DELTA, hs_codes=["84713000"]), who="delta")
    assert r.ok
    (ev,) = [e for e in r.events if e.name == "alert"]
    assert ev.data["rule"] == "controlled_goods" and ev.data["prefix"] == "8471"
    assert ev.data["accounts"] == [L.pk("delta")] and ev.data["doc_type"] == "invoice"
    event = {"contract": ev.contract, "name": ev.name, "data": ev.data}

    def reader(name: str) -> access.Reader:
        rd = access.resolve_reader(L.get, L.pk(name))
        assert rd is not None
        return rd

    assert "controlled_goods" not in risk.HOLDER_ALERT_RULES
    assert "controlled_goods_refused" not in risk.HOLDER_ALERT_RULES
    assert not access.event_names_reader(L.get, reader("delta"), event)
    assert access.event_names_reader(L.get, reader("bank_a"), event)  # its home bank
    assert not access.event_names_reader(L.get, reader("bank_b"), event)
    for key in (f"alerts/{L.pk('delta')}", f"stats/{L.pk('delta')}/goods"):
        assert access.state_rule(L.get, reader("delta"), R, key) is None
        assert access.state_rule(L.get, reader("bank_a"), R, key) == "home_bank"
        assert access.state_rule(L.get, reader("regulator"), R, key) == "regulator"
    case = L.get(R, "alert/" + ev.data["alert"])
    assert case["rule"] == "controlled_goods" and case["status"] == "open"
    assert set(case["queues"]) == {"*", "id:" + L.pk("bank_a"), "bic:BARCGB22XXX"}


def test_monitor_alerts_once_per_exporter_prefix_and_destination_per_24_hours(
        L: Ledger) -> None:
    control(L, "8471", "monitor")
    control(L, "8542", "monitor", "diversion", to=["KZ", "AM"])
    assert len(alerts(try_register(L, "invoice", invoice(hs_codes=["847130"])),
                      "controlled_goods")) == 1
    # the same exporter and prefix within 24 h: registration and financing alert no more
    trade = open_trade(L, invoice(hs_codes=["847150"]))
    r = finance(L, trade)
    assert r.ok and not alerts(r, "controlled_goods")
    # another exporter: its own alert
    (d,) = alerts(try_register(L, "invoice", invoice(seller=DELTA, hs_codes=["847130"]),
                               who="delta"), "controlled_goods")
    assert d["accounts"] == [L.pk("delta")]
    # a restricted entry: one alert per destination
    (k,) = alerts(try_register(L, "bill_of_lading", bl(hs_codes=["854231"],
                                                       port_of_discharge="KZALA")))
    assert k["destination"] == "KZ" and k["party"] == "port_of_discharge"
    assert not alerts(try_register(L, "bill_of_lading", bl(hs_codes=["854239"],
                                                           port_of_discharge="KZ-ALA")))
    (m,) = alerts(try_register(L, "bill_of_lading", bl(hs_codes=["854231"],
                                                       port_of_discharge="AMEVN")))
    assert m["destination"] == "AM"
    # an entry may carry a 4th element: matches not alerted since (red-team round 8)
    assert sorted((p, d) for p, d, *_ in L.get(R, f"stats/{L.pk('exporter')}/goods")) == [
        ("8471", "*"), ("8542", "AM"), ("8542", "KZ")]
    # 24 h of block time later: again
    L.now_ms += DAY_MS
    r = finance(L, trade)
    assert r.ok and len(alerts(r, "controlled_goods")) == 1
    assert L.get(R, "alert_count/controlled_goods") == 5


def test_a_monitor_alert_of_a_refused_registration_is_not_remembered(L: Ledger) -> None:
    control(L, "8471", "monitor")
    control(L, "93", "refuse", "arms embargo")
    r = try_register(L, "invoice", invoice(hs_codes=["847130", "930690"]))
    assert r.error_code == "controlled_goods" and not alerts(r, "controlled_goods")
    assert L.get(R, f"stats/{L.pk('exporter')}/goods") is None
    assert len(alerts(try_register(L, "invoice", invoice(hs_codes=["847130"])),
                      "controlled_goods")) == 1


def test_removal_ends_monitoring(L: Ledger) -> None:
    control(L, "8471", "monitor")
    L.ok("regulator", R, "remove_goods_control", code="8471", reason="delisted")
    r = try_register(L, "invoice", invoice(hs_codes=["847130"]))
    assert r.ok and not alerts(r)


def test_the_monitor_memory_is_bounded(L: Ledger) -> None:
    codes = [f"{c:02d}" for c in range(10, 10 + goods.MAX_SEEN + 8)]
    for c in codes:
        control(L, c, "monitor")
    r = try_register(L, "invoice", invoice(hs_codes=[c + "0000" for c in codes]))
    assert r.ok and len(alerts(r, "controlled_goods")) == len(codes)
    seen = L.get(R, f"stats/{L.pk('exporter')}/goods")
    assert len(seen) == goods.MAX_SEEN and [p for p, _, _ in seen] == codes[-goods.MAX_SEEN:]


def test_no_list_no_new_state(L: Ledger) -> None:
    before = state_without_receipts(L)
    trade = open_trade(L, invoice(hs_codes=["930690"]),
                       ("bill_of_lading", bl(hs_codes=["930690"], port_of_discharge="RUVVO")))
    assert finance(L, trade).ok
    after = state_without_receipts(L)
    assert not any(k.endswith(b"/goods") for k in changed_keys(before, after))
    assert L.get(R, "alert_count/controlled_goods") is None
    assert L.get(R, "alert_count/controlled_goods_refused") is None


# ---------------------------------------------------------------------------- letters of credit


def _ru_bank_lc(led: Ledger) -> str:
    led.add_identity("ru_bank")
    led.ok("bank_a", G, "register_identity", pubkey=led.pk("ru_bank"), name="ru bank",
           role="bank", bank="SABRRUMM")
    return str(led.ok("ru_bank", T, "issue_lc", applicant=led.pk("importer"),
                      beneficiary=led.pk("exporter"), amount=500_000_00, currency="USD",
                      expiry_date="2026-03-31", lc_number="LC-RU-1")["lc_id"])


def test_a_presentation_screens_its_goods_to_the_issuing_banks_country(L: Ledger) -> None:
    lc_id = _ru_bank_lc(L)
    assert L.get(T, "lc/" + lc_id)["issuing_bank"] == "SABRRUMM"
    inv = register(L, "invoice", invoice(hs_codes=["854231"]), tag="inv-lc")["doc_id"]
    control(L, "8542", "refuse", "EU Reg. 833/2014 Art. 2a", to=["RU"])  # after registration
    r = L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000)
    assert r.error_code == "controlled_goods" and "buyers_bank" in str(r.error_message)
    (a,) = alerts(r)
    assert a["lc_id"] == lc_id and a["destination"] == "RU"
    L.ok("regulator", R, "remove_goods_control", code="8542", reason="lifted")
    assert L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000).ok


def test_an_lc_names_no_goods_and_its_issue_is_not_screened_by_goods(L: Ledger) -> None:
    for prefix in ("84", "85", "93"):
        control(L, prefix, "refuse")
    lc_id = _ru_bank_lc(L)
    inv = register(L, "invoice", invoice(), tag="inv-lc-none")["doc_id"]  # no hs_codes
    assert L.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=1000).ok
