"""Red-team round 11, second half (docs/redteam-trade.md "Round 11, second half"; decisions
256-259): the containers checked when a bank finances. Registration meets a box under another
trade's live shipment (decision 228), but a financing looked at no box: a trade whose shipment
lapsed unfinanced (90 days, nothing owed) could be financed after another trade's transport
document took its boxes — or that other trade financed after the first one's late B/L took
them back — two financings of one cargo with nothing said to either bank.

Each ``test_f<n>_...`` fails on the code before (there ``request_financing`` read no
container: the financing was committed with no acknowledgement, or with 600 boxes). The
``test_held_...`` tests pin what held.
"""

from __future__ import annotations

from typing import Any

from contracts.testing import Ledger
from contracts.trade.documents import CONTAINER_DAYS
from contracts.trade.financing import MAX_FINANCED_CONTAINERS
from contracts.trade.norm import MAX_CONTAINERS, container_check_digit
from tests.unit.test_redteam11_trade import (
    BL_BOXES,
    BOX_A,
    BOX_B,
    DAY_MS,
    REISSUED,
    by_container,
    second_trade,
    shipment,
)
from tests.unit.trade_cases import INVOICE, POOL, T, reg, register, trade_ledger

#: a maturity after the 91 days these tests let pass
LATE = "2026-12-31"


def fund(led: Ledger, bank: str, trade: str, amount: int = 10_000_00, **extra: Any) -> Any:
    return led.tx(bank, T, "request_financing", trade_id=trade, amount=amount,
                  currency="USD", maturity_date=LATE, **extra)


def lapsed_then_taken() -> tuple[Ledger, dict[str, str], str, str]:
    """Trade 1's B/L names boxes A and B; 91 days pass, trade 1 never financed (its shipment
    lapses); trade 2's B/L takes both boxes with no note and bank B finances trade 2.
    Returns (ledger, trade 1's ids, trade 2, trade 2's B/L)."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    led.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    t2 = second_trade(led)
    r = reg(led, {**REISSUED, "containers": [BOX_A, BOX_B]}, "bill_of_lading", trade_id=t2)
    assert r.status == "committed", r.error_message
    assert led.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    assert fund(led, "bank_b", t2).status == "committed"
    return led, ids, t2, r.result["doc_id"]


# ---------------------------------------------------------------------------- found and fixed


def test_f1_the_first_trade_financed_after_another_took_its_boxes() -> None:
    """The window passed with trade 1 never financed: bank A financing it now is a second
    financing of the cargo bank B financed under trade 2. Refused until bank A acknowledges,
    naming the boxes (and trade 2's B/L: the exporter's own); then its result lists them."""
    led, ids, _t2, bl2 = lapsed_then_taken()
    r = fund(led, "bank_a", ids["trade"])
    assert r.error_code == "distinct_not_acknowledged", (r.status, r.error_message)
    msg = r.error_message or ""
    assert BOX_A in msg and BOX_B in msg and bl2 in msg and "registered 2026-" in msg
    ok = fund(led, "bank_a", ids["trade"], acknowledge_distinct=True)
    assert ok.status == "committed", ok.error_message
    assert [b["container"] for b in ok.result["containers_elsewhere"]] == [BOX_A, BOX_B]
    assert {b["doc_id"] for b in ok.result["containers_elsewhere"]} == {ids["boxes"]}
    assert {b["other_doc"] for b in ok.result["containers_elsewhere"]} == {bl2}


def test_f2_a_trade_financed_on_its_invoice_then_its_late_bl_takes_the_boxes() -> None:
    """The other order (the brief's case a): trade 2's B/L named the boxes and lapsed
    unfinanced; trade 1, financed on its invoice alone, then registers its B/L for the same
    boxes — no note (the key was free) — and bank B financing trade 2 now read nothing."""
    led = trade_ledger(financing_requires_attestation=False)
    t2 = second_trade(led)
    assert reg(led, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading",
               trade_id=t2).status == "committed"
    led.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    t1 = register(led, "invoice", INVOICE)["trade_id"]
    assert fund(led, "bank_a", t1).status == "committed"  # on the invoice alone
    late = reg(led, BL_BOXES, "bill_of_lading", trade_id=t1)
    assert late.status == "committed", late.error_message
    r = fund(led, "bank_b", t2)
    assert r.error_code == "distinct_not_acknowledged", (r.status, r.error_message)
    assert BOX_A in (r.error_message or "") and late.result["doc_id"] in r.error_message
    assert fund(led, "bank_b", t2, acknowledge_distinct=True).status == "committed"


def test_f3_another_exporters_box_is_said_without_its_document() -> None:
    """A co-loader's (another exporter's) B/L holding the box: the refusal says the box and
    "another exporter", not its document (decision 230)."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    led.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    co = led.tx("exporter2", T, "register", doc_type="bill_of_lading", content_hash="ab" * 32,
                fields={**REISSUED, "shipper": "Borealis Trading Co", "containers": [BOX_A]})
    assert co.status == "committed", co.error_message
    r = fund(led, "bank_a", ids["trade"])
    assert r.error_code == "distinct_not_acknowledged", (r.status, r.error_message)
    msg = r.error_message or ""
    assert BOX_A in msg and "another exporter" in msg and co.result["doc_id"] not in msg
    ok = fund(led, "bank_a", ids["trade"], acknowledge_distinct=True)
    assert ok.result["containers_elsewhere"][0]["other_doc"] is None


def _boxes(start: int, n: int) -> list[str]:
    out = []
    for i in range(start, start + n):
        code = f"TSTU{i:06d}"
        out.append(code + str(container_check_digit(code)))
    return out


def test_f4_a_financing_reads_a_bounded_number_of_boxes() -> None:
    """B/Ls per trade are not bounded, so neither were the boxes a financing would read: more
    than MAX_FINANCED_CONTAINERS refused as not_financeable; at the bound financed."""
    led = trade_ledger(financing_requires_attestation=False)
    t1 = register(led, "invoice", INVOICE)["trade_id"]
    full = MAX_FINANCED_CONTAINERS // MAX_CONTAINERS
    for n in range(full):
        register(led, "bill_of_lading",
                 {**BL_BOXES, "bl_number": f"MAEU-{7_100_000 + 1_000 * n}",
                  "containers": _boxes(n * MAX_CONTAINERS, MAX_CONTAINERS)}, trade_id=t1)
    assert fund(led, "bank_a", t1).status == "committed"
    register(led, "bill_of_lading", {**BL_BOXES, "bl_number": "MAEU-7900000",
                                     "containers": _boxes(9_000, 1)}, trade_id=t1)
    r = fund(led, "bank_a", t1)
    assert r.error_code == "not_financeable", (r.status, r.error_message)
    assert str(MAX_FINANCED_CONTAINERS) in (r.error_message or "")


# ---------------------------------------------------------------------------- held


def test_held_a_financed_trade_a_flagged_bl_joins_needs_the_reason_read() -> None:
    """Trade 1 financed on its invoice alone; its B/L naming a box of trade 2's live shipment
    is suspected when it joins (after the money moved: that stays); declared distinct, each
    further drawing — bank A's too — needs the reason read, and trade 2's as well."""
    led = trade_ledger(financing_requires_attestation=False)
    t2 = second_trade(led)
    assert reg(led, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading",
               trade_id=t2).status == "committed"
    t1 = register(led, "invoice", INVOICE)["trade_id"]
    assert fund(led, "bank_a", t1).status == "committed"
    by_container(reg(led, BL_BOXES, "bill_of_lading", trade_id=t1), BOX_A)
    assert reg(led, BL_BOXES, "bill_of_lading", trade_id=t1,
               declare_distinct="one box shared, LCL").status == "committed"
    for bank, trade in (("bank_a", t1), ("bank_b", t2)):
        r = fund(led, bank, trade)
        assert r.error_code == "distinct_not_acknowledged", r.error_message
        assert "LCL" in (r.error_message or "") and "container(s)" not in r.error_message
        ok = fund(led, bank, trade, acknowledge_distinct=True)
        assert ok.status == "committed" and "containers_elsewhere" not in ok.result


def test_f5_a_box_reused_after_a_repaid_voyage_then_the_first_trade_drawn_again() -> None:
    """Trade 1 financed and repaid; past the window trade 2's B/L takes its box; trade 2 is
    financed with no acknowledgement (trade 1's shipment is over). Trade 1 financed again is
    the cargo under trade 2's live shipment: acknowledged."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    fin = fund(led, "bank_a", ids["trade"], POOL // 2)
    led.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    led.ok("exporter", T, "repay", financing_id=fin.result["financing_id"], amount=POOL // 2)
    t2 = second_trade(led)
    assert reg(led, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading",
               trade_id=t2).status == "committed"
    ok = fund(led, "bank_b", t2)
    assert ok.status == "committed" and "containers_elsewhere" not in ok.result
    assert fund(led, "bank_a", ids["trade"]).error_code == "distinct_not_acknowledged"


def test_held_the_same_trades_second_bl_and_no_boxes_read_nothing_new() -> None:
    """A switch B/L of the same trade holds no key of another trade: financed as before;
    a trade without containers is financed as before (no new result field)."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    assert reg(led, {**REISSUED, "containers": [BOX_A, BOX_B]}, "bill_of_lading",
               trade_id=ids["trade"]).status == "committed"
    ok = fund(led, "bank_a", ids["trade"])
    assert ok.status == "committed" and "containers_elsewhere" not in ok.result
    led2 = trade_ledger(financing_requires_attestation=False)
    t = register(led2, "invoice", INVOICE)["trade_id"]
    assert set(fund(led2, "bank_a", t).result) == {"financing_id", "trade_id", "financed",
                                                   "remaining", "declared_distinct"}
