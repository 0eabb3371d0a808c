"""Letters of credit in the shape of ICC UCP 600: issue, amend (effective once the beneficiary
accepts), present, refuse with discrepancies within five banking days or accept (at sight, or
deferred for usance), honour claimed by the beneficiary once the bank let that period pass,
documents of a refusal returned or held for the applicant's waiver (and then honoured or
returned), partial drawings, tolerance, expiry by block time, cancellation with the
beneficiary's consent (for one cancellation: it lapses). Proceeds of a financed trade repay its
financing banks first (assignment of proceeds)."""

from __future__ import annotations

from typing import Any

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
from contracts import risk, risk_goods, settlement
from contracts.amounts import said
from contracts.trade.documents import dispute_document, lc_destinations, trade_goods
from contracts.trade.financing import record_repayment
from contracts.trade.norm import (
    DOC_TYPES,
    KEY_FIELDS,
    fingerprint,
    norm_bic,
    norm_date,
    norm_ref,
    token_fingerprint,
)
from contracts.trade.state import (
    CONTRACT,
    DAY_MS,
    NAME,
    BankingDays,
    check_lc_parties,
    end_of_day_ms,
    examination_deadline_ms,
    extended_expiry_ms,
    get_doc,
    get_financing,
    get_lc,
    get_presentation,
    get_trade,
    last_day,
    lc_ceiling,
    legal_name,
    same_name,
)

#: What an issuing bank may cite when it refuses a presentation (UCP 600 art. 14/16 grounds).
DISCREPANCY_CODES = ("late_presentation", "amount_mismatch", "party_mismatch",
                     "missing_document", "description_mismatch", "inconsistent_documents",
                     "unsigned_document", "other")


#: What the issuing bank does with the documents of a refused presentation (UCP 600 art. 16 c
#: iii; the codes of SWIFT MT734 :77B:): ``HOLD`` holds them pending further instructions from
#: the presenter (a), ``NOTIFY`` holds them until the applicant waives the discrepancies and the
#: bank agrees, or the presenter instructs otherwise (b), ``RETURN`` returns them (c),
#: ``PREVINST`` acts on instructions the presenter gave before (d). The ledger has no record of
#: such instructions: PREVINST frees the documents as RETURN does.
DISPOSALS = ("HOLD", "NOTIFY", "RETURN", "PREVINST")
#: The disposals under which the bank keeps the documents: the presentation is ``held``.
HELD_DISPOSALS = ("HOLD", "NOTIFY")
#: A held refusal lapses this many days of block time after it was made: the applicant can no
#: longer waive, nor the bank honour on a waiver; the documents can only be returned. A bank
#: cannot keep a presentation it refused alive (its documents out of use, its amount reserved
#: under the LC) for ever.
HOLD_DAYS = 30
#: A presenter's reference (SWIFT :21:, 16x): 1 to 16 characters of SWIFT's X set
#: (``chainfin.swift.mt700.X_CHARS``, which a unit test keeps equal).
REFERENCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "/-?:().,'+ ")
REFERENCE_LENGTH = 16


def _doc_type(v: Any, name: str) -> str:
    if type(v) is not str or v not in KEY_FIELDS:
        raise ContractError(f"{name}: document types are {', '.join(DOC_TYPES)}", "bad_field")
    return v


def _bool(v: Any, name: str) -> bool:
    if type(v) is not bool:
        raise ContractError(f"{name} must be true or false", "bad_field")
    return v


def _discrepancy(v: Any, name: str) -> str:
    if v not in DISCREPANCY_CODES:
        raise ContractError(f"{name}: discrepancy codes are {', '.join(DISCREPANCY_CODES)}",
                            "bad_field")
    return str(v)


def _disposal(v: Any, name: str) -> str:
    if v not in DISPOSALS:
        raise ContractError(f"{name}: dispositions of documents are {', '.join(DISPOSALS)}",
                            "bad_field")
    return str(v)


def p_reference(v: Any, name: str) -> str:
    """A presenter's reference as SWIFT carries it in :21: (16x): 1 to 16 characters of the X
    set, not starting or ending with '/' nor holding '//' (SWIFT's rule for references), not
    starting with ':' or '-' (a line so started is a delimiter to SWIFT) nor with or ending in
    a space (a reader strips it).

    Raises:
        ContractError: ``bad_field``.
    """
    if type(v) is not str or not 1 <= len(v) <= REFERENCE_LENGTH:
        raise ContractError(f"{name} must be 1 to {REFERENCE_LENGTH} characters", "bad_field")
    bad = sorted(set(v) - REFERENCE_CHARS)
    if bad:
        raise ContractError(f"{name} has characters outside SWIFT's X set: "
                            f"{' '.join(repr(c) for c in bad)}", "bad_field")
    if v.startswith(("/", ":", "-", " ")) or v.endswith(("/", " ")) or "//" in v:
        raise ContractError(f"{name} must not start with '/', ':', '-' or a space, end with "
                            "'/' or a space, nor contain '//'", "bad_field")
    return v


def reference_key(lc_id: str, reference: str) -> str:
    """The state key of a presenter's reference among an LC's presentations:
    ``presref/<lc_id>/<the reference upper-cased, as hex of its ASCII>`` (references compare
    without case, as SWIFT back offices write them; hex keeps '/', '?' and spaces out of the
    key and of REST paths)."""
    return f"presref/{lc_id}/{reference.upper().encode().hex()}"


#: SWIFT's :26E: Number of Amendment is 3 digits: an LC takes at most 999 proposals.
MAX_AMENDMENT_NUMBER = 999
#: A beneficiary's consent to cancel is for the cancellation it was asked for: it lapses after
#: this many days of block time (decision 138).
CANCEL_CONSENT_DAYS = 30
_TERMS = {"amount": p_amount, "expiry_date": norm_date, "tolerance_bps": p_int(0, 10_000),
          "partial_drawings": _bool, "usance_days": p_int(0, 3650)}


def _require_issuer(lc: dict[str, Any], ctx: TxContext) -> None:
    if lc["issuer"] != ctx.sender_hex:
        raise ContractError("only the issuing bank may do this", "forbidden")


def available(lc: dict[str, Any]) -> int:
    """What the LC can still pay: its amount plus tolerance, less what is drawn or presented."""
    return int(lc_ceiling(lc["amount"], lc["tolerance_bps"]) - lc["drawn"] - lc["reserved"])


def issuing_bank(bank: str) -> str:
    """The issuing bank as an LC's fingerprint names it: its BIC as :func:`norm_bic` gives it
    ("BKCHUS33" is "BKCHUS33XXX", so the 8- and 11-character forms are one bank), the same form
    a copy of the LC registered as a document gets; a bank field that is no BIC, upper-cased."""
    try:
        return norm_bic(bank, "bank")
    except ContractError:
        return bank.upper()


def banking_days(state: ContractState, lc: dict[str, Any]) -> BankingDays:
    """The banking days at the place of the LC's issuing bank, to which the beneficiary presents
    and which examines (UCP 600 art. 2, 14 b, 29 a): the calendar of its place as the ledger
    has it now (``governance.bank_calendar``: a regulator's link, else its BIC's country;
    decision 142)."""
    return BankingDays(state, gov.bank_calendar(state, lc["issuer"]))


def expiry_end_ms(state: ContractState, lc: dict[str, Any]) -> int:
    """Block time at which the LC has expired: the end of its ``expiry_date``, extended to the
    first following banking day at its issuing bank's place when that date is one the bank is
    closed (UCP 600 art. 29 a; :func:`extended_expiry_ms`). An issuing bank whose place the
    ledger does not know (no calendar: no regulator's link, no BIC) keeps the date as written,
    as before decision 142."""
    days = banking_days(state, lc)
    if days.calendar_id is None:
        return int(lc["expiry_ms"])
    return extended_expiry_ms(lc["expiry_date"], days)


def screen_promise(state: ContractState, ctx: TxContext, lc: dict[str, Any]) -> None:
    """A credit given or enlarged (issued; its amount, tolerance or expiry raised, proposed or
    accepted; a deferred payment undertaken) is screened as its payment will be
    (:func:`_settle`): neither its applicant, on whose behalf, nor its beneficiary, to whom,
    frozen (identity, or account in the credit's currency), watched or in a refused
    jurisdiction (:func:`contracts.risk.check_on_behalf`). A freeze forbids making funds
    available, and an undertaking to pay is that (decision 215; guarantees: decision 210).
    The refusal is a payment's: it says neither which party nor why.

    Raises:
        ContractError: ``account_frozen``, ``sanctioned_party``, ``jurisdiction_refused``.
    """
    risk.check_on_behalf(state, ctx, (lc["applicant"], lc["beneficiary"]), lc["currency"])


def enlarges(lc: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Would ``changes`` raise what the credit can pay in all (its amount with its tolerance:
    :func:`lc_ceiling`) or put its expiry date later? Lowering either, a longer usance or
    partial drawings allowed promise no more money (decision 215)."""
    new = {**lc, **changes}
    if lc_ceiling(new["amount"], new["tolerance_bps"]) \
            > lc_ceiling(lc["amount"], lc["tolerance_bps"]):
        return True
    return str(new["expiry_date"]) > str(lc["expiry_date"])


def check_lc_not_duplicate(state: ContractState, fp: str, tfp: str) -> None:
    """An issuing bank issues an LC number once, under either key of the number (separators
    ignored, ``lcfp/``; tokens with leading zeros stripped, ``lcfpt/``).

    Raises:
        ContractError: ``duplicate_lc``.
    """
    if state.get(NAME, "lcfp/" + fp) is not None or state.get(NAME, "lcfpt/" + tfp) is not None:
        raise ContractError("this bank already issued an LC with this number", "duplicate_lc")


def lc_copy(state: ContractState, fp: str, tfp: str) -> tuple[str, dict[str, Any]] | None:
    """The document registered as a copy of an LC (a ``letter_of_credit`` with the same
    issuing bank and number, under either key of the number), as ``(doc_id, doc)``, or None."""
    copy_id = state.get(NAME, "fp/" + fp) or state.get(NAME, "fpt/" + tfp)
    if not isinstance(copy_id, str):
        return None
    copy = get_doc(state, copy_id)
    return (copy_id, copy) if copy["doc_type"] == "letter_of_credit" else None


def dispute_copy(state: ContractState, ctx: TxContext, copy_id: str, copy: dict[str, Any],
                 fp: str, tfp: str) -> None:
    """The issuing bank issued this LC number to another beneficiary than the exporter who
    registered a copy of it first: the copy is disputed (no trade holding it is financed,
    :func:`contracts.trade.financing.check_not_disputed`), it gives the number's keys up so
    the beneficiary can register its own copy, and the supervisors are alerted (the alert names
    the copy, no account: the registrant is not tipped off)."""
    dispute_document(state, ctx, copy_id, copy, "lc_issued_to_another_beneficiary",
                     "lc_copy_disputed", ("fp/" + fp, "fpt/" + tfp))


@CONTRACT.method(roles=("bank",), params={
    "applicant": p_pubkey, "beneficiary": p_pubkey, "amount": p_amount, "currency": p_currency,
    "expiry_date": norm_date, "lc_number": p_text(35)}, optional={
    "tolerance_bps": p_int(0, 10_000), "partial_drawings": _bool,
    "usance_days": p_int(0, 3650), "required_docs": p_list(_doc_type, 6), "trade_id": p_id})
def issue_lc(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The issuing bank (the caller) opens a documentary credit for ``applicant`` in favour of
    ``beneficiary`` (an exporter). It is available through ``expiry_date`` (block time). An LC
    for a trade (``trade_id``, or a copy of it registered in one) is screened with that trade's
    goods against the controlled-goods list: its issuing bank and applicant are the goods'
    destinations (red-team round 8)."""
    ccy = args["currency"]
    gov.require_identity(state, args["applicant"])
    gov.require_identity(state, args["beneficiary"], "exporter")
    # frozen too, not only watched: a credit is money made available (decision 215)
    screen_promise(state, ctx, {"applicant": args["applicant"],
                                "beneficiary": args["beneficiary"], "currency": ccy})
    gov.require_currency(state, ccy)
    tol = args.get("tolerance_bps", 0)
    lc_ceiling(args["amount"], tol)
    expiry_ms = end_of_day_ms(args["expiry_date"])
    if expiry_ms <= ctx.timestamp_ms:
        raise ContractError("expiry_date has already passed", "lc_expired")
    bank = ctx.identity.get("bank") or ctx.sender_hex
    ident = {"issuing_bank": issuing_bank(str(bank)),
             "lc_number": norm_ref(args["lc_number"], "lc_number")}
    fp = fingerprint(ctx.fingerprint_key, "letter_of_credit", ident)
    tfp = token_fingerprint(ctx.fingerprint_key, "letter_of_credit", ident)
    assert tfp is not None
    check_lc_not_duplicate(state, fp, tfp)
    lc_id = ctx.derive_id()
    lc = {"issuer": ctx.sender_hex, "issuing_bank": bank, "applicant": args["applicant"],
          "beneficiary": args["beneficiary"], "amount": args["amount"], "currency": ccy,
          "expiry_date": args["expiry_date"], "expiry_ms": expiry_ms, "tolerance_bps": tol,
          "partial_drawings": args.get("partial_drawings", False),
          "usance_days": args.get("usance_days", 0),
          "required_docs": sorted(set(args.get("required_docs", ["invoice"]))),
          "trade_id": None, "fingerprint": fp, "token_fingerprint": tfp, "status": "open",
          "drawn": 0, "reserved": 0,
          "presentations": [], "amendment": None, "amendments": 0, "cancel_consent": False,
          "height": ctx.height}
    requested = args.get("trade_id")
    copy = lc_copy(state, fp, tfp)
    if copy is not None and copy[1]["owner"] != args["beneficiary"]:
        # someone else registered this number first (red-team r6: it blocked the issue, or
        # steered it to its own trade): the copy neither blocks nor steers; it is disputed
        dispute_copy(state, ctx, *copy, fp, tfp)
        copy = None
    by_copy = None if copy is None else copy[1]["trade_id"]
    if requested is not None and by_copy not in (None, requested):
        raise ContractError("a copy of this LC is registered in another trade",
                            "document_mismatch")
    if (by_copy or requested) is not None and risk_goods.listed(state) is not None:
        # a credit for a trade is a credit for its goods: they meet this LC's issuing bank and
        # applicant now, not only at presentation (red-team round 8)
        trade = get_trade(state, str(by_copy or requested))
        codes, places = trade_goods(state, trade)
        detail = {"trade_id": by_copy or requested, "lc_id": lc_id}
        places += lc_destinations(state, lc)
        risk_goods.screen_goods(state, ctx, codes, places, trade["owner"], detail)
    if by_copy is not None:  # the beneficiary put a copy of this LC in its trade: its consent
        _attach_trade(state, lc_id, lc, by_copy)
    elif requested is not None:
        # the bank alone cannot join a trade (it would read the trade, its documents and the
        # other banks' financings): the LC is for that trade, and joins it when the
        # beneficiary presents under it or registers its copy there (red-team privacy #5)
        check_lc_parties(state, lc, get_trade(state, requested))
        lc["for_trade"] = requested
    state.put(NAME, "lc/" + lc_id, lc)
    state.put(NAME, "lcfp/" + fp, lc_id)
    state.put(NAME, "lcfpt/" + tfp, lc_id)
    ctx.emit("lc_issued", {"lc_id": lc_id, "issuer": ctx.sender_hex,
                           "beneficiary": args["beneficiary"], "amount": args["amount"],
                           "currency": ccy, "expiry_date": args["expiry_date"],
                           "trade_id": lc["trade_id"]})
    return {"lc_id": lc_id}


def _attach_trade(state: ContractState, lc_id: str, lc: dict[str, Any], trade_id: str) -> None:
    trade = get_trade(state, trade_id)
    check_lc_parties(state, lc, trade)
    lc["trade_id"] = trade_id
    if lc_id not in trade["lcs"]:
        trade["lcs"] = sorted([*trade["lcs"], lc_id])
        state.put(NAME, "trade/" + trade_id, trade)


def _p_terms(v: Any, name: str) -> dict[str, Any]:
    d = p_dict(v, name)
    if not d:
        raise ContractError(f"{name} changes nothing", "bad_field")
    out = {}
    for k in sorted(d):
        if k not in _TERMS:
            raise ContractError(f"{name}.{k} is not an amendable term "
                                f"({', '.join(sorted(_TERMS))})", "unknown_field")
        out[k] = _TERMS[k](d[k], f"{name}.{k}")
    return out


@CONTRACT.method(roles=("bank",), params={"lc_id": p_id, "changes": _p_terms},
                 optional={"number": p_int(1, MAX_AMENDMENT_NUMBER),
                           "amount_in_force": p_amount})
def amend_lc(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The issuing bank proposes new terms. Nothing changes until the beneficiary accepts
    (UCP 600 art. 10); a later proposal replaces a pending one. Proposals are numbered 1, 2,
    ... per LC (SWIFT :26E:); ``number``, when given, must be the next one, so a back office
    that sends its amendment twice proposes it once (decision 135)."""
    lc_id = args["lc_id"]
    lc = get_lc(state, lc_id)
    _require_issuer(lc, ctx)
    if lc["status"] != "open":
        raise ContractError(f"the LC is {lc['status']}", "lc_not_open")
    number = proposals(lc) + 1
    if number > MAX_AMENDMENT_NUMBER:
        raise ContractError(f"the LC has had {MAX_AMENDMENT_NUMBER} amendments proposed; a "
                            "credit with more is a new credit", "too_many_amendments")
    if args.get("number", number) != number:
        raise ContractError(f"amendment number {args['number']}: the LC's next amendment is "
                            f"number {number}", "amendment_number")
    if args.get("amount_in_force", lc["amount"]) != lc["amount"]:
        # an MT707's increase or decrease was computed from an amount no longer in force (an
        # amendment was accepted in between): the new amount is not the one the bank meant
        raise ContractError("amount_in_force: the LC's amount changed since the amendment was "
                            "computed; read the LC again", "amount_changed")
    new = {**lc, **args["changes"]}
    lc_ceiling(new["amount"], new["tolerance_bps"])
    if enlarges(lc, args["changes"]):
        screen_promise(state, ctx, lc)
    lc["amendment"] = {"changes": args["changes"], "height": ctx.height, "number": number,
                       "timestamp_ms": ctx.timestamp_ms}
    lc["proposals"] = number
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("lc_amendment_proposed", {"lc_id": lc_id, "changes": args["changes"],
                                       "number": number})
    return {"lc_id": lc_id, "pending": args["changes"], "number": number}


def proposals(lc: dict[str, Any]) -> int:
    """How many amendments the issuing bank has proposed for ``lc`` (accepted or not; an LC
    recorded before decision 135 counts its accepted ones)."""
    return int(lc.get("proposals", lc["amendments"]))


def beneficiarys_lc(state: ContractState, ctx: TxContext, lc_id: str,
                    act: str) -> dict[str, Any]:
    """The LC ``lc_id``, which only its beneficiary may ``act`` on.

    Raises:
        ContractError: ``unknown_lc``, ``forbidden`` (the caller is not the beneficiary).
    """
    lc = get_lc(state, lc_id)
    if lc["beneficiary"] != ctx.sender_hex:
        raise ContractError(f"only the LC's beneficiary {act}", "forbidden")
    return lc


def check_lc_number(ctx: TxContext, lc: dict[str, Any], args: dict[str, Any]) -> None:
    """With ``lc_number`` (the credit number of the message the beneficiary acts on, SWIFT
    :20:), the LC must be that credit of its issuing bank, by the number's fingerprint.

    Raises:
        ContractError: ``lc_number_mismatch``.
    """
    if "lc_number" not in args:
        return
    ident = {"issuing_bank": issuing_bank(str(lc["issuing_bank"])),
             "lc_number": norm_ref(args["lc_number"], "lc_number")}
    if fingerprint(ctx.fingerprint_key, "letter_of_credit", ident) != lc.get("fingerprint"):
        raise ContractError("lc_number: this LC is not that credit of its issuing bank",
                            "lc_number_mismatch")


@CONTRACT.method(roles=("exporter",), params={"lc_id": p_id},
                 optional={"number": p_int(1, MAX_AMENDMENT_NUMBER), "lc_number": p_text(35)})
def accept_amendment(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """The beneficiary accepts the pending amendment: the new terms apply from now. With
    ``number``, only if the pending amendment is still that one: the issuing bank may replace
    a pending amendment at any time, and a beneficiary accepts the terms it read, not whatever
    is pending when its acceptance lands (UCP 600 art. 10; decision 135)."""
    lc_id = args["lc_id"]
    lc = beneficiarys_lc(state, ctx, lc_id, "accepts an amendment")
    check_lc_number(ctx, lc, args)
    if lc["amendment"] is None:
        raise ContractError("the LC has no pending amendment", "no_amendment")
    if lc["status"] != "open":
        raise ContractError(f"the LC is {lc['status']}", "lc_not_open")
    pending = lc["amendment"].get("number", lc["amendments"] + 1)
    if args.get("number", pending) != pending:
        raise ContractError(f"the pending amendment is number {pending}, not "
                            f"{args['number']}: read it before accepting", "amendment_changed")
    changes = lc["amendment"]["changes"]
    if enlarges(lc, changes):  # a party may have been frozen since the proposal
        screen_promise(state, ctx, lc)
    lc.update(changes)
    if "expiry_date" in changes:
        lc["expiry_ms"] = end_of_day_ms(changes["expiry_date"])
    if available(lc) < 0:  # the amounts said (decision 226)
        ccy, used = lc["currency"], int(lc["drawn"]) + int(lc["reserved"])
        ceiling = int(lc_ceiling(lc["amount"], lc["tolerance_bps"]))
        raise ContractError(
            f"the amended amount, {said(state, int(lc['amount']), ccy)}"
            + (f", with its tolerance {said(state, ceiling, ccy)}," if ceiling != lc["amount"]
               else ",")
            + f" is below what is already drawn or presented, {said(state, used, ccy)}",
            "amount_exceeds_lc")
    lc["amendment"] = None
    lc["amendments"] += 1
    void_cancel_consent(ctx, lc_id, lc, "amendment_accepted")
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("lc_amended", {"lc_id": lc_id, "changes": changes, "number": pending})
    return {"lc_id": lc_id, "applied": changes, "number": pending}


def check_presentation_parties(state: ContractState, lc: dict[str, Any],
                               docs: list[tuple[str, dict[str, Any]]]) -> None:
    """Presented documents are the beneficiary's, name the LC's beneficiary as seller/shipper/
    exporter and its applicant as buyer, and are in the LC's currency (UCP 600 art. 14 d).

    Raises:
        ContractError: ``document_mismatch`` naming the documents' fields.
    """
    beneficiary = legal_name(state, lc["beneficiary"])
    applicant = legal_name(state, lc["applicant"])
    bad = []
    for _, d in docs:
        f = d["fields"]
        if d["owner"] != lc["beneficiary"]:
            bad.append(f"{d['doc_type']}.owner")
        for k in ("seller", "shipper", "exporter"):
            if k in f and not same_name(f[k], beneficiary):
                bad.append(f"{d['doc_type']}.{k}")
        if "buyer" in f and not same_name(f["buyer"], applicant):
            bad.append(f"{d['doc_type']}.buyer")
        if "currency" in f and f["currency"] != lc["currency"]:
            bad.append(f"{d['doc_type']}.currency")
    if bad:
        raise ContractError(f"the documents disagree with the letter of credit on: "
                            f"{', '.join(bad)}", "document_mismatch")


def check_reference_unused(state: ContractState, lc_id: str, reference: str) -> None:
    """A presenter's reference names one presentation of an LC, for the LC's life (any case):
    an MT734's :21: then finds it, refused or paid.

    Raises:
        ContractError: ``duplicate_reference``.
    """
    if state.get(NAME, reference_key(lc_id, reference)) is not None:
        raise ContractError(f"reference {reference!r} already names a presentation under this "
                            "LC", "duplicate_reference")


def presented_goods(state: ContractState, lc: dict[str, Any],
                    docs: list[tuple[str, dict[str, Any]]]
                    ) -> tuple[set[str], list[tuple[str, str | None]]]:
    """The goods a drawing is against and where they go: the presented documents' and their
    trade's (or the LC's trade's) ``hs_codes`` and recorded destinations, and the LC's issuing
    bank and applicant (:func:`contracts.trade.documents.lc_destinations`)."""
    trade_ids = {d["trade_id"] for _, d in docs if d["trade_id"] is not None}
    trade_ids.add(lc["trade_id"] or lc.get("for_trade"))
    codes: set[str] = set()
    places: list[tuple[str, str | None]] = []
    for trade_id in sorted(t for t in trade_ids if t is not None):
        c, p = trade_goods(state, get_trade(state, trade_id))
        codes |= c
        places += p
    for _, d in docs:
        codes.update(d["fields"].get("hs_codes", ()))
        places += risk_goods.document_destinations(d.get("port_countries"), d["fields"])
    places += lc_destinations(state, lc)
    return codes, places


def screen_presented_goods(state: ContractState, ctx: TxContext, lc_id: str,
                           lc: dict[str, Any], docs: list[tuple[str, dict[str, Any]]]) -> None:
    """A presentation draws on the credit against goods: the presented documents' ``hs_codes``
    and those of the trade they (or the LC) belong to are screened against the controlled-goods
    list as it stands now, to the destinations they record (ports of discharge, an LC copy's
    issuing bank), the LC's issuing bank's country (the buyer's bank) and its applicant's place
    (the buyer); without codes, to a destination whose entry requires them, refused
    ``hs_codes_required``. The trade's goods count, not only the presented documents': a
    bill of lading presented alone must not carry its invoice's goods past the list (red-team
    round 8). Screened at ``present`` and again when the credit is honoured
    (``accept_presentation``, ``claim_honour``) against the list then. An LC itself names no
    goods on the ledger (the MT700's description of goods stays off chain), so ``issue_lc``
    is not screened by goods (docs/risk.md "Controlled goods").

    Raises:
        ContractError: ``controlled_goods``, ``hs_codes_required`` (the alert is kept, naming
            the beneficiary).
    """
    if risk_goods.listed(state) is None:
        return
    codes, places = presented_goods(state, lc, docs)
    detail = {"lc_id": lc_id}
    risk_goods.require_codes(state, ctx, codes, places, lc["beneficiary"], detail)
    risk_goods.screen_goods(state, ctx, codes, places, lc["beneficiary"], detail)


@CONTRACT.method(roles=("exporter",),
                 params={"lc_id": p_id, "doc_ids": p_list(p_id, 16), "amount": p_amount},
                 optional={"reference": p_reference})
def present(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary presents documents for ``amount`` while the LC is available, under its
    own ``reference`` (the presenting bank's or its own, SWIFT :21:) when given."""
    lc_id, doc_ids, amount = args["lc_id"], args["doc_ids"], args["amount"]
    lc = get_lc(state, lc_id)
    if lc["beneficiary"] != ctx.sender_hex:
        raise ContractError("only the LC's beneficiary may present", "forbidden")
    if lc["status"] != "open":
        raise ContractError(f"the LC is {lc['status']}", "lc_not_open")
    expires_ms = expiry_end_ms(state, lc)
    if ctx.timestamp_ms >= expires_ms:
        extended = last_day(expires_ms)
        raise ContractError(f"the letter of credit expired with {lc['expiry_date']}"
                            + (f", extended to {extended}, the issuing bank's first banking "
                               "day after it (UCP 600 art. 29 a)"
                               if extended != lc["expiry_date"] else ""), "lc_expired")
    if not lc["partial_drawings"] and (lc["drawn"] or lc["reserved"]):
        raise ContractError("the LC allows no partial drawings and is already drawn on",
                            "lc_not_open")
    if amount > available(lc):
        raise ContractError(f"only {said(state, available(lc), lc['currency'])} is available "
                            f"under the LC (tolerance included), not "
                            f"{said(state, amount, lc['currency'])}", "amount_exceeds_lc")
    if len(set(doc_ids)) != len(doc_ids):
        raise ContractError("doc_ids lists a document twice", "bad_field")
    docs = []
    for doc_id in doc_ids:
        d = get_doc(state, doc_id)
        if d["status"] == "closed":
            raise ContractError(f"document {doc_id} is closed", "document_closed")
        if d["presentation_id"] is not None:
            prev = get_presentation(state, d["presentation_id"])
            if prev["status"] == "held":
                raise ContractError(f"document {doc_id} is held by the issuing bank under a "
                                    "refused presentation: have it returned first "
                                    "(return_documents)", "document_in_use")
            if prev["status"] != "refused":
                raise ContractError(f"document {doc_id} is already presented",
                                    "document_in_use")
        docs.append((doc_id, d))
    check_presentation_parties(state, lc, docs)
    screen_presented_goods(state, ctx, lc_id, lc, docs)
    trades = sorted({d["trade_id"] for _, d in docs if d["trade_id"] is not None})
    if len(trades) > 1 or (trades and (lc["trade_id"] or lc.get("for_trade"))
                           not in (None, trades[0])):
        raise ContractError("the documents belong to another trade than the LC's",
                            "document_mismatch")
    missing = sorted(set(lc["required_docs"]) - {d["doc_type"] for _, d in docs})
    if missing:
        raise ContractError(f"required documents missing: {', '.join(missing)}",
                            "missing_documents")
    reference = args.get("reference")
    if reference is not None:
        check_reference_unused(state, lc_id, reference)
    invoiced = sum(d["fields"]["amount"] for _, d in docs if d["doc_type"] == "invoice")
    if invoiced and amount > invoiced:
        raise ContractError(f"the drawing, {said(state, amount, lc['currency'])}, is above the "
                            f"invoices presented, {said(state, invoiced, lc['currency'])}",
                            "document_mismatch")  # the amounts said (decision 226)
    # proceeds follow the trade: the documents', else the LC's own (so documents kept out of
    # a financed trade cannot route its LC's payment around the financing banks)
    trade_id = trades[0] if trades else (lc["trade_id"] or lc.get("for_trade"))
    if trade_id is not None and lc["trade_id"] is None:
        _attach_trade(state, lc_id, lc, trade_id)
    presentation_id = ctx.derive_id()
    for doc_id, d in docs:
        d["presentation_id"] = presentation_id
        state.put(NAME, "doc/" + doc_id, d)
    lc["reserved"] += amount
    lc["presentations"] = [*lc["presentations"], presentation_id]
    void_cancel_consent(ctx, lc_id, lc, "presented")
    state.put(NAME, "lc/" + lc_id, lc)
    # the deadline is counted now, by the calendar as it stands, and recorded: a calendar
    # published or changed later does not move it (decision 142)
    days = banking_days(state, lc)
    deadline = examination_deadline_ms(ctx.timestamp_ms, days)
    counted = {"calendar": days.calendar_id, "weekends_only": days.weekends_only}
    state.put(NAME, "pres/" + presentation_id, {
        "lc_id": lc_id, "doc_ids": sorted(doc_ids), "amount": amount, "trade_id": trade_id,
        "status": "presented", "discrepancies": [], "due_ms": None, "payments": [],
        "examination_deadline_ms": deadline, **counted, "reference": reference,
        "presented_ms": ctx.timestamp_ms, "height": ctx.height})
    if reference is not None:
        # the LC's parties are on the index record so that REST grants it to them as it
        # grants the presentation (node/access.py reads a record's party fields)
        state.put(NAME, reference_key(lc_id, reference), {
            "presentation_id": presentation_id, "lc_id": lc_id, "issuer": lc["issuer"],
            "applicant": lc["applicant"], "beneficiary": lc["beneficiary"]})
    ctx.emit("presented", {"presentation_id": presentation_id, "lc_id": lc_id,
                           "doc_ids": sorted(doc_ids), "amount": amount,
                           "examination_deadline_ms": deadline, **counted,
                           "reference": reference})
    return {"presentation_id": presentation_id, "lc_id": lc_id, "amount": amount,
            "currency": lc["currency"], "examination_deadline_ms": deadline,
            "examine_by": last_day(deadline), **counted, "reference": reference,
            "presented_ms": ctx.timestamp_ms}


def _open_presentation(state: ContractState, ctx: TxContext, presentation_id: str,
                       status: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pres = get_presentation(state, presentation_id)
    lc = get_lc(state, pres["lc_id"])
    _require_issuer(lc, ctx)
    if pres["status"] != status:
        raise ContractError(f"the presentation is {pres['status']}", "presentation_closed")
    return pres, lc


def examination_over(pres: dict[str, Any], now_ms: int) -> bool:
    """The issuing bank's examination period of ``pres`` has passed (UCP 600 art. 14 b): block
    time has reached its ``examination_deadline_ms``. A presentation recorded before decision
    138 has no deadline: its period never passes."""
    deadline = pres.get("examination_deadline_ms")
    return deadline is not None and now_ms >= deadline


def _counted(pres: dict[str, Any]) -> str:
    """How a presentation's deadline was counted, for a message: ``, calendar GB`` (and
    ``weekends only``: a year without a published holiday list, decision 142)."""
    cal = pres.get("calendar")
    if cal is None:
        return ""
    return f", calendar {cal}" + (" (weekends only)" if pres.get("weekends_only") else "")


@CONTRACT.method(roles=("bank",), params={"presentation_id": p_id,
                                          "discrepancies": p_list(_discrepancy, 8)},
                 optional={"disposal": _disposal})
def refuse_presentation(state: ContractState, ctx: TxContext, args: dict[str, Any]
                        ) -> dict[str, Any]:
    """The issuing bank refuses a presentation, citing its discrepancies (UCP 600 art. 16),
    by the close of the fifth banking day following the day of presentation (art. 16 d), and
    says what it does with the documents (``disposal``, art. 16 c iii; default ``RETURN``):
    returned (``RETURN``, ``PREVINST``), they are free to be presented again; held (``HOLD``,
    ``NOTIFY``), the presentation is ``held``: its documents stay under it and its amount
    reserved under the LC until the applicant waives and the bank honours it
    (:func:`waive_discrepancies`, :func:`accept_presentation`) or they are returned
    (:func:`return_documents`), for at most :data:`HOLD_DAYS` days.

    Raises:
        ContractError: ``refusal_too_late`` after that: the bank is precluded from claiming
        that the presentation does not comply (art. 16 f) and must honour it — unless the
        controlled-goods list now refuses the presented goods, which cannot be honoured
        (sanctions law before art. 16 f; red-team round 8).
    """
    presentation_id = args["presentation_id"]
    pres, lc = _open_presentation(state, ctx, presentation_id, "presented")
    if examination_over(pres, ctx.timestamp_ms) and not (
            risk_goods.listed(state) is not None
            and risk_goods.refused(state, *presented_goods(
                state, lc, [(d, get_doc(state, d)) for d in pres["doc_ids"]]))):
        # goods the controlled-goods list refuses now cannot be honoured (_honour): the bank
        # refuses them late rather than leave the presentation stuck (red-team round 8)
        raise ContractError(
            f"the examination period ended with {last_day(pres['examination_deadline_ms'])} "
            f"(UTC, the fifth banking day following the day of presentation{_counted(pres)}): "
            "a refusal is too late and the presentation must be honoured (UCP 600 art. 16 d, "
            "f)",
            "refusal_too_late")
    disposal = args.get("disposal", "RETURN")
    held = disposal in HELD_DISPOSALS
    pres["status"] = "held" if held else "refused"
    pres["discrepancies"] = sorted(set(args["discrepancies"]))
    pres["refused"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms,
                       "disposal": disposal}
    if held:
        # the bound is recorded, so a later change of HOLD_DAYS does not reinterpret it
        pres["refused"]["held_until_ms"] = ctx.timestamp_ms + HOLD_DAYS * DAY_MS
    else:
        lc["reserved"] -= pres["amount"]
        state.put(NAME, "lc/" + pres["lc_id"], lc)
    state.put(NAME, "pres/" + presentation_id, pres)
    ctx.emit("presentation_refused", {"presentation_id": presentation_id,
                                      "lc_id": pres["lc_id"],
                                      "discrepancies": pres["discrepancies"],
                                      "disposal": disposal})
    return {"presentation_id": presentation_id, "status": pres["status"],
            "discrepancies": pres["discrepancies"], "disposal": disposal,
            **({"held_until_ms": pres["refused"]["held_until_ms"]} if held else {})}


def hold_lapsed(pres: dict[str, Any], now_ms: int) -> bool:
    """The issuing bank has held the documents of refused ``pres`` for :data:`HOLD_DAYS`:
    block time has reached its ``refused.held_until_ms``."""
    until = (pres.get("refused") or {}).get("held_until_ms")
    return until is not None and now_ms >= until


def _held(state: ContractState, presentation_id: str) -> dict[str, Any]:
    pres = get_presentation(state, presentation_id)
    if pres["status"] != "held":
        raise ContractError(f"the presentation is {pres['status']}, not refused with its "
                            "documents held (HOLD or NOTIFY)", "not_held")
    return pres


def _check_hold_open(pres: dict[str, Any], now_ms: int) -> None:
    """The refusal's hold has not lapsed.

    Raises:
        ContractError: ``hold_lapsed``.
    """
    if hold_lapsed(pres, now_ms):
        until = pres["refused"]["held_until_ms"]
        raise ContractError(f"the issuing bank held the documents for {HOLD_DAYS} days, until "
                            f"{last_day((until // DAY_MS + 1) * DAY_MS)} (UTC): the refusal "
                            "stands and the documents can only be returned", "hold_lapsed")


@CONTRACT.method(roles=None, params={"presentation_id": p_id})
def waive_discrepancies(state: ContractState, ctx: TxContext, args: dict[str, Any]
                        ) -> dict[str, Any]:
    """The applicant waives the discrepancies of a refused presentation whose documents the
    issuing bank holds (UCP 600 art. 16 b, c iii b). The bank is not bound by it: it may
    honour the presentation (:func:`accept_presentation`) or not.

    Raises:
        ContractError: ``forbidden`` (not the LC's applicant), ``not_held`` (the presentation
        is not a held refusal), ``already_waived``, ``hold_lapsed`` (held for
        :data:`HOLD_DAYS` days).
    """
    presentation_id = args["presentation_id"]
    pres = _held(state, presentation_id)
    lc = get_lc(state, pres["lc_id"])
    if lc["applicant"] != ctx.sender_hex:
        raise ContractError("only the LC's applicant waives discrepancies", "forbidden")
    if pres.get("waiver") is not None:
        raise ContractError("the applicant has waived these discrepancies already",
                            "already_waived")
    _check_hold_open(pres, ctx.timestamp_ms)
    pres["waiver"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms}
    state.put(NAME, "pres/" + presentation_id, pres)
    ctx.emit("discrepancies_waived", {"presentation_id": presentation_id,
                                      "lc_id": pres["lc_id"],
                                      "discrepancies": pres["discrepancies"]})
    return {"presentation_id": presentation_id, "status": "held", "waived": True}


@CONTRACT.method(roles=("exporter", "bank"), params={"presentation_id": p_id})
def return_documents(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """The documents of a held refusal go back to the beneficiary: on its instruction (the
    presenter may instruct at any time before the bank honours: UCP 600 art. 16 c iii a, b),
    or the issuing bank's. The refusal is final: the presentation is ``refused``, its amount
    no longer reserved under the LC, its documents free to be presented again.

    Raises:
        ContractError: ``forbidden`` (neither the LC's beneficiary nor its issuing bank),
        ``not_held``.
    """
    presentation_id = args["presentation_id"]
    pres = _held(state, presentation_id)
    lc = get_lc(state, pres["lc_id"])
    if ctx.sender_hex not in (lc["beneficiary"], lc["issuer"]):
        raise ContractError("only the LC's beneficiary or its issuing bank returns the "
                            "documents", "forbidden")
    by = "beneficiary" if ctx.sender_hex == lc["beneficiary"] else "issuing_bank"
    pres["status"] = "refused"
    pres["returned"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms, "by": by}
    lc["reserved"] -= pres["amount"]
    state.put(NAME, "lc/" + pres["lc_id"], lc)
    state.put(NAME, "pres/" + presentation_id, pres)
    ctx.emit("documents_returned", {"presentation_id": presentation_id,
                                    "lc_id": pres["lc_id"], "by": by})
    return {"presentation_id": presentation_id, "status": "refused", "returned_by": by}


def pay_proceeds(state: ContractState, ctx: TxContext, lc: dict[str, Any],
                 pres: dict[str, Any]) -> list[dict[str, Any]]:
    """Pay a presentation: first the financing banks of its trade, their outstanding, oldest
    financing first; the rest to the beneficiary. All from the issuing bank, in this
    transaction (``insufficient_funds`` refuses it whole)."""
    left, ccy, payments = pres["amount"], lc["currency"], []
    # a presentation made while the LC was in no trade is paid to the trade the LC joined
    # since (its copy registered there): that trade's banks financed against it (decision 139)
    trade_id = pres["trade_id"] or lc["trade_id"]
    pres["trade_id"] = trade_id
    for fid in get_trade(state, trade_id)["financings"] if trade_id is not None else []:
        if not left:
            break
        fin = get_financing(state, fid)
        part = min(fin["amount"] - fin["repaid"], left)
        if part <= 0:
            continue
        settlement.pay(state, ctx, lc["issuer"], fin["bank"], ccy, part, f"lc-assigned:{fid}")
        record_repayment(state, ctx, fid, fin, part, lc["issuer"])
        payments.append({"to": fin["bank"], "amount": part, "financing_id": fid})
        left -= part
    if left:
        settlement.pay(state, ctx, lc["issuer"], lc["beneficiary"], ccy, left,
                       f"lc:{pres['lc_id']}")
        payments.append({"to": lc["beneficiary"], "amount": left, "financing_id": None})
    return payments


def _settle(state: ContractState, ctx: TxContext, presentation_id: str, pres: dict[str, Any],
            lc: dict[str, Any]) -> dict[str, Any]:
    # the applicant is not paid, but an LC honoured for a watched or frozen applicant is a
    # payment on its behalf: re-screened when the credit pays (red-team F8c); so is the
    # beneficiary, whose proceeds may all go to its financing banks (its debt: decision 178)
    risk.check_on_behalf(state, ctx, (lc["applicant"], lc["beneficiary"]), lc["currency"])
    pres["payments"] = pay_proceeds(state, ctx, lc, pres)
    pres["status"] = "paid"
    pres["paid"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms,
                    "tx_id": ctx.tx_hex}
    state.put(NAME, "pres/" + presentation_id, pres)
    ctx.emit("presentation_paid", {"presentation_id": presentation_id, "lc_id": pres["lc_id"],
                                   "amount": pres["amount"], "currency": lc["currency"],
                                   "payments": pres["payments"]})
    return {"presentation_id": presentation_id, "status": "paid",
            "payments": pres["payments"]}


@CONTRACT.method(roles=("bank",), params={"presentation_id": p_id})
def accept_presentation(state: ContractState, ctx: TxContext, args: dict[str, Any]
                        ) -> dict[str, Any]:
    """The issuing bank honours a complying presentation: it pays at sight, or for a usance LC
    undertakes to pay ``usance_days`` later (``pay_deferred``). Also after its examination
    period: accepting late is always open to the bank. A refusal whose documents it holds
    (``held``) it honours once the applicant has waived the discrepancies (UCP 600 art. 16 b),
    within :data:`HOLD_DAYS` days of the refusal, exactly as a complying one.

    Raises:
        ContractError: ``presentation_closed`` (neither presented nor held), ``no_waiver`` (held
        without the applicant's waiver), ``hold_lapsed``, ``insufficient_funds``.
    """
    presentation_id = args["presentation_id"]
    pres = get_presentation(state, presentation_id)
    if pres["status"] == "held":
        pres, lc = _open_presentation(state, ctx, presentation_id, "held")
        if pres.get("waiver") is None:
            raise ContractError("the documents are held under a refusal: the applicant has "
                                "not waived its discrepancies (waive_discrepancies)",
                                "no_waiver")
        _check_hold_open(pres, ctx.timestamp_ms)
    else:
        pres, lc = _open_presentation(state, ctx, presentation_id, "presented")
    return _honour(state, ctx, presentation_id, pres, lc)


@CONTRACT.method(roles=("exporter",), params={"presentation_id": p_id})
def claim_honour(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary of a presentation the issuing bank neither refused nor accepted by its
    examination deadline has it honoured, as :func:`accept_presentation` would (at sight or
    deferred, the financing banks paid first, from the issuing bank's balance): the bank is
    precluded from claiming that the documents do not comply (UCP 600 art. 16 f).

    Raises:
        ContractError: ``forbidden`` (not the LC's beneficiary), ``presentation_closed`` (no
        longer ``presented``), ``not_due`` (the deadline has not passed, or the presentation
        predates deadlines), ``insufficient_funds`` (the bank's balance: nothing changes).
    """
    presentation_id = args["presentation_id"]
    pres = get_presentation(state, presentation_id)
    lc = beneficiarys_lc(state, ctx, pres["lc_id"], "claims honour")
    if pres["status"] != "presented":
        raise ContractError(f"the presentation is {pres['status']}", "presentation_closed")
    deadline = pres.get("examination_deadline_ms")
    if deadline is None:
        raise ContractError("the presentation was made before examination deadlines were "
                            "recorded: only the issuing bank decides it", "not_due")
    if not examination_over(pres, ctx.timestamp_ms):
        raise ContractError(f"the issuing bank may examine the presentation through "
                            f"{last_day(deadline)} (UTC{_counted(pres)})", "not_due")
    pres["claimed"] = {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms}
    ctx.emit("honour_claimed", {"presentation_id": presentation_id, "lc_id": pres["lc_id"],
                                "examination_deadline_ms": deadline})
    return _honour(state, ctx, presentation_id, pres, lc)


def _honour(state: ContractState, ctx: TxContext, presentation_id: str, pres: dict[str, Any],
            lc: dict[str, Any]) -> dict[str, Any]:
    """Honour ``pres`` (status ``presented``, or ``held`` with a waiver: its amount is
    reserved under the LC either way): draw the LC, then pay at sight or record the deferred
    obligation. The presented goods are screened again first, against the controlled-goods
    list as it stands now: goods listed since the presentation are not honoured, by the bank
    nor on the beneficiary's claim (red-team round 8); the bank refuses the presentation."""
    if risk_goods.listed(state) is not None:
        screen_presented_goods(state, ctx, pres["lc_id"], lc,
                               [(d, get_doc(state, d)) for d in pres["doc_ids"]])
    lc["reserved"] -= pres["amount"]
    lc["drawn"] += pres["amount"]
    if not lc["partial_drawings"] or available(lc) == 0:
        lc["status"] = "drawn"
    state.put(NAME, "lc/" + pres["lc_id"], lc)
    if lc["usance_days"] == 0:
        return _settle(state, ctx, presentation_id, pres, lc)
    # the deferred payment undertaking (UCP 600 art. 7 a iii) is a promise to pay: refused
    # for a frozen party as the sight payment is (decision 215)
    screen_promise(state, ctx, lc)
    pres["status"] = "accepted"
    pres["due_ms"] = ctx.timestamp_ms + lc["usance_days"] * DAY_MS
    state.put(NAME, "pres/" + presentation_id, pres)
    ctx.emit("presentation_accepted", {"presentation_id": presentation_id,
                                       "lc_id": pres["lc_id"], "amount": pres["amount"],
                                       "due_ms": pres["due_ms"]})
    return {"presentation_id": presentation_id, "status": "accepted", "due_ms": pres["due_ms"]}


@CONTRACT.method(roles=("bank",), params={"presentation_id": p_id})
def pay_deferred(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The issuing bank pays an accepted usance presentation at or after its maturity."""
    presentation_id = args["presentation_id"]
    pres, lc = _open_presentation(state, ctx, presentation_id, "accepted")
    if ctx.timestamp_ms < pres["due_ms"]:
        raise ContractError("the deferred payment is not due yet", "not_due")
    return _settle(state, ctx, presentation_id, pres, lc)


@CONTRACT.method(roles=("exporter",), params={"lc_id": p_id},
                 optional={"lc_number": p_text(35)})
def consent_cancel(state: ContractState, ctx: TxContext, args: dict[str, Any]
                   ) -> dict[str, Any]:
    """The beneficiary agrees that the issuing bank may cancel the LC (UCP 600 art. 10 a): for
    :data:`CANCEL_CONSENT_DAYS` days of block time, and only until it presents or accepts an
    amendment (:func:`cancel_consent_valid`). Consenting again renews it."""
    lc_id = args["lc_id"]
    lc = beneficiarys_lc(state, ctx, lc_id, "consents")
    check_lc_number(ctx, lc, args)
    until = ctx.timestamp_ms + CANCEL_CONSENT_DAYS * DAY_MS
    lc["cancel_consent"] = True
    lc["cancel_consent_ms"] = ctx.timestamp_ms
    lc["cancel_consent_until_ms"] = until
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("lc_cancel_consent", {"lc_id": lc_id, "until_ms": until})
    return {"lc_id": lc_id, "until_ms": until}


def cancel_consent_valid(lc: dict[str, Any], now_ms: int) -> bool:
    """The beneficiary's consent to cancel still holds: given, not voided by a presentation or
    an accepted amendment since, and less than :data:`CANCEL_CONSENT_DAYS` old. A consent
    recorded before decision 138 (``cancel_consent`` true, no time) has lapsed."""
    until = lc.get("cancel_consent_until_ms")
    return bool(lc["cancel_consent"]) and until is not None and now_ms < until


def void_cancel_consent(ctx: TxContext, lc_id: str, lc: dict[str, Any], reason: str) -> None:
    """The beneficiary acted on the LC as one that goes on (it presented, or accepted an
    amendment): a consent to cancel given before is void (the caller writes ``lc``)."""
    if not lc["cancel_consent"]:
        return
    lc["cancel_consent"] = False
    lc.pop("cancel_consent_ms", None)
    lc.pop("cancel_consent_until_ms", None)
    ctx.emit("lc_cancel_consent_void", {"lc_id": lc_id, "reason": reason})


@CONTRACT.method(roles=("bank",), params={"lc_id": p_id})
def cancel_lc(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The issuing bank cancels an LC: while it is open and unexpired only with the
    beneficiary's consent, still valid (:func:`cancel_consent_valid`); never with a
    presentation pending, documents held under a refusal or a deferred payment unpaid."""
    lc_id = args["lc_id"]
    lc = get_lc(state, lc_id)
    _require_issuer(lc, ctx)
    if lc["status"] == "cancelled":
        raise ContractError("the LC is cancelled", "lc_not_open")
    for pid in lc["presentations"]:
        if get_presentation(state, pid)["status"] in ("presented", "held", "accepted"):
            raise ContractError("a presentation under the LC is pending, held or unpaid",
                                "lc_in_use")
    live = lc["status"] == "open" and ctx.timestamp_ms < expiry_end_ms(state, lc)
    if live and not cancel_consent_valid(lc, ctx.timestamp_ms):
        lapsed = " (its consent lapsed)" if lc["cancel_consent"] else ""
        raise ContractError(f"the beneficiary has not consented to cancel the open LC{lapsed}",
                            "consent_required")
    lc["status"] = "cancelled"
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("lc_cancelled", {"lc_id": lc_id})
    return {"lc_id": lc_id, "status": "cancelled"}
