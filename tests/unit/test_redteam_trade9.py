"""Red-team round 9 over "one trade is financed only once, however its documents are dressed up"
(docs/redteam-trade.md "Red-team round 9"; decisions 175-176). A dishonest exporter (alone, or with
its buyer, a forwarder or one complicit bank) tried to finance one shipment twice. Findings (each
test named ``test_r9_...`` fails on the code before):

* R9-1 -- a renumbered invoice ("CI-2025-001" for "INV-2025-001") addressed to the buyer written
  otherwise -- in another script ("Глобекс"), under another of the buyer group's names ("Globex
  Europe B.V."), re-issued in another currency at the day's rate -- opened a second trade
  unremarked: decision 153 remembered an invoice's digits per seller *and buyer*, while the
  number is the seller's (the invoice's identity is (seller, number)). Decision 175.
* R9-2 -- the whole invoice registered after its parts numbered with three tokens more
  ("INV-2025-001-P1/2", "-P2/2", then "INV-2025-001") was another sale: a part left markers only
  one and two tokens shorter; and a part numbered with four tokens or more ("-PART-1-OF-2",
  " INSTALMENT 1 OF 3") met its whole in neither order. Decision 176.

The ``test_held_...`` tests pin what held (or must still go through).
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts import testing
from contracts.testing import Ledger
from contracts.trade import norm
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    INVOICE_AMOUNT,
    MOVED,
    POOL,
    T,
    finance,
    financed_trade,
    h,
    open_trade,
    refused,
    reg,
    register,
    trade_ledger,
)

L = pytest.fixture(financed_trade, name="L")


# ---------------------------------------------------------------------------- R9-1


@pytest.mark.parametrize("change", [
    {"buyer": "Глобекс"},                                   # the buyer in Cyrillic
    {"buyer": "GLOBEX CORPORATION (Europe) B.V."},          # another of the group's names
    {"buyer": "环球公司"},                                   # in Chinese
    {"buyer": "Глобекс", "currency": "CNY", "amount": 708_000_00},  # and in another currency
])
def test_r9_a_renumbered_invoice_to_the_buyer_written_otherwise_is_suspected(
        L: Ledger, change: dict[str, Any]) -> None:
    r = reg(L, {**INVOICE, "number": "CI-2025-001", **MOVED, **change})
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    assert "same seller" in (r.error_message or "") and "declare_distinct" in (
        r.error_message or "")


def test_r9_the_second_trade_is_not_financed_unread_without_attestation() -> None:
    """The whole attack where the consortium does not require attestation (the parameter's
    default): the renumbered copy to the buyer in Cyrillic opened a second trade bank B
    financed as if it were another sale. Now it registers only declared distinct, and bank B
    finances it only after reading why."""
    led = trade_ledger(financing_requires_attestation=False)
    finance(led, "bank_a", POOL, trade_id=open_trade(led)["trade"])
    copy = {**INVOICE, "number": "CI-2025-001", "buyer": "Глобекс", **MOVED}
    assert reg(led, copy).error_code == "suspected_duplicate"
    trade = reg(led, copy, declare_distinct="another order of Globex's Moscow office")
    assert trade.status == "committed"
    refused(led, "distinct_not_acknowledged", "bank_b", "request_financing",
            trade_id=trade.result["trade_id"], amount=90_000_00, currency="USD",
            maturity_date="2026-02-28")
    led.ok("bank_b", T, "request_financing", trade_id=trade.result["trade_id"],
           amount=90_000_00, currency="USD", maturity_date="2026-02-28",
           acknowledge_distinct=True)


def test_held_not_overblocked_the_sellers_next_numbers_to_any_buyer(L: Ledger) -> None:
    """Other digits to another buyer, and the next number to the same one, register with no
    note; the same digits to another buyer register once declared distinct."""
    for i, (number, buyer) in enumerate((("INV-2025-002", "Initech"),
                                         ("INV-2025-003", "Globex Corp"),
                                         ("INV-2026-001", "Initech"))):
        r = reg(L, {**INVOICE, "number": number, "buyer": buyer,
                    "issue_date": f"2025-12-{10 + 5 * i}"})
        assert r.status == "committed", (number, r.error_message)
        assert L.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    r = reg(L, {**INVOICE, "number": "IT-2025-001", "buyer": "Initech",
                "issue_date": "2026-01-20"},
            declare_distinct="our Italian series: another sale to another buyer")
    assert r.status == "committed"


def test_r9_upgrade_an_invoice_registered_before_decision_175_stays_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered under decision 153's scope (seller and buyer), its renumbered copy to the same
    buyer is still suspected after the upgrade (the cores before are looked up)."""
    led = trade_ledger()
    with monkeypatch.context() as m:
        m.setitem(norm.CORE_SCOPE, "invoice", ("number", ("seller", "buyer")))
        register(led, "invoice", INVOICE)
    assert norm.CORE_SCOPE["invoice"] == ("number", ("seller",))
    r = reg(led, {**INVOICE, "number": "CI-2025-001", **MOVED})
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    # and a registration after it writes only the seller's cores: no buyer-scoped key
    new = reg(led, {**INVOICE, "number": "INV-2025-050", "buyer": "Initech"})
    assert new.status == "committed"
    assert led.last is not None
    cores = [k for k in led.last.changes if k.startswith(f"{T}/core/".encode())]
    assert len(cores) == 2


def test_cost_the_old_scope_is_read_only_for_a_buyer_the_seller_invoiced_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The upgrade's lookup costs two HMACs and two reads: only where a pre-upgrade invoice to
    that buyer could exist (the similarity list, read anyway, is not empty)."""
    from contracts.trade import documents
    calls: list[str] = []

    def counted(key: bytes, doc_type: str, n: Any) -> list[str]:
        calls.append(n["buyer"])
        return norm.cores_before_175(key, doc_type, n)

    monkeypatch.setattr(documents, "cores_before_175", counted)
    led = trade_ledger()
    for i, buyer in enumerate(("Globex Corp", "Initech", "Globex Corp")):
        register(led, "invoice", {**INVOICE, "buyer": buyer, "number": f"INV-2025-10{i}",
                                  "issue_date": f"2025-0{i + 1}-10"})
    assert calls == ["globex"]


# ---------------------------------------------------------------------------- R9-2


PART = {**INVOICE, "amount": 50_000_00}


def test_r9_the_whole_registered_after_its_parts_of_three_tokens_is_suspected(
        L: Ledger) -> None:
    led = trade_ledger()
    for i, (number, day) in enumerate((("INV-2025-001-P1/2", "2025-11-20"),
                                       ("INV-2025-001-P2/2", "2025-12-10"))):
        assert reg(led, {**PART, "number": number, "issue_date": day}).status == "committed", i
    whole = {**INVOICE, "issue_date": "2025-12-20"}
    r = reg(led, whole)
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    assert "a part invoice of this number" in (r.error_message or "")
    assert reg(led, whole, declare_distinct="the parts were a quote").status == "committed"


@pytest.mark.parametrize("suffix", ["-PART-1-OF-2", " INSTALMENT 1 OF 3",
                                    " PARTIAL SHIPMENT 2 OF 2", "/SHIPMENT/NO/1",
                                    "-PART-001-OF-002"])
def test_r9_a_part_with_more_words_meets_its_whole_in_either_order(suffix: str) -> None:
    """Four tokens or more after the whole's number: past the token rule (three), so the part
    after its whole and the whole after its part were other sales; the digits read it."""
    led = trade_ledger()
    register(led, "invoice", INVOICE)
    r = reg(led, {**PART, "number": "INV-2025-001" + suffix, **MOVED})
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    assert "this one extends" in (r.error_message or "")
    led = trade_ledger()
    assert reg(led, {**PART, "number": "INV-2025-001" + suffix}).status == "committed"
    r = reg(led, {**INVOICE, "issue_date": "2025-12-20"})
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    assert "a part invoice of this number" in (r.error_message or "")


def test_held_serials_ending_in_short_groups_and_instalments_without_a_whole_register() -> None:
    """Not over-blocked: numbers whose digits end in a short group (a month, a day, a serial
    of two digits) and instalments whose whole was never registered are no parts of each
    other; each registers with no note, and the whole declared distinct keeps its core."""
    led = trade_ledger()
    numbers = ["INV-202512-01", "INV-202512-02", "INV-2024-11-01", "INV-2024-11-02",
               "INV-2025-009/1", "INV-2025-009/2", "2025-0077-1-OF-2", "2025-0077-2-OF-2"]
    for i, number in enumerate(numbers):
        r = reg(led, {**INVOICE, "number": number, "amount": 10_000_00 + 1_000_00 * i,
                      "issue_date": f"2025-{1 + i:02d}-10"})
        assert r.status == "committed", (number, r.error_message)
        assert led.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    whole = reg(led, {**INVOICE, "number": "INV-2025-0077", "issue_date": "2025-12-01"},
                declare_distinct="the whole after its two instalments: the commercial invoice")
    assert whole.status == "committed"
    r = reg(led, {**INVOICE, "number": "CI 2025 0077", "issue_date": "2025-12-20"})
    assert r.error_code == "suspected_duplicate" and "same digits" in (r.error_message or "")


def test_held_the_part_after_its_whole_and_parts_of_one_or_two_tokens(L: Ledger) -> None:
    """Decision 121's cases: a part after its whole, and the whole after parts of one or two
    tokens more, stay suspected."""
    for number in ("INV-2025-001-P1/2", "INV-2025-001/1", "INV-2025-001-A"):
        assert reg(L, {**PART, "number": number, **MOVED}).error_code == "suspected_duplicate"
    led = trade_ledger()
    assert reg(led, {**PART, "number": "INV-2025-009/1"}).status == "committed"
    assert reg(led, {**INVOICE, "number": "INV-2025-009", "issue_date": "2025-12-20"}
               ).error_code == "suspected_duplicate"


# ---------------------------------------------------------------------------- what held


@pytest.mark.parametrize("number", ["INV-2025-001-R1", "INV-2025-001 CORR", "INV-2025-001A",
                                    "CN-2025-001", "INV-2025-001 REV 2",
                                    "INV-2025-001-CORRECTED"])
def test_held_a_corrected_invoice_or_credit_note_number_is_suspected(
        L: Ledger, number: str) -> None:
    assert reg(L, {**INVOICE, "number": number, **MOVED}).error_code == "suspected_duplicate"


def test_held_the_sale_reissued_in_another_currency_needs_the_shipments_declaration(
        L: Ledger) -> None:
    """A new number in another currency opens a trade (amounts in two currencies do not
    compare: Left), but the shipment's declaration and B/L stay in the first trade, under
    their numbers or dressed, so the second is not financed without customs attesting
    another declaration."""
    r = reg(L, {**INVOICE, "number": "INV-2025-777", "currency": "CNY", "amount": 708_000_00,
                "issue_date": MOVED["issue_date"]})
    assert r.status == "committed"
    trade = r.result["trade_id"]
    cny = {**DECLARATION, "currency": "CNY", "amount": 708_000_00}
    for number in ("CD/2025/000123", "MRN CD/2025/000123", "CD/2025/000123/2"):
        code = reg(L, {**cny, "declaration_number": number}, "customs_declaration",
                   trade_id=trade).error_code
        assert code in ("duplicate_document", "suspected_duplicate"), (number, code)
    assert reg(L, BILL_OF_LADING, "bill_of_lading", trade_id=trade
               ).error_code == "duplicate_document"
    refused(L, "not_attested", "bank_b", "request_financing", trade_id=trade,
            amount=100_00, currency="CNY", maturity_date="2026-02-28")


def test_held_an_accepted_usance_presentation_is_discounted_from_the_one_pool() -> None:
    """The deferred payment undertaking of an accepted usance presentation: a bank
    discounting it finances the trade, from its one pool; another bank financing the invoice
    meanwhile is over the pool; the undertaking, paid, repays the financing bank first."""
    led = trade_ledger()
    ids = open_trade(led)
    lc = issue(led, ids["trade"], usance_days=30)
    pres = led.ok("exporter", T, "present", lc_id=lc,
                  doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                  amount=INVOICE_AMOUNT)["presentation_id"]
    due = led.ok("bank_c", T, "accept_presentation", presentation_id=pres)["due_ms"]
    finance(led, "bank_a", POOL, trade_id=ids["trade"])  # the forfaiter's discount
    refused(led, "already_financed", "bank_b", "request_financing", doc_id=ids["invoice"],
            amount=1, currency="USD", maturity_date="2026-02-28")
    led.now_ms = due
    paid = led.ok("bank_c", T, "pay_deferred", presentation_id=pres)["payments"]
    assert [(p["to"], p["amount"]) for p in paid] == [
        (led.pk("bank_a"), POOL), (led.pk("exporter"), INVOICE_AMOUNT - POOL)]


def test_held_documents_paid_under_one_lc_are_not_presented_under_a_second(L: Ledger) -> None:
    """A second LC for the same goods (the buyer's other bank): the documents paid under the
    first are taken up and not presented again; the second LC cannot pay for the trade
    without them either (its required documents)."""
    trade = _trades(L)[0]
    inv = L.get(T, "trade/" + trade)["invoice"]
    bl = next(d for d in L.get(T, "trade/" + trade)["docs"]
              if L.get(T, "doc/" + d)["doc_type"] == "bill_of_lading")
    lc1 = issue(L, trade)
    p1 = L.ok("exporter", T, "present", lc_id=lc1, doc_ids=[inv, bl],
              amount=INVOICE_AMOUNT)["presentation_id"]
    L.ok("bank_c", T, "accept_presentation", presentation_id=p1)
    lc2 = L.ok("bank_b", T, "issue_lc", applicant=L.pk("importer"),
               beneficiary=L.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
               expiry_date="2026-01-31", lc_number="LC-2",
               required_docs=["invoice", "bill_of_lading"])["lc_id"]
    refused(L, "document_in_use", "exporter", "present", lc_id=lc2, doc_ids=[inv, bl],
            amount=INVOICE_AMOUNT)


def _trades(led: Ledger) -> list[str]:
    return sorted(k.decode()[len(T) + len("/trade/"):] for k, _ in
                  led.state.items_with_prefix(f"{T}/trade/".encode()))


def test_held_a_repaid_and_closed_trades_documents_are_not_reused(L: Ledger) -> None:
    trade = _trades(L)[0]
    t = L.get(T, "trade/" + trade)
    L.ok("exporter", T, "repay", financing_id=t["financings"][0], amount=POOL)
    for d in t["docs"]:
        L.ok("exporter", T, "close", doc_id=d)
    assert reg(L, {**INVOICE, **MOVED}).error_code == "duplicate_document"
    assert reg(L, {**INVOICE, "number": "INV/2025/0001-X", **MOVED}
               ).error_code == "suspected_duplicate"
    new = reg(L, {**INVOICE, "number": "INV-2025-901", **MOVED}).result["trade_id"]
    bl = next(d for d in t["docs"] if L.get(T, "doc/" + d)["doc_type"] == "bill_of_lading")
    refused(L, "document_closed", "exporter", "link", trade_id=new, doc_id=bl)


def test_r9_an_agent_bank_registering_for_the_exporter_meets_the_same_rules(L: Ledger) -> None:
    """The complicit bank registering on the exporter's behalf: the renumbered copy to the
    buyer in Cyrillic is suspected (R9-1), the dressed declaration too (decision 153)."""
    L.ok("exporter", T, "appoint_agent", bank=L.pk("bank_b"))
    for fields, code in (({**INVOICE, "number": "CI-2025-001", "buyer": "Глобекс", **MOVED},
                          "suspected_duplicate"),
                         ({**DECLARATION, "declaration_number": "MRN CD/2025/000123"},
                          "suspected_duplicate")):
        doc_type = "invoice" if "number" in fields else "customs_declaration"
        r = L.tx("bank_b", T, "register", doc_type=doc_type, fields=fields,
                 content_hash=h(("agent", doc_type)), on_behalf_of=L.pk("exporter"))
        assert r.error_code == code, (doc_type, r.status, r.error_message)


def test_held_a_bill_of_lading_naming_a_forwarder_as_shipper_is_not_the_exporters(
        L: Ledger) -> None:
    refused(L, "not_document_party", "exporter", "register", doc_type="bill_of_lading",
            fields={**BILL_OF_LADING, "bl_number": "MAEU-778900",
                    "shipper": "Speedy Forwarding Ltd"}, content_hash=h("fwd"))


def test_held_a_part_shipment_under_two_bills_is_one_trade_financed_once() -> None:
    """Honest trade: one invoice shipped under two B/Ls joins one trade, financed once."""
    led = trade_ledger()
    ids = open_trade(led)
    register(led, "bill_of_lading", {**BILL_OF_LADING, "bl_number": "MAEU-779100",
                                      "vessel": "Maersk Kowloon"}, trade_id=ids["trade"])
    finance(led, "bank_a", POOL, trade_id=ids["trade"])
    refused(led, "already_financed", "bank_b", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date="2026-02-28")


def test_held_a_sale_shipped_in_two_parts_finances_each_part_once() -> None:
    """Honest trade: a sale shipped in two parts, each with its own declaration, is two part
    invoices ("/1", "/2": the second near the first in amount and date, so declared distinct)
    in two trades, each financed up to its part; the whole invoice after them is suspected."""
    led = trade_ledger()
    half = INVOICE_AMOUNT // 2
    trades = []
    for i, extra in enumerate(({}, {"declare_distinct": "the second part shipment"})):
        trade = register(led, "invoice", {**INVOICE, "number": f"INV-2025-001/{i + 1}",
                                          "amount": half}, **extra)["trade_id"]
        decl = register(led, "customs_declaration", {
            **DECLARATION, "declaration_number": f"CD/2025/00012{3 + i}", "amount": half},
            trade_id=trade)["doc_id"]
        led.ok("customs", T, "attest", doc_id=decl, result="match", declared_amount=half)
        trades.append(trade)
    for bank, t in zip(("bank_a", "bank_b"), trades, strict=True):  # both read the note
        led.ok(bank, T, "request_financing", trade_id=t, amount=half, currency="USD",
               maturity_date="2026-02-28", acknowledge_distinct=True)
    for t in trades:
        refused(led, "already_financed", "bank_c", "request_financing", trade_id=t, amount=1,
                currency="USD", maturity_date="2026-02-28", acknowledge_distinct=True)
    assert reg(led, {**INVOICE, "issue_date": "2025-12-20"}).error_code == "suspected_duplicate"


def test_held_the_issuing_bank_discounts_its_own_undertaking_from_the_pool() -> None:
    """The issuing bank itself discounting its accepted undertaking: a financing from the
    pool, repaid to itself at maturity; nothing more for the exporter."""
    led = trade_ledger()
    ids = open_trade(led)
    lc = issue(led, ids["trade"], usance_days=30)
    pres = led.ok("exporter", T, "present", lc_id=lc,
                  doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                  amount=INVOICE_AMOUNT)["presentation_id"]
    due = led.ok("bank_c", T, "accept_presentation", presentation_id=pres)["due_ms"]
    e0, c0 = led.balance("exporter", "USD"), led.balance("bank_c", "USD")
    finance(led, "bank_c", POOL, trade_id=ids["trade"])
    refused(led, "already_financed", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date="2026-02-28")
    led.now_ms = due
    led.ok("bank_c", T, "pay_deferred", presentation_id=pres)
    assert led.balance("exporter", "USD") - e0 == INVOICE_AMOUNT
    assert c0 - led.balance("bank_c", "USD") == INVOICE_AMOUNT


def test_held_a_second_identity_under_the_same_legal_name_is_the_same_party(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter's second registered identity, its legal name in another legal form: the
    same seller, exporter and shipper to every identity and core."""
    monkeypatch.setitem(testing.LEGAL_NAMES, "exporter2", "ACME Exports Limited")
    led = trade_ledger()
    finance(led, "bank_a", POOL, trade_id=open_trade(led)["trade"])
    for doc_type, fields in (
            ("invoice", {**INVOICE, "seller": "ACME Exports Limited", "number": "CI-2025-001",
                         **MOVED}),
            ("customs_declaration", {**DECLARATION, "exporter": "ACME Exports Limited",
                                     "declaration_number": "MRN CD/2025/000123"}),
            ("bill_of_lading", {**BILL_OF_LADING, "shipper": "ACME Exports Limited",
                                "carrier": "MSCU", "bl_number": "MSCU-778899"})):
        r = led.tx("exporter2", T, "register", doc_type=doc_type, fields=fields,
                   content_hash=h(("second", doc_type)))
        assert r.error_code == "suspected_duplicate", (doc_type, r.status, r.error_message)


def test_held_a_consolidated_bill_of_lading_backs_one_trade() -> None:
    """One B/L covering two sales (a consolidated shipment): it joins one of their trades and
    no other, so it cannot make two trades look shipped."""
    led = trade_ledger()
    a = register(led, "invoice", INVOICE)["trade_id"]
    b = register(led, "invoice", {**INVOICE, "number": "INV-2025-002", "amount": 40_000_00,
                                  "issue_date": "2025-11-05"})["trade_id"]
    bl = register(led, "bill_of_lading", BILL_OF_LADING, trade_id=a)["doc_id"]
    refused(led, "already_linked", "exporter", "link", trade_id=b, doc_id=bl)
    assert reg(led, {**BILL_OF_LADING, "bl_number": "MAEU-778899/2"}, "bill_of_lading",
               trade_id=b).error_code == "suspected_duplicate"
