"""Demand guarantees (ICC URDG 758) and standby letters of credit (ISP98): issue by the
guarantor bank, demand by the beneficiary (with the supporting statement of breach when the
guarantee asks for one, art. 15 a), payment or a single rejection notice listing every
discrepancy within five business days of the guarantor's place (art. 20, 24), extend-or-pay
(art. 23), amendment binding the beneficiary once it accepts and, when it enlarges the
guarantee, the guarantor from its issue until the beneficiary rejects it (art. 11), reduction and
release by the beneficiary (art. 25 a), expiry by date or by event (art. 25 b). A demand is paid through
the settlement path an LC payment takes: the same freezes, sanctions screens and limits.

State: ``gtee/<id>`` the guarantee, ``gdem/<id>`` a demand, ``gtfp/<fingerprint>`` the
guarantor's guarantee number (one guarantee per number). docs/contracts.md "Guarantees".
"""

from __future__ import annotations

import hmac
from typing import Any

from chainfin import codec
from chainfin.errors import ContractError
from chainfin.execution import (
    ContractState,
    TxContext,
    p_amount,
    p_currency,
    p_dict,
    p_id,
    p_int,
    p_list,
    p_pubkey,
    p_text,
)
from contracts import governance as gov
from contracts import risk, settlement
from contracts.amounts import said
from contracts.trade.letters_of_credit import issuing_bank
from contracts.trade.norm import norm_date, norm_ref
from contracts.trade.state import (
    CONTRACT,
    DAY_MS,
    NAME,
    BankingDays,
    end_of_day_ms,
    examination_deadline_ms,
    last_day,
)

#: SWIFT MT760 :22D: Form of Undertaking this ledger holds.
FORMS = ("DGAR", "STBY")
#: What the guarantee secures (MT760 :22K: TEND, PERF, APAY, PAYM, else OTHR).
TYPES = ("bid", "performance", "advance_payment", "payment", "other")
#: What a guarantor may cite in its rejection notice (URDG 758 art. 24 d: every discrepancy).
GUARANTEE_DISCREPANCIES = ("missing_supporting_statement", "statement_not_breach",
                           "missing_document", "inconsistent_data", "demand_after_expiry",
                           "amount_exceeds_available", "other")
#: URDG 758 art. 23 a: the guarantor may suspend payment for at most 30 calendar days.
MAX_SUSPENSION_DAYS = 30
#: What the amendment of a guarantee may change.
AMENDABLE = ("amount", "expiry_date", "expiry_event")
#: Demands still open (their amount reserved under the guarantee).
OPEN_DEMANDS = ("presented", "suspended")
MAX_REDUCTIONS = 24
#: Demands a guarantee takes in its life (URDG 758 art. 17: partial and multiple demands). Each
#: is listed in the guarantee's record, which every later step reads and writes: unbounded, a
#: beneficiary demanding one cent, rejected and again, grew it without end (red-team G11)
MAX_DEMANDS = 100


def _bool(v: Any, name: str) -> bool:
    if type(v) is not bool:
        raise ContractError(f"{name} must be true or false", "bad_field")
    return v


def _choice(options: tuple[str, ...]) -> Any:
    def parse(v: Any, name: str) -> str:
        if v not in options:
            raise ContractError(f"{name}: one of {', '.join(options)}", "bad_field")
        return str(v)
    return parse


def _reduction(v: Any, name: str) -> dict[str, Any]:
    d = p_dict(v, name)
    if set(d) != {"date", "amount"}:
        raise ContractError(f"{name}: must be {{date, amount}}", "bad_field")
    return {"date": norm_date(d["date"], f"{name}.date"),
            "amount": p_amount(d["amount"], f"{name}.amount")}


def _discrepancy(v: Any, name: str) -> dict[str, Any]:
    d = p_dict(v, name)
    if not set(d) <= {"code", "detail"} or "code" not in d:
        raise ContractError(f"{name}: must be {{code, detail?}}", "bad_field")
    out = {"code": _choice(GUARANTEE_DISCREPANCIES)(d["code"], f"{name}.code")}
    if "detail" in d:
        out["detail"] = p_text(200)(d["detail"], f"{name}.detail")
    return out


def _covered(state: ContractState, g: dict[str, Any]) -> str:
    """What an amount in force must cover, said: paid and under open demands."""
    ccy = g["currency"]
    return (f"{said(state, int(g['paid']) + int(g['reserved']), ccy)}: paid "
            f"{said(state, int(g['paid']), ccy)}, under open demands "
            f"{said(state, int(g['reserved']), ccy)}")


# ---------------------------------------------------------------------------- records


def get_guarantee(state: ContractState, guarantee_id: str) -> dict[str, Any]:
    g = state.get(NAME, "gtee/" + guarantee_id)
    if g is None:
        raise ContractError(f"no guarantee {guarantee_id}", "unknown_guarantee")
    return g  # type: ignore[no-any-return]


def get_demand(state: ContractState, demand_id: str) -> dict[str, Any]:
    d = state.get(NAME, "gdem/" + demand_id)
    if d is None:
        raise ContractError(f"no demand {demand_id}", "unknown_demand")
    return d  # type: ignore[no-any-return]


def number_fingerprint(key: bytes, bank: str, number: str) -> str:
    """The key of a guarantor's guarantee number: HMAC over the bank (its BIC as an LC's
    issuing bank is named) and the number normalised as an LC number is (separators and case
    ignored), so one bank issues a number once."""
    ident = [issuing_bank(bank), norm_ref(number, "guarantee_number")]
    return hmac.digest(key, codec.encode(["guarantee", ident]), "sha256").hex()


def _put(state: ContractState, guarantee_id: str, g: dict[str, Any]) -> None:
    state.put(NAME, "gtee/" + guarantee_id, g)


#: the parties every guarantee event names, so that each reads it on ``/v1/events`` and as a
#: party of its transaction: the same four that read the guarantee's state (decision 197). A
#: demand named only its applicant, so its guarantor, who has five business days to examine it,
#: was not told of it (red-team guarantees G9, decision 211)
EVENT_PARTIES = ("guarantor", "applicant", "beneficiary", "advising_bank")


def _emit(ctx: TxContext, name: str, g: dict[str, Any], data: dict[str, Any]) -> None:
    """Emit ``name`` with ``data`` and the guarantee's parties (:data:`EVENT_PARTIES`)."""
    ctx.emit(name, {**data, **{f: g.get(f) for f in EVENT_PARTIES}})


def screen_parties(state: ContractState, ctx: TxContext, g: dict[str, Any]) -> None:
    """An undertaking given or enlarged (issued, its amount raised or its expiry put later) is
    screened as its payment will be: neither its applicant, on whose behalf it is given, nor its
    beneficiary frozen (identity, or account in its currency), watched or in a refused
    jurisdiction (:func:`contracts.risk.check_on_behalf`; red-team guarantees G3, decision 210).

    The guarantor (the signer) and the advising bank, through which the undertaking reaches
    the beneficiary, are screened against the watch list too (red-team round 12, decision 236).

    Raises:
        ContractError: ``account_frozen``, ``sanctioned_party``, ``jurisdiction_refused``.
    """
    risk.check_on_behalf(state, ctx, (g["applicant"], g["beneficiary"]), g["currency"])
    banks = tuple(b for b in (g.get("guarantor"), g.get("advising_bank")) if b)
    if banks:  # (the guarantor as a party too: a beneficiary accepting its amendment signs)
        risk.screen_identities(state, ctx, banks, places=False)


def enlargements(g: dict[str, Any], changes: dict[str, Any], now_ms: int) -> list[str]:
    """The terms of ``changes`` that enlarge the beneficiary's rights, in :data:`AMENDABLE`
    order: an amount above the amount in force, a later expiry date, another expiry event
    (which may come later). Adding a date or an event where there was none only brings the
    expiry nearer (whichever comes first, URDG 758 art. 25 b)."""
    out = []
    if "amount" in changes and changes["amount"] > amount_in_force(g, now_ms):
        out.append("amount")
    if "expiry_date" in changes and g["expiry_date"] is not None \
            and changes["expiry_date"] > g["expiry_date"]:
        out.append("expiry_date")
    if "expiry_event" in changes and g["expiry_event"] not in (None, changes["expiry_event"]):
        out.append("expiry_event")
    return out


def enlarges(g: dict[str, Any], changes: dict[str, Any], now_ms: int) -> bool:
    """Would ``changes`` raise the amount in force, put the expiry date later or change the
    expiry event (:func:`enlargements`)?"""
    return bool(enlargements(g, changes, now_ms))


def check_not_binding(state: ContractState, g: dict[str, Any], now_ms: int, act: str) -> None:
    """The guarantor may not withdraw nor replace (``act``) alone a pending proposal that
    enlarges the beneficiary's rights: URDG 758 art. 11 b binds the guarantor irrevocably to an
    amendment from the time it issues it unless and until the beneficiary rejects it, ISP98
    rule 2.06 once it leaves the issuer's control (decision 219). Judged now, as an acceptance
    now would apply it (:func:`enlargements`). One that enlarges nothing (a lower amount, an
    earlier expiry) may go: the beneficiary loses nothing. Nor is a proposal binding on a
    guarantee that can no longer take its acceptance (expired, released, paid out).

    Raises:
        ContractError: ``amendment_binding``, naming the terms that enlarge.
    """
    pending = g["amendment"]
    if pending is None or expired(g, now_ms) or g["status"] != "issued":
        return
    changes = pending["changes"]
    terms = []
    ccy = g["currency"]
    for term in enlargements(g, changes, now_ms):
        if term == "amount":
            terms.append(f"amount {said(state, changes['amount'], ccy)} above the amount in "
                         f"force, {said(state, amount_in_force(g, now_ms), ccy)}")
        elif term == "expiry_date":
            terms.append(f"expiry date {changes['expiry_date']} after {g['expiry_date']}")
        else:
            terms.append("another expiry event")
    if terms:
        raise ContractError(
            f"proposal {pending['proposal']} enlarges the beneficiary's rights ({'; '.join(terms)}"
            f"): the guarantor is bound by it from its issue unless and until the beneficiary "
            f"rejects it (URDG 758 art. 11 b, ISP98 rule 2.06), so it is not {act} without the "
            "beneficiary, who accepts or rejects it (reject_amendment)", "amendment_binding")


# ---------------------------------------------------------------------------- the rules


def amount_in_force(g: dict[str, Any], now_ms: int) -> int:
    """The guarantee's amount now: its amount, lowered by each scheduled reduction from the
    start (UTC) of its date (URDG 758 art. 13: reductions the guarantee itself provides for)."""
    amount = int(g["amount"])
    for r in g["reductions"]:
        if end_of_day_ms(r["date"]) - DAY_MS <= now_ms:
            amount = min(amount, int(r["amount"]))
    return amount


def available(g: dict[str, Any], now_ms: int) -> int:
    """What a demand may still claim: the amount in force less what was paid and what open
    demands reserve (never below zero)."""
    return max(0, amount_in_force(g, now_ms) - int(g["paid"]) - int(g["reserved"]))


def check_expiry_terms(expiry_date: str | None, expiry_event: str | None, now_ms: int) -> None:
    """A guarantee expires on a date, on an event, or on whichever comes first (URDG 758
    art. 25 b); the ledger holds no open-ended guarantee.

    Raises:
        ContractError: ``bad_field`` (neither), ``guarantee_expired`` (the date has passed).
    """
    if expiry_date is None and expiry_event is None:
        raise ContractError("a guarantee needs an expiry_date, an expiry_event or both",
                            "bad_field")
    if expiry_date is not None and end_of_day_ms(expiry_date) <= now_ms:
        raise ContractError("expiry_date has already passed", "guarantee_expired")


def check_reductions(state: ContractState, reductions: list[dict[str, Any]], amount: int,
                     currency: str, now_ms: int) -> None:
    """A reduction schedule lowers the amount step by step from after the issue date: dates
    rising, amounts falling, each below the guarantee's amount. A reduction dated on or before
    the issue date (UTC) would be in force from the guarantee's first block: issued for one
    amount, in force for another (walk-through 2026-12-07b, decision 218).

    Raises:
        ContractError: ``bad_field``, naming the entry and what is wrong with it.
    """
    issued = last_day(now_ms - now_ms % DAY_MS + DAY_MS)
    prev_date, prev_amount = issued, amount
    for i, r in enumerate(reductions):
        if r["date"] <= issued:
            raise ContractError(f"reductions[{i}].date {r['date']} is not after the issue date "
                                f"{issued} (UTC): it would lower the amount from the first "
                                "block; issue the lower amount instead", "bad_field")
        if r["date"] <= prev_date:
            raise ContractError(f"reductions[{i}].date {r['date']} is not after the one before "
                                f"it, {prev_date}: dates must rise", "bad_field")
        if r["amount"] >= prev_amount:
            before = "the guarantee's amount" if i == 0 else "the reduction before it"
            raise ContractError(f"reductions[{i}].amount {said(state, r['amount'], currency)} "
                                f"is not below {before}, {said(state, prev_amount, currency)}: "
                                "amounts must fall", "bad_field")
        prev_date, prev_amount = r["date"], r["amount"]


def expired(g: dict[str, Any], now_ms: int) -> bool:
    """The guarantee has expired: its expiry date has passed, or its expiry event occurred
    (recorded by :func:`expire_guarantee`)."""
    if g["status"] == "expired":
        return True
    return g["expiry_date"] is not None and now_ms >= end_of_day_ms(g["expiry_date"])


def check_live(g: dict[str, Any], now_ms: int) -> None:
    """A guarantee takes demands while it is ``issued`` and unexpired.

    Raises:
        ContractError: ``guarantee_expired``, ``guarantee_closed`` (released, paid out).
    """
    if expired(g, now_ms):
        when = f" with {g['expiry_date']}" if g["status"] != "expired" else ""
        raise ContractError(f"the guarantee expired{when}: a demand after expiry is not "
                            "honoured (URDG 758 art. 25)", "guarantee_expired")
    if g["status"] != "issued":
        raise ContractError(f"the guarantee is {g['status']}", "guarantee_closed")


def require_party(g: dict[str, Any], ctx: TxContext, field: str, act: str) -> None:
    """Only the guarantee's ``field`` party may ``act``.

    Raises:
        ContractError: ``forbidden``.
    """
    if g[field] != ctx.sender_hex:
        raise ContractError(f"only the guarantee's {field} {act}", "forbidden")


def decision_deadline_ms(dem: dict[str, Any]) -> int:
    """When the guarantor's time to decide a demand ends: the close of the fifth business day
    after the demand (art. 20 a), or the end of a suspension of payment if later (art. 23)."""
    return max(int(dem["examination_deadline_ms"]), int(dem.get("suspended_until_ms") or 0))


def open_demand(state: ContractState, ctx: TxContext, demand_id: str
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The open demand ``demand_id`` and its guarantee, for its guarantor to decide.

    Raises:
        ContractError: ``unknown_demand``, ``forbidden``, ``demand_closed``.
    """
    dem = get_demand(state, demand_id)
    g = get_guarantee(state, dem["guarantee_id"])
    require_party(g, ctx, "guarantor", "decides a demand")
    if dem["status"] not in OPEN_DEMANDS:
        raise ContractError(f"the demand is {dem['status']}", "demand_closed")
    return dem, g


def _close_demand(state: ContractState, ctx: TxContext, demand_id: str, dem: dict[str, Any],
                  g: dict[str, Any], status: str) -> None:
    """The demand is decided (``status``): its amount no longer reserved. ``decided`` names
    the deciding transaction (``tx_id``), as an LC payment's ``paid`` does (decision 146): a
    back office matches the demand to the payment or rejection notice it sent (decision 234)."""
    g["reserved"] -= dem["amount"]
    dem["status"] = status
    dem["decided"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms,
                      "tx_id": ctx.tx_hex}
    state.put(NAME, "gdem/" + demand_id, dem)
    _put(state, dem["guarantee_id"], g)


# ---------------------------------------------------------------------------- methods


@CONTRACT.method(roles=("bank",), params={
    "applicant": p_pubkey, "beneficiary": p_pubkey, "amount": p_amount, "currency": p_currency,
    "form": _choice(FORMS), "guarantee_type": _choice(TYPES), "guarantee_number": p_text(16),
    "underlying_ref": p_text(65)}, optional={
    "expiry_date": norm_date, "expiry_event": p_text(780), "advising_bank": p_pubkey,
    "supporting_statement_required": _bool, "reductions": p_list(_reduction, MAX_REDUCTIONS)})
def issue_guarantee(state: ContractState, ctx: TxContext, args: dict[str, Any]
                    ) -> dict[str, Any]:
    """The guarantor bank (the caller) issues a demand guarantee (DGAR) or a standby (STBY)
    for ``applicant`` in favour of ``beneficiary``."""
    gov.require_identity(state, args["applicant"])
    gov.require_identity(state, args["beneficiary"])
    if args["beneficiary"] in (args["applicant"], ctx.sender_hex):
        # a guarantee for one's own obligation, or a bank's promise to itself, is none: a key
        # given for the wrong party (red-team G10)
        raise ContractError("the beneficiary must be another party than the applicant and the "
                            "guarantor", "bad_field")
    if "advising_bank" in args:
        gov.require_identity(state, args["advising_bank"], "bank")
    gov.require_currency(state, args["currency"])
    # frozen too, not only watched: a guarantee is money made available to its beneficiary on
    # the applicant's behalf, refused at issue as its payment would be (red-team G3)
    screen_parties(state, ctx, args)
    check_expiry_terms(args.get("expiry_date"), args.get("expiry_event"), ctx.timestamp_ms)
    reductions = args.get("reductions", [])
    check_reductions(state, reductions, args["amount"], args["currency"], ctx.timestamp_ms)
    bank = str(ctx.identity.get("bank") or ctx.sender_hex)
    fp = number_fingerprint(ctx.fingerprint_key, bank, args["guarantee_number"])
    if state.get(NAME, "gtfp/" + fp) is not None:
        raise ContractError("this bank already issued a guarantee with this number",
                            "duplicate_guarantee")
    guarantee_id = ctx.derive_id()
    g = {"guarantor": ctx.sender_hex, "issuing_bank": bank, "applicant": args["applicant"],
         "beneficiary": args["beneficiary"], "advising_bank": args.get("advising_bank"),
         "amount": args["amount"], "currency": args["currency"], "form": args["form"],
         "guarantee_type": args["guarantee_type"], "guarantee_number": args["guarantee_number"],
         "underlying_ref": args["underlying_ref"], "expiry_date": args.get("expiry_date"),
         "expiry_event": args.get("expiry_event"),
         "supporting_statement_required": args.get("supporting_statement_required",
                                                   args["form"] == "DGAR"),
         "reductions": reductions, "paid": 0, "reserved": 0, "status": "issued",
         "demands": [], "amendment": None, "amendments": 0, "proposals": 0, "fingerprint": fp,
         "height": ctx.height, "issued_ms": ctx.timestamp_ms}
    _put(state, guarantee_id, g)
    state.put(NAME, "gtfp/" + fp, guarantee_id)
    _emit(ctx, "guarantee_issued", g, {"guarantee_id": guarantee_id, "amount": g["amount"],
                                       "currency": g["currency"], "form": g["form"]})
    return {"guarantee_id": guarantee_id, "status": "issued"}


@CONTRACT.method(roles=None, params={"guarantee_id": p_id, "amount": p_amount}, optional={
    "supporting_statement": p_text(780), "extend_or_pay": norm_date})
def demand(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary demands ``amount`` under the guarantee before it expires, with the
    statement in what respect the applicant is in breach when the guarantee requires one
    (URDG 758 art. 15 a), and with ``extend_or_pay`` (a new expiry date) to ask for an
    extension as the alternative to payment (art. 23)."""
    guarantee_id, amount = args["guarantee_id"], args["amount"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "beneficiary", "makes a demand")
    check_live(g, ctx.timestamp_ms)
    if len(g["demands"]) >= MAX_DEMANDS:
        raise ContractError(f"the guarantee took {MAX_DEMANDS} demands, its most: a further "
                            "claim needs a new guarantee", "too_many_demands")
    if amount > available(g, ctx.timestamp_ms):
        ccy, in_force = g["currency"], amount_in_force(g, ctx.timestamp_ms)
        raise ContractError(f"only {said(state, available(g, ctx.timestamp_ms), ccy)} is "
                            f"available under the guarantee, not {said(state, amount, ccy)}: "
                            f"amount in force {said(state, in_force, ccy)}, of which paid and "
                            f"demanded {_covered(state, g)}", "amount_exceeds_guarantee")
    statement = args.get("supporting_statement", "").strip()
    if g["supporting_statement_required"] and not statement:
        raise ContractError("the guarantee requires a statement in what respect the applicant "
                            "is in breach (URDG 758 art. 15 a)", "statement_required")
    extend = args.get("extend_or_pay")
    if extend is not None and (g["expiry_date"] is None or extend <= g["expiry_date"]):
        raise ContractError("extend_or_pay: the extension asked for must be later than the "
                            "expiry date", "bad_field")
    days = BankingDays(state, gov.bank_calendar(state, g["guarantor"]))
    demand_id = ctx.derive_id()
    dem = {"guarantee_id": guarantee_id, "amount": amount, "supporting_statement": statement,
           "extend_or_pay": extend, "status": "presented", "presented_ms": ctx.timestamp_ms,
           "examination_deadline_ms": examination_deadline_ms(ctx.timestamp_ms, days),
           "height": ctx.height}
    state.put(NAME, "gdem/" + demand_id, dem)
    g["reserved"] += amount
    g["demands"].append(demand_id)
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_demand", g, {
        "guarantee_id": guarantee_id, "demand_id": demand_id, "amount": amount,
        "extend_or_pay": extend, "examination_deadline_ms": dem["examination_deadline_ms"]})
    return {"demand_id": demand_id, "status": "presented",
            "examination_deadline_ms": dem["examination_deadline_ms"]}


def _pay(state: ContractState, ctx: TxContext, demand_id: str, dem: dict[str, Any],
         g: dict[str, Any]) -> dict[str, Any]:
    """Pay a demand from the guarantor to the beneficiary through settlement (freezes,
    sanctions screens and limits as for any payment); the applicant, on whose behalf it is
    paid, screened as for an LC's proceeds."""
    risk.check_on_behalf(state, ctx, (g["applicant"], g["beneficiary"]), g["currency"])
    settlement.pay(state, ctx, g["guarantor"], g["beneficiary"], g["currency"], dem["amount"],
                   f"guarantee:{dem['guarantee_id']}")
    g["paid"] += dem["amount"]
    if amount_in_force(g, ctx.timestamp_ms) - g["paid"] <= 0:
        g["status"] = "paid_out"
    _close_demand(state, ctx, demand_id, dem, g, "paid")
    _emit(ctx, "guarantee_paid", g, {"guarantee_id": dem["guarantee_id"],
                                     "demand_id": demand_id, "amount": dem["amount"],
                                     "currency": g["currency"]})
    return {"demand_id": demand_id, "status": "paid", "paid": g["paid"]}


@CONTRACT.method(roles=("bank",), params={"demand_id": p_id})
def pay_demand(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The guarantor pays a complying demand (also while or after suspending it: art. 23 d)."""
    dem, g = open_demand(state, ctx, args["demand_id"])
    return _pay(state, ctx, args["demand_id"], dem, g)


@CONTRACT.method(roles=None, params={"demand_id": p_id})
def claim_demand_payment(state: ContractState, ctx: TxContext, args: dict[str, Any]
                         ) -> dict[str, Any]:
    """The beneficiary of a demand its guarantor neither paid nor rejected by its deadline
    (:func:`decision_deadline_ms`) has it paid: the guarantor is precluded from claiming that
    the demand does not comply (URDG 758 art. 24 f); after a suspension that ended without an
    extension, payment is due without a further demand (art. 23 d)."""
    demand_id = args["demand_id"]
    dem = get_demand(state, demand_id)
    g = get_guarantee(state, dem["guarantee_id"])
    require_party(g, ctx, "beneficiary", "claims payment of a demand")
    if dem["status"] not in OPEN_DEMANDS:
        raise ContractError(f"the demand is {dem['status']}", "demand_closed")
    if ctx.timestamp_ms < decision_deadline_ms(dem):
        raise ContractError(f"the guarantor may decide the demand through "
                            f"{last_day(decision_deadline_ms(dem))} (UTC)", "not_due")
    return _pay(state, ctx, demand_id, dem, g)


@CONTRACT.method(roles=("bank",), params={
    "demand_id": p_id, "discrepancies": p_list(_discrepancy, 16)})
def reject_demand(state: ContractState, ctx: TxContext, args: dict[str, Any]
                  ) -> dict[str, Any]:
    """The guarantor rejects a demand by one notice listing every discrepancy (URDG 758 art.
    24 d), no later than the close of the fifth business day after the demand (art. 24 e): a
    suspension of payment does not extend it (red-team G5), and a suspended demand, which
    the guarantor suspended as complying (art. 23 a), is extended or paid, never rejected. The
    demand is closed: a later notice cannot add a discrepancy; the beneficiary may demand
    again before expiry."""
    demand_id, items = args["demand_id"], args["discrepancies"]
    dem, g = open_demand(state, ctx, demand_id)
    if not items:
        raise ContractError("a rejection lists at least one discrepancy", "bad_field")
    if dem["status"] == "suspended":
        raise ContractError("a suspended demand was taken as complying (URDG 758 art. 23 a): "
                            "extend the guarantee or pay", "demand_suspended")
    if ctx.timestamp_ms >= dem["examination_deadline_ms"]:
        raise ContractError(f"the time to reject ended with "
                            f"{last_day(dem['examination_deadline_ms'])} (UTC): the guarantor "
                            "is precluded (URDG 758 art. 24 e, f)", "refusal_too_late")
    dem["discrepancies"] = items
    _close_demand(state, ctx, demand_id, dem, g, "rejected")
    _emit(ctx, "guarantee_demand_rejected", g, {"guarantee_id": dem["guarantee_id"],
                                                "demand_id": demand_id,
                                                "discrepancies": items})
    return {"demand_id": demand_id, "status": "rejected", "discrepancies": items}


@CONTRACT.method(roles=("bank",), params={"demand_id": p_id},
                 optional={"days": p_int(1, MAX_SUSPENSION_DAYS)})
def suspend_demand(state: ContractState, ctx: TxContext, args: dict[str, Any]
                   ) -> dict[str, Any]:
    """The guarantor suspends payment of an extend-or-pay demand for ``days`` calendar days
    from the demand (at most 30, URDG 758 art. 23 a) while the applicant considers the
    extension; within its examination period (art. 20 a), never after it: a guarantor silent
    past its deadline is to pay, and the beneficiary may already claim (red-team G6)."""
    demand_id = args["demand_id"]
    dem, g = open_demand(state, ctx, demand_id)
    if dem["extend_or_pay"] is None:
        raise ContractError("only an extend-or-pay demand may be suspended", "not_extend_or_pay")
    if dem["status"] == "suspended":
        raise ContractError("payment of this demand is already suspended", "demand_closed")
    if ctx.timestamp_ms >= dem["examination_deadline_ms"]:
        raise ContractError(f"the time to decide the demand ended with "
                            f"{last_day(dem['examination_deadline_ms'])} (UTC): pay it "
                            "(URDG 758 art. 20, 24 f)", "refusal_too_late")
    dem["status"] = "suspended"
    dem["suspended_until_ms"] = dem["presented_ms"] + args.get(
        "days", MAX_SUSPENSION_DAYS) * DAY_MS
    state.put(NAME, "gdem/" + demand_id, dem)
    _emit(ctx, "guarantee_demand_suspended", g, {"guarantee_id": dem["guarantee_id"],
                                                 "demand_id": demand_id,
                                                 "until_ms": dem["suspended_until_ms"]})
    return {"demand_id": demand_id, "status": "suspended",
            "until_ms": dem["suspended_until_ms"]}


@CONTRACT.method(roles=("bank",), params={"demand_id": p_id})
def extend_guarantee(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """The guarantor grants the extension an extend-or-pay demand asked for: the expiry date
    becomes the one asked for — never earlier than it is: an amendment accepted since may have
    put it later (red-team G12) — and the demand is deemed withdrawn (URDG 758 art. 23 c). The
    parties are screened as for an amendment putting the expiry later (G3)."""
    demand_id = args["demand_id"]
    dem, g = open_demand(state, ctx, demand_id)
    if dem["extend_or_pay"] is None:
        raise ContractError("the demand asks for no extension", "not_extend_or_pay")
    screen_parties(state, ctx, g)
    g["expiry_date"] = max(dem["extend_or_pay"], g["expiry_date"] or "")
    _close_demand(state, ctx, demand_id, dem, g, "withdrawn")
    _emit(ctx, "guarantee_extended", g, {"guarantee_id": dem["guarantee_id"],
                                         "demand_id": demand_id,
                                         "expiry_date": g["expiry_date"]})
    return {"guarantee_id": dem["guarantee_id"], "expiry_date": g["expiry_date"],
            "demand_id": demand_id, "status": "withdrawn"}


def _amendment_changes(v: Any, name: str) -> dict[str, Any]:
    d = p_dict(v, name)
    if not d or not set(d) <= set(AMENDABLE):
        raise ContractError(f"{name}: changes of {', '.join(AMENDABLE)}", "bad_field")
    parse = {"amount": p_amount, "expiry_date": norm_date, "expiry_event": p_text(780)}
    return {k: parse[k](d[k], f"{name}.{k}") for k in sorted(d)}


@CONTRACT.method(roles=("bank",), params={"guarantee_id": p_id, "changes": _amendment_changes})
def amend_guarantee(state: ContractState, ctx: TxContext, args: dict[str, Any]
                    ) -> dict[str, Any]:
    """The guarantor proposes an amendment; it binds the beneficiary only once accepted
    (URDG 758 art. 11 b): until then the guarantee stands as it was. It replaces a pending
    proposal only if that one enlarges nothing: one that enlarges the beneficiary's rights
    binds the guarantor until the beneficiary accepts or rejects it (``amendment_binding``,
    decision 219)."""
    guarantee_id, changes = args["guarantee_id"], args["changes"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "guarantor", "amends the guarantee")
    check_live(g, ctx.timestamp_ms)
    check_not_binding(state, g, ctx.timestamp_ms, "replaced")  # decision 219
    new = {**g, **changes}
    check_expiry_terms(new["expiry_date"], new["expiry_event"], ctx.timestamp_ms)
    if enlarges(g, changes, ctx.timestamp_ms):
        screen_parties(state, ctx, g)
    # every proposal its own number: a proposal replaced by another in the block of its
    # acceptance is not the one accepted (red-team G1)
    g["proposals"] = g.get("proposals", 0) + 1
    g["amendment"] = {"changes": changes, "number": g["amendments"] + 1,
                      "proposal": g["proposals"], "height": ctx.height,
                      "timestamp_ms": ctx.timestamp_ms}
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_amendment_proposed", g, {"guarantee_id": guarantee_id,
                                                   "changes": changes,
                                                   "proposal": g["proposals"]})
    return {"guarantee_id": guarantee_id, "pending": changes,
            "number": g["amendment"]["number"], "proposal": g["proposals"]}


def _require_pending(g: dict[str, Any], proposal: int, doing: str) -> None:
    """The guarantee's pending amendment is proposal ``proposal``, the one the signer read:
    ``no_amendment`` if none is pending (saying how ``proposal`` ended, if known),
    ``amendment_changed`` if another one is."""
    ended = _ended(g, proposal)
    if g["amendment"] is None:
        raise ContractError("the guarantee has no pending amendment (accepted, rejected, "
                            f"withdrawn or never proposed){ended}", "no_amendment")
    pending = g["amendment"].get("proposal")
    if pending != proposal:
        raise ContractError(f"the pending amendment is proposal {pending}, not {proposal}"
                            f"{ended}: read it before {doing}", "amendment_changed")


def _ended(g: dict[str, Any], proposal: int) -> str:
    """How proposal ``proposal`` ended, for a refusal's message ("" if unknown)."""
    if proposal == g.get("rejected_proposal"):
        return f": proposal {proposal} was rejected by the beneficiary"
    if proposal == g.get("withdrawn_proposal"):
        return f": proposal {proposal} was withdrawn by the guarantor"
    return ""


@CONTRACT.method(roles=None, params={"guarantee_id": p_id, "proposal": p_int(1)})
def accept_guarantee_amendment(state: ContractState, ctx: TxContext, args: dict[str, Any]
                               ) -> dict[str, Any]:
    """The beneficiary accepts the pending amendment it read, named by its ``proposal`` number
    (another proposal since is refused ``amendment_changed``): the new terms apply from now. An
    amended amount replaces the amount in force: the scheduled reductions already passed no
    longer lower it, later ones still do."""
    guarantee_id = args["guarantee_id"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "beneficiary", "accepts an amendment")
    _require_pending(g, args["proposal"], "accepting")
    check_live(g, ctx.timestamp_ms)
    changes = g["amendment"]["changes"]
    if enlarges(g, changes, ctx.timestamp_ms):
        screen_parties(state, ctx, g)
    check_expiry_terms(changes.get("expiry_date", g["expiry_date"]),
                       changes.get("expiry_event", g["expiry_event"]), ctx.timestamp_ms)
    g.update(changes)
    if "amount" in changes:  # the reductions already in force were in the amount replaced
        g["reductions"] = [r for r in g["reductions"]
                           if end_of_day_ms(r["date"]) - DAY_MS > ctx.timestamp_ms]
    if amount_in_force(g, ctx.timestamp_ms) < g["paid"] + g["reserved"]:
        raise ContractError(f"the amended amount in force, "
                            f"{said(state, amount_in_force(g, ctx.timestamp_ms), g['currency'])}"
                            f", is below what is paid and demanded, {_covered(state, g)}",
                            "amount_exceeds_guarantee")
    g["amendment"] = None
    g["amendments"] += 1
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_amended", g, {"guarantee_id": guarantee_id, "changes": changes})
    return {"guarantee_id": guarantee_id, "applied": changes}


@CONTRACT.method(roles=("bank",), params={"guarantee_id": p_id, "proposal": p_int(1)})
def withdraw_amendment(state: ContractState, ctx: TxContext, args: dict[str, Any]
                       ) -> dict[str, Any]:
    """The guarantor withdraws its pending amendment, named by its ``proposal`` number, before
    the beneficiary accepts it: the guarantee stands as it was, and an acceptance naming that
    number is refused (``no_amendment``, or ``amendment_changed`` once another is proposed; a
    number is never given again; decision 218). Only a proposal that enlarges nothing: one
    that enlarges the beneficiary's rights binds the guarantor until the beneficiary rejects it
    (URDG 758 art. 11 b, ISP98 rule 2.06: ``amendment_binding``, decision 219)."""
    guarantee_id, proposal = args["guarantee_id"], args["proposal"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "guarantor", "withdraws an amendment")
    _require_pending(g, proposal, "withdrawing")
    check_not_binding(state, g, ctx.timestamp_ms, "withdrawn")
    g["amendment"] = None
    g["withdrawn_proposal"] = proposal  # the last one withdrawn, for an acceptance's message
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_amendment_withdrawn", g, {"guarantee_id": guarantee_id,
                                                    "proposal": proposal})
    return {"guarantee_id": guarantee_id, "proposal": proposal, "status": "withdrawn"}


@CONTRACT.method(roles=None, params={"guarantee_id": p_id, "proposal": p_int(1)})
def reject_amendment(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """The beneficiary rejects the pending amendment, named by its ``proposal`` number (URDG
    758 art. 11 c: at any time until it accepts): the guarantee stands as it was, the guarantor
    is no longer bound by the proposal (art. 11 b) and may propose another; an acceptance naming
    that number is refused (``no_amendment``, or ``amendment_changed`` once another is
    proposed). Decision 219."""
    guarantee_id, proposal = args["guarantee_id"], args["proposal"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "beneficiary", "rejects an amendment")
    _require_pending(g, proposal, "rejecting")
    g["amendment"] = None
    g["rejected_proposal"] = proposal  # the last one rejected, for an acceptance's message
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_amendment_rejected", g, {"guarantee_id": guarantee_id,
                                                   "proposal": proposal})
    return {"guarantee_id": guarantee_id, "proposal": proposal, "status": "rejected"}


@CONTRACT.method(roles=None, params={"guarantee_id": p_id, "amount": p_amount})
def reduce(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary releases part of the guarantee: its amount falls to ``amount``, which
    must be lower and cover what is paid and demanded (URDG 758 art. 25 a iii, partly)."""
    guarantee_id, amount = args["guarantee_id"], args["amount"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "beneficiary", "reduces the guarantee")
    check_live(g, ctx.timestamp_ms)
    in_force, ccy = amount_in_force(g, ctx.timestamp_ms), g["currency"]
    if amount >= in_force:
        raise ContractError(f"amount {said(state, amount, ccy)} is not lower than the amount in "
                            f"force, {said(state, in_force, ccy)}: a reduction lowers it (a "
                            "higher amount is the guarantor's amendment)", "bad_field")
    if amount < g["paid"] + g["reserved"]:
        raise ContractError(f"amount {said(state, amount, ccy)} does not cover what is paid and "
                            f"demanded, {_covered(state, g)}", "bad_field")
    g["amount"] = amount
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_reduced", g, {"guarantee_id": guarantee_id, "amount": amount})
    return {"guarantee_id": guarantee_id, "amount": amount}


@CONTRACT.method(roles=None, params={"guarantee_id": p_id})
def release(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary releases the guarantor from liability (URDG 758 art. 25 a iii): the
    guarantee terminates. Not with a demand still open."""
    guarantee_id = args["guarantee_id"]
    g = get_guarantee(state, guarantee_id)
    require_party(g, ctx, "beneficiary", "releases the guarantee")
    check_live(g, ctx.timestamp_ms)
    if g["reserved"]:
        raise ContractError("a demand under the guarantee is open", "guarantee_in_use")
    g["status"] = "released"
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_released", g, {"guarantee_id": guarantee_id})
    return {"guarantee_id": guarantee_id, "status": "released"}


@CONTRACT.method(roles=None, params={"guarantee_id": p_id},
                 optional={"event_evidence": p_text(128)})
def expire_guarantee(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """Record the guarantee's expiry: any of its parties once the expiry date has passed; the
    guarantor when the expiry event occurred (``event_evidence``: the document presented or
    its own record of it, URDG 758 art. 25 b ii). Not with a demand still open."""
    guarantee_id = args["guarantee_id"]
    g = get_guarantee(state, guarantee_id)
    if ctx.sender_hex not in (g["guarantor"], g["applicant"], g["beneficiary"]):
        raise ContractError("only a party of the guarantee records its expiry", "forbidden")
    if g["status"] != "issued":
        raise ContractError(f"the guarantee is {g['status']}", "guarantee_closed")
    by_event = "event_evidence" in args
    if by_event and (g["expiry_event"] is None or ctx.sender_hex != g["guarantor"]):
        raise ContractError("only the guarantor of a guarantee with an expiry event records "
                            "that the event occurred", "forbidden")
    if not by_event and not expired(g, ctx.timestamp_ms):
        raise ContractError(f"the guarantee runs through {g['expiry_date'] or 'its event'}",
                            "not_due")
    if g["reserved"]:
        raise ContractError("a demand under the guarantee is open", "guarantee_in_use")
    g["status"] = "expired"
    g["expired"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms,
                    "event_evidence": args.get("event_evidence")}
    _put(state, guarantee_id, g)
    _emit(ctx, "guarantee_expired", g, {"guarantee_id": guarantee_id, "by_event": by_event})
    return {"guarantee_id": guarantee_id, "status": "expired"}
