"""The trade_documents contract object, its records and the rules that read them.

Every rule is a function named for it; its error code sits next to the sentence it enforces.
Rules read state and raise :class:`ContractError`; they never write.
"""

from __future__ import annotations

import datetime
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import MAX_AMOUNT, Contract, ContractState, TxContext
from contracts import governance as gov
from contracts.amounts import said
from contracts.names import name_skeleton
from contracts.trade.norm import norm_name

NAME = "trade_documents"

DOC = """trade_documents: one trade, one financing pool.

Documents are registered once by what names them (identity fingerprint), grouped into trades
(one shipment), cross-checked when they join one, attested by customs, financed from the trade's
single pool with money that moves through settlement, and paid under letters of credit whose
proceeds repay the financing banks first. See docs/contracts.md for rules, codes and state.
"""

CONTRACT = Contract(NAME, DOC)

ERROR_CODES = (
    "missing_field",
    "bad_field",
    "unknown_field",
    "unknown_currency",
    "unknown_identity",
    "not_configured",
    "forbidden",
    # documents
    "duplicate_document",
    "suspected_duplicate",
    "bad_container",
    "not_document_party",
    "unknown_document",
    "document_closed",
    "already_verified",
    "outstanding_financing",
    # trades
    "unknown_trade",
    "already_linked",
    "trade_financed",
    "document_mismatch",
    "document_disputed",
    # customs
    "not_a_declaration",
    "already_attested",
    "not_attested",
    # financing
    "not_financeable",
    "currency_mismatch",
    "already_financed",
    "over_financed",
    "distinct_not_acknowledged",
    "insufficient_funds",
    "unknown_financing",
    "repaid",
    "over_repaid",
    "not_overdue",
    # letters of credit
    "duplicate_lc",
    "unknown_lc",
    "lc_expired",
    "lc_not_open",
    "amount_exceeds_lc",
    "missing_documents",
    "document_in_use",
    "unknown_presentation",
    "presentation_closed",
    "not_due",
    "no_amendment",
    "amendment_number",
    "amendment_changed",
    "too_many_amendments",
    "amount_changed",
    "lc_number_mismatch",
    "consent_required",
    "lc_in_use",
    "refusal_too_late",
    "duplicate_reference",
    "not_held",
    "no_waiver",
    "already_waived",
    "hold_lapsed",
    # guarantees
    "unknown_guarantee",
    "unknown_demand",
    "duplicate_guarantee",
    "guarantee_expired",
    "guarantee_closed",
    "guarantee_in_use",
    "amount_exceeds_guarantee",
    "statement_required",
    "demand_closed",
    "not_extend_or_pay",
    "demand_suspended",
    "too_many_demands",
    "amendment_binding",
)

#: Why a document is disputed (``doc["disputed"]["reason"]``), as the ``document_disputed``
#: refusal and ``chainfin trade show`` say it (decisions 123 and 141).
DISPUTE_REASONS = {
    "lc_issued_to_another_beneficiary": "its letter of credit was issued to another beneficiary",
    "not_declarant": "customs attested that its registrant is not the declarant of record",
}

DAY_MS = 86_400_000
BPS = 10_000  # basis points in one


# ---------------------------------------------------------------------------- parameters

DEFAULT_PARAMS: dict[str, Any] = {"max_advance_rate_bps": BPS, "document_tolerance_bps": 500,
                                  "financing_requires_attestation": False,
                                  "bill_of_lading_requires_containers": False}


def params(state: ContractState) -> dict[str, Any]:
    """The consortium's trade-finance parameters (genesis writes ``governance/params``)."""
    stored = state.get(gov.NAME, "params") or {}
    return {k: stored.get(k, v) for k, v in DEFAULT_PARAMS.items()}


# ---------------------------------------------------------------------------- time


def end_of_day_ms(iso_date: str) -> int:
    """Block time (ms since 1970 UTC) at which ``iso_date`` (YYYY-MM-DD) has passed: midnight UTC
    that ends it. A maturity or expiry date is good through its whole day."""
    d = datetime.date.fromisoformat(iso_date)
    return (d.toordinal() + 1 - datetime.date(1970, 1, 1).toordinal()) * DAY_MS


#: UCP 600 art. 14 b: an issuing bank has at most five banking days following the day of
#: presentation to examine it; art. 16 d: a refusal is given by the close of the fifth.
EXAMINATION_BANKING_DAYS = 5
_EPOCH = datetime.date(1970, 1, 1).toordinal()
#: No count of banking days looks further than this many days ahead. Never reached: a
#: calendar's weekend leaves at least four banking days a week and a year holds at most
#: ``governance.MAX_HOLIDAYS`` (64) holidays, so 400 days (parts of at most three years: 192
#: holidays) hold at least 228 - 192 = 36 banking days. It bounds the loop whatever the records.
MAX_SCAN_DAYS = 400


def is_banking_day(day: int) -> bool:
    """Day number ``day`` (days since 1970-01-01 UTC, a Thursday) is a Monday to Friday: the
    banking days of a place with no calendar (:class:`BankingDays`)."""
    return (day + 3) % 7 < 5


class BankingDays:
    """The banking days at one place (UCP 600 art. 2), by a calendar a regulator published on
    the ledger (``governance.set_calendar``; decision 142): a day is a banking day unless it is
    a weekend day or a holiday of that calendar's year. A year with no published list counts
    its weekend only (the weekend of the calendar's latest published year, else Saturday and
    Sunday), and :attr:`weekends_only` says so. With no calendar (``calendar_id`` None, or no
    ``state``): Monday to Friday, no holidays, as before decision 142.

    Each year's record is read once, when a count first reaches it; nothing but the ledger's
    records and the day numbers it is asked about go in (no library calendar, no locale).
    """

    __slots__ = ("calendar_id", "_state", "_years", "weekends_only")

    def __init__(self, state: ContractState | None, calendar_id: str | None) -> None:
        self.calendar_id = calendar_id if state is not None else None
        self._state = state
        self._years: dict[int, tuple[frozenset[int], frozenset[str]]] = {}
        #: a day counted fell in a year without a published holiday list (or no calendar)
        self.weekends_only = self.calendar_id is None

    def _year(self, year: int) -> tuple[frozenset[int], frozenset[str]]:
        """(weekend as ISO weekday numbers, holidays as ISO dates) of ``year``."""
        got = self._years.get(year)
        if got is None:
            assert self._state is not None and self.calendar_id is not None
            rec = gov.calendar_year(self._state, self.calendar_id, year)
            if rec is None:  # no list for the year: its weekend only, and the count says so
                self.weekends_only = True
                got = (frozenset(gov.calendar_weekend(self._state, self.calendar_id)),
                       frozenset())
            else:
                got = (frozenset(rec["weekend"]), frozenset(rec["holidays"]))
            self._years[year] = got
        return got

    def is_banking_day(self, day: int) -> bool:
        """Day number ``day`` (days since 1970-01-01 UTC) is a banking day at this place."""
        if self.calendar_id is None:
            return is_banking_day(day)
        date = datetime.date.fromordinal(_EPOCH + day)
        weekend, holidays = self._year(date.year)
        return date.isoweekday() not in weekend and date.isoformat() not in holidays


#: Monday to Friday, no holidays: the banking days of a place with no calendar.
WEEKDAYS = BankingDays(None, None)


def examination_deadline_ms(presented_ms: int, days: BankingDays = WEEKDAYS) -> int:
    """Block time at which the examination period of a presentation made at ``presented_ms``
    has passed: midnight UTC ending the fifth banking day (of ``days``: the examining bank's
    place) following the (UTC) day of presentation (Monday to Friday: a presentation on a
    Thursday: Fri, Mon, Tue, Wed, Thu; on a Saturday or Sunday: Mon to Fri)."""
    day, left = presented_ms // DAY_MS, EXAMINATION_BANKING_DAYS
    for _ in range(MAX_SCAN_DAYS):
        if not left:
            break
        day += 1
        left -= days.is_banking_day(day)
    return (day + 1) * DAY_MS


def extended_expiry_ms(iso_date: str, days: BankingDays = WEEKDAYS) -> int:
    """Block time at which an expiry date (or last day for presentation) ``iso_date`` has
    passed, extended under UCP 600 art. 29 a: a date on which the bank is closed (not a banking
    day of ``days``) is extended to the first following banking day. Midnight UTC ending it.
    (Art. 29 c: a latest date for shipment is never extended; nothing calls this for one.)"""
    day = end_of_day_ms(iso_date) // DAY_MS - 1
    for _ in range(MAX_SCAN_DAYS):
        if days.is_banking_day(day):
            break
        day += 1
    return (day + 1) * DAY_MS


def last_day(deadline_ms: int) -> str:
    """The UTC date (YYYY-MM-DD) that ends at ``deadline_ms`` (a midnight from
    :func:`end_of_day_ms` or :func:`examination_deadline_ms`)."""
    return datetime.date.fromordinal(_EPOCH + deadline_ms // DAY_MS - 1).isoformat()


# ---------------------------------------------------------------------------- records


def _record(state: ContractState, prefix: str, record_id: str, code: str,
            what: str) -> dict[str, Any]:
    """The record at ``prefix + record_id``, or ``ContractError(code)`` naming ``what``."""
    r = state.get(NAME, prefix + record_id)
    if r is None:
        raise ContractError(f"no {what} {record_id}", code)
    return r  # type: ignore[no-any-return]


def get_doc(state: ContractState, doc_id: str) -> dict[str, Any]:
    return _record(state, "doc/", doc_id, "unknown_document", "document")


def get_trade(state: ContractState, trade_id: str) -> dict[str, Any]:
    return _record(state, "trade/", trade_id, "unknown_trade", "trade")


def get_financing(state: ContractState, financing_id: str) -> dict[str, Any]:
    return _record(state, "fin/", financing_id, "unknown_financing", "financing")


def get_lc(state: ContractState, lc_id: str) -> dict[str, Any]:
    return _record(state, "lc/", lc_id, "unknown_lc", "letter of credit")


def get_presentation(state: ContractState, presentation_id: str) -> dict[str, Any]:
    return _record(state, "pres/", presentation_id, "unknown_presentation", "presentation")


def legal_name(state: ContractState, pubkey_hex: str) -> str:
    """The normalised name documents carry for an identity: its ``legal_name``, else its
    governance ``name``."""
    ident = gov.require_identity(state, pubkey_hex)
    return norm_name(ident.get("legal_name") or ident["name"], "legal_name")


# ---------------------------------------------------------------------------- the rules


def same_name(stored: str, name: str) -> bool:
    """Two normalised names (:func:`contracts.names.name_skeleton`) name one party, the stored
    one perhaps normalised before a change of the skeleton's rules (decision 153 dropped more
    legal forms and "and"/"the"): a skeleton of a skeleton is the skeleton under today's rules,
    so a trade opened before an upgrade still takes its documents and its LCs after it."""
    return stored == name or name_skeleton(stored) == name_skeleton(name)


def check_document_party(state: ContractState, ctx: TxContext, doc_type: str,
                         party_name: str, on_behalf_of: str | None) -> str:
    """An identity registers only documents naming itself as seller / exporter / shipper /
    beneficiary, or, as a bank, those of an exporter that named it as its agent. Returns the
    document's owner (the party).

    Raises:
        ContractError: ``not_document_party``.
    """
    owner = ctx.sender_hex
    if on_behalf_of is not None:
        if state.get(NAME, f"agent/{on_behalf_of}/{ctx.sender_hex}") is None:
            raise ContractError("this bank is not an agent of that party", "not_document_party")
        owner = on_behalf_of
    elif ctx.role != "exporter":
        raise ContractError("a bank registers documents only on_behalf_of the exporter that "
                            "named it as agent", "not_document_party")
    if legal_name(state, owner) != party_name:
        raise ContractError(f"the {doc_type} names another party than the registrant",
                            "not_document_party")
    return owner


def within_tolerance(amount: int, reference: int, tolerance_bps: int) -> bool:
    """|amount - reference| <= reference x tolerance (exact integer comparison, no rounding)."""
    return abs(amount - reference) * BPS <= reference * tolerance_bps


def cross_check(state: ContractState, trade: dict[str, Any], doc: dict[str, Any]) -> None:
    """A document joining a trade names the trade's parties and currency, and a declaration's
    amount is within the consortium tolerance of the invoice.

    Raises:
        ContractError: ``document_mismatch`` naming every field that disagrees.
    """
    f, bad = doc["fields"], []
    dt = doc["doc_type"]
    if dt == "customs_declaration":
        if not same_name(trade["seller"], f["exporter"]):
            bad.append("exporter")
        if f["currency"] != trade["currency"]:
            bad.append("currency")
        elif not within_tolerance(f["amount"], trade["amount"],
                                  params(state)["document_tolerance_bps"]):
            bad.append("amount")
    elif dt == "bill_of_lading":
        if not same_name(trade["seller"], f["shipper"]):
            bad.append("shipper")
    elif dt in ("packing_list", "certificate_of_origin"):
        if not same_name(trade["seller"], f["exporter"]):
            bad.append("exporter")
    elif dt == "letter_of_credit":
        if not same_name(trade["seller"], f["beneficiary"]):
            bad.append("beneficiary")
        if not same_name(trade["buyer"], f["applicant"]):
            bad.append("applicant")
        if f["currency"] != trade["currency"]:
            bad.append("currency")
    if bad:
        raise ContractError(f"the {dt} disagrees with the trade's invoice on: {', '.join(bad)}",
                            "document_mismatch")


def check_lc_parties(state: ContractState, lc: dict[str, Any], trade: dict[str, Any]) -> None:
    """An LC linked to a trade: beneficiary = the seller, applicant = the buyer, same currency.

    Raises:
        ContractError: ``document_mismatch`` naming the fields.
    """
    bad = []
    if not same_name(trade["seller"], legal_name(state, lc["beneficiary"])):
        bad.append("beneficiary")
    if not same_name(trade["buyer"], legal_name(state, lc["applicant"])):
        bad.append("applicant")
    if lc["currency"] != trade["currency"]:
        bad.append("currency")
    if bad:
        raise ContractError(f"the letter of credit disagrees with the trade on: "
                            f"{', '.join(bad)}", "document_mismatch")


def live_pool(state: ContractState, trade: dict[str, Any]) -> int:
    """What the trade's documents allow now: the invoice amount, capped by the customs
    declaration (its attested amount once customs attested it, else its own amount), times the
    consortium's maximum advance rate, rounded down (a bank never advances above the rate)."""
    base = trade["amount"]
    if trade["declaration"] is not None:
        decl = get_doc(state, trade["declaration"])
        att = decl["attestation"]
        base = min(base, att["declared_amount"] if att else decl["fields"]["amount"])
    return int(base * params(state)["max_advance_rate_bps"] // BPS)


def pool_of(state: ContractState, trade: dict[str, Any]) -> int:
    """The trade's financing pool. It is fixed by the first financing (money advanced cannot be
    un-advanced by a later, lower attestation); until then it is :func:`live_pool`."""
    fixed = trade.get("pool")
    return live_pool(state, trade) if fixed is None else int(fixed)


def check_attestation(state: ContractState, trade: dict[str, Any]) -> None:
    """Customs must have attested the trade's declaration ``match`` before it is financed
    (when the consortium requires it); a ``mismatch`` attestation always stops financing.

    Raises:
        ContractError: ``not_attested``.
    """
    decl_id = trade["declaration"]
    att = get_doc(state, decl_id)["attestation"] if decl_id is not None else None
    if att is not None and att["result"] != "match":
        raise ContractError("customs attested a mismatch on the trade's declaration",
                            "not_attested")
    if params(state)["financing_requires_attestation"] and att is None:
        raise ContractError("the trade has no customs declaration attested 'match'",
                            "not_attested")


def lc_paid_out(state: ContractState, trade_id: str, trade: dict[str, Any]) -> int:
    """What letters of credit of the trade paid its exporter itself (the part of each paid
    presentation left after the financing banks were repaid, ``financing_id`` None): the
    receivable collected, which no bank may finance afterwards (red-team round 3 of the
    promise, decision 139). Presentations of the trade's LCs made before the LC joined it (no
    trade of their own) count too: the LC is the trade's."""
    paid = 0
    for lc_id in trade["lcs"]:
        lc = state.peek(NAME, "lc/" + lc_id)
        for pid in lc["presentations"] if lc is not None else ():
            pres = state.peek(NAME, "pres/" + pid)
            if pres is None or pres["status"] != "paid" or pres["trade_id"] not in (None,
                                                                                  trade_id):
                continue
            paid += sum(int(p["amount"]) for p in pres["payments"] if p["financing_id"] is None)
    return paid


def check_pool(state: ContractState, trade: dict[str, Any], amount: int,
               trade_id: str | None = None) -> int:
    """All financing of a trade's documents draws from one pool; the total ever financed never
    exceeds it (repayments do not free it: a repaid receivable is gone), nor what the documents
    allow now (a lower attestation after the first financing stops further advances), and what
    the trade's letters of credit already paid the exporter counts as drawn from it (a
    receivable paid is gone too: :func:`lc_paid_out`; given ``trade_id``). Returns what remains
    after ``amount``.

    Raises:
        ContractError: ``already_financed`` (nothing left), ``over_financed`` (not that much).
    """
    paid_out = lc_paid_out(state, trade_id, trade) if trade_id is not None else 0
    remaining = (min(pool_of(state, trade), live_pool(state, trade)) - trade["financed"]
                 - paid_out)
    ccy = trade["currency"]
    paid = (f" ({said(state, paid_out, ccy)} paid to the exporter under its letters of credit)"
            if paid_out else "")
    if remaining <= 0:
        raise ContractError(f"the trade's financing pool is used up{paid}", "already_financed")
    if amount > remaining:
        raise ContractError(f"only {said(state, remaining, ccy)} of the trade's pool remains "
                            f"to finance, not {said(state, amount, ccy)}{paid}", "over_financed")
    return int(remaining - amount)


def lc_ceiling(amount: int, tolerance_bps: int) -> int:
    """The most an LC pays in all: its amount plus the tolerance, rounded down.

    Raises:
        ContractError: ``bad_field`` when that exceeds the largest amount (``MAX_AMOUNT``).
    """
    ceiling = amount + amount * tolerance_bps // BPS
    if ceiling > MAX_AMOUNT:
        raise ContractError("amount with its tolerance exceeds the largest amount", "bad_field")
    return ceiling


# ---------------------------------------------------------------------------- status


def financing_status(fin: dict[str, Any], now_ms: int) -> str:
    """``repaid`` when fully repaid, ``overdue`` once block time passes its maturity unpaid,
    else ``open``."""
    if fin["repaid"] >= fin["amount"]:
        return "repaid"
    return "overdue" if now_ms >= fin["due_ms"] else "open"


def refresh_trade(state: ContractState, trade: dict[str, Any], now_ms: int) -> None:
    """A trade's status follows all its financings: ``overdue`` if one is, ``financed`` while
    any is outstanding, ``repaid`` when all are, ``open`` before the first."""
    statuses = []
    outstanding = 0
    for fid in trade["financings"]:
        fin = get_financing(state, fid)
        statuses.append(financing_status(fin, now_ms))
        outstanding += fin["amount"] - fin["repaid"]
    trade["outstanding"] = outstanding
    if not statuses:
        trade["status"] = "open"
    elif "overdue" in statuses:
        trade["status"] = "overdue"
    elif outstanding:
        trade["status"] = "financed"
    else:
        trade["status"] = "repaid"


def distinct_notes(state: ContractState, trade: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``declare_distinct`` reasons on record for a trade's documents, in either direction
    (this document declared distinct from another, or another from it): shown to every bank
    that finances."""
    notes = []
    for doc_id in trade["docs"]:
        d = get_doc(state, doc_id)
        if d["declared_distinct"] is not None:
            notes.append({"doc_id": doc_id, **d["declared_distinct"]})
        for c in d["distinct_copies"]:
            notes.append({"doc_id": c["doc_id"], "reason": c["reason"], "similar_to": doc_id})
    return notes
