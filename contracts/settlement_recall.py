"""Recalls and returns of settled transfers: ISO 20022 camt.056, camt.029 and pacs.004 on the
ledger (docs/contracts.md "Recalls and returns"; docs/iso20022.md). Part of the ``settlement``
contract: :func:`recall`, :func:`return_payment` and :func:`reject_recall` are its methods.

A transfer is final. A mistake or a fraud is mended as instant-payment schemes (SEPA SCT Inst,
FedNow, UK FPS) mend it: the payer's side **asks** for the money back (a recall, with an ISO
reason), and the payee's side either **returns** it — a new payment back, linked to the
original, through :func:`contracts.settlement.pay` so freezes, limits, sanctions and
jurisdictions apply — or **answers no** (with an ISO reason). A return needs no recall (an
account closed, a payment not expected), and no recall or return moves more, in all, than the
original transfer.

Which transfer: one booked under a UETR. ``settlement.transfer`` already records
``uetr/<payer>/<uetr>`` for each transfer that carries a UETR (to refuse a payment file sent
twice); that record, written in the same put as before, also holds what a recall must know of
the payment: ``{"tx_id", "height", "time_ms", "to", "currency", "amount"}``. No key and no read
is added per transfer. A transfer without a UETR, or booked before the record held the payment,
cannot be recalled or returned on the ledger (``unknown_payment``, ``not_recallable``).

State (contract ``settlement``):

- ``recall/<original tx id>`` -> the payment's recall-and-return record, written by the first
  recall or return of that payment: ``{"original_tx", "payer", "payee", "currency", "amount",
  "uetr", "height", "time_ms", "returned", "returns", "recalls", "recall"}`` (``height`` and
  ``time_ms``: the original transfer's block) where ``returned`` is the
  total returned (never more than ``amount``), ``returns`` and ``recalls`` count them, and
  ``recall`` is the latest recall (None before any): ``{"recall_id", "by", "reason", "info",
  "case_id", "height", "time_ms", "payee_informed", "status", "answer"}``; ``status`` is ``open``,
  ``returned`` or ``rejected``; ``answer`` the return's or rejection's ``{"tx_id", "by",
  "reason", "height", "time_ms"[, "amount", "info"]}``.

Who may: the payer, or its home bank on its customer's behalf, recalls; the payee, or its home
bank, rejects; **only the payee returns**: a return debits the payee's account, and money leaves
an account only with its holder's signature (decision 50). A fraud recall (``FRAD``) of a
payment to a customer with a home bank is that bank's to handle: the payee is not told (no
event names it, it cannot reject it and reads no recall record: no tipping off, decision 144);
its bank decides what to tell its customer, freezes the account or rejects the recall.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import (
    ContractState,
    TxContext,
    p_amount,
    p_currency,
    p_id,
    p_pubkey,
    p_text,
)
from contracts import governance as gov
from contracts.amounts import said
from contracts.settlement import (
    CONTRACT,
    NAME,
    PAYER_ROLES,
    RECALL_ERROR_CODES,
    RETURN_PURPOSE,
    _p_ref,
    _p_uetr,
    balance,
    pay,
)

DAY_MS = 86_400_000
#: camt.056 cancellation reasons (ExternalCancellationReason1Code) the ledger takes, with the
#: time after the original transfer's block within which a recall may be made: the banks' own
#: errors and fraud 14 days (SCT Inst: 10 banking days), the customer's requests 395 days
#: (SCT Inst: 13 months), both in block time
RECALL_REASONS: dict[str, tuple[str, int]] = {
    "DUPL": ("duplicate payment", 14 * DAY_MS),
    "TECH": ("technical problem", 14 * DAY_MS),
    "FRAD": ("fraudulent origin", 14 * DAY_MS),
    "CUST": ("requested by the customer", 395 * DAY_MS),
    "AC03": ("wrong creditor account", 395 * DAY_MS),
    "AM09": ("wrong amount", 395 * DAY_MS),
}
#: camt.029 negative answers (ExternalPaymentCancellationRejection1Code). NOOR (original not
#: received) has no ledger form: a recall names a payment the ledger booked
REJECT_REASONS: dict[str, str] = {
    "ARDT": "already returned",
    "AC04": "account closed",
    "AM04": "insufficient funds",
    "CUST": "the customer refused",
    "LEGL": "legal decision",
    "NOAS": "no answer from the customer",
}
#: pacs.004 return reasons (ExternalReturnReason1Code)
RETURN_REASONS: dict[str, str] = {
    "FOCR": "following a cancellation request (a recall)",
    "AC03": "invalid creditor account",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AM05": "duplication",
    "BE04": "missing creditor address",
    "FR01": "fraud",
    "MD07": "end customer deceased",
    "MS02": "reason not specified, by the customer",
    "MS03": "reason not specified, by the bank",
}
#: recall reasons a customer payee with a home bank is not told of (no tipping off)
BANK_ONLY_REASONS = frozenset({"FRAD"})

ERROR_CODES = ("forbidden", *RECALL_ERROR_CODES)


def _p_code(codes: Mapping[str, Any], what: str) -> Any:
    def parse(v: Any, name: str) -> str:
        if type(v) is not str or v not in codes:
            raise ContractError(f"{name}: not a {what} the ledger takes (one of "
                                f"{', '.join(sorted(codes))})", "bad_reason")
        return v
    return parse


# ---------------------------------------------------------------------------- the rules


def original_payment(state: ContractState, original_tx: str, payer: str,
                     uetr: str) -> dict[str, Any]:
    """The recall-and-return record of the transfer ``original_tx`` that ``payer`` booked under
    ``uetr``: the stored one, or a new one built from the transfer's UETR record (not stored).

    Raises:
        ContractError: ``unknown_payment`` (no such transfer by that payer under that UETR),
            ``not_recallable`` (its UETR record predates the payment fields).
    """
    rec = state.get(NAME, f"recall/{original_tx}")
    if rec is not None:
        if rec["payer"] != payer or rec["uetr"] != uetr:
            raise ContractError(f"original_tx: {original_tx} is not a transfer by this payer "
                                "under this UETR", "unknown_payment")
        return rec  # type: ignore[no-any-return]
    booked = state.peek(NAME, f"uetr/{payer}/{uetr}")
    if booked is None or booked["tx_id"] != original_tx:
        raise ContractError(f"original_tx: no transfer {original_tx} by this payer under UETR "
                            f"{uetr} (only transfers with a UETR are recalled or returned on "
                            "the ledger)", "unknown_payment")
    if "amount" not in booked:
        raise ContractError(f"original_tx: {original_tx} was booked before the ledger kept "
                            "what a recall needs (payee, amount, time): recall it off the "
                            "ledger", "not_recallable")
    return {"original_tx": original_tx, "payer": payer, "payee": booked["to"],
            "currency": booked["currency"], "amount": booked["amount"], "uetr": uetr,
            "height": booked["height"], "time_ms": booked["time_ms"], "returned": 0,
            "returns": 0, "recalls": 0, "recall": None}


def acts_for(state: ContractState, who: str, holder: str) -> bool:
    """``who`` is ``holder`` or its home bank (:func:`contracts.governance.is_home_bank`)."""
    if who == holder:
        return True
    rec = gov.peek_identity(state, holder)
    return rec is not None and gov.is_home_bank(state, who, rec, holder)


def has_home_bank(ident: Mapping[str, Any] | None) -> bool:
    """A customer that a bank answers for: registered by an admin bank or carrying a bank's
    BIC (the two ways a bank becomes its home bank). Such a payee's recalls are read and
    answered by its bank; a bank, an issuer or an unattached customer answers its own."""
    return (ident is not None and ident.get("role") in gov.CUSTOMER_ROLES
            and bool(ident.get("registered_by") or ident.get("bank")))


def payee_informed(state: ContractState, payee: str, reason: str) -> bool:
    """Whether the payee itself is told of a recall: always, except a fraud recall of a
    payment to a customer with a home bank, which is its bank's to handle (no tipping off: a
    mule told of a fraud recall empties the account before its bank can act)."""
    return reason not in BANK_ONLY_REASONS or not has_home_bank(gov.peek_identity(state, payee))


def check_recall_deadline(rec: Mapping[str, Any], reason: str, now_ms: int) -> int:
    """A recall is made within its reason's window after the original transfer's block
    (:data:`RECALL_REASONS`); returns the deadline (block time, ms).

    Raises:
        ContractError: ``recall_expired``.
    """
    window = RECALL_REASONS[reason][1]
    deadline = int(rec["time_ms"]) + window
    if now_ms > deadline:
        # the deadline as a date a back office reads (UTC, from block time: deterministic), and
        # what is left: a reason with a longer window, else a recall off the ledger
        longer = sorted(c for c, (_, w) in RECALL_REASONS.items() if w > window)
        until = int(rec["time_ms"]) + max((RECALL_REASONS[c][1] for c in longer), default=0)
        left = (f"a recall for {', '.join(longer[:-1])} or {longer[-1]} (a wrong account or "
                f"amount, the customer's request) may still be made until {_utc(until)}; "
                if longer and now_ms <= until else "")
        raise ContractError(f"a {reason} recall is made within {window // DAY_MS} days of the "
                            f"payment: that was until {_utc(deadline)} (block time "
                            f"{deadline} ms); {left}otherwise ask the payee's bank off the "
                            "ledger", "recall_expired")
    return deadline


def _utc(ms: int) -> str:
    """Block time ``ms`` as ``YYYY-MM-DD HH:MM:SS UTC`` (integer arithmetic: the same on every
    node)."""
    days, rest = divmod(ms // 1000, 86_400)
    d = date.fromordinal(date(1970, 1, 1).toordinal() + days)
    return f"{d.isoformat()} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d} UTC"


def check_recallable(rec: Mapping[str, Any]) -> None:
    """One open recall per payment, and none of money already all returned.

    Raises:
        ContractError: ``recall_open``, ``already_returned``.
    """
    if rec["recall"] is not None and rec["recall"]["status"] == "open":
        raise ContractError(f"recall {rec['recall']['recall_id']} of this payment is still "
                            "open", "recall_open")
    if rec["returned"] >= rec["amount"]:
        raise ContractError("this payment was returned in full", "already_returned")


def open_recall(rec: Mapping[str, Any], sender: str) -> dict[str, Any]:
    """The payment's open recall as ``sender`` may answer it; a recall the payee is not told of
    is, to the payee, no recall (the same error, word for word).

    Raises:
        ContractError: ``no_open_recall``.
    """
    r = rec["recall"]
    if (r is None or r["status"] != "open"
            or (sender == rec["payee"] and not r["payee_informed"])):
        raise ContractError(f"no open recall of payment {rec['original_tx']}", "no_open_recall")
    return r  # type: ignore[no-any-return]


def _answer(ctx: TxContext, reason: str, **more: Any) -> dict[str, Any]:
    return {"tx_id": ctx.tx_hex, "by": ctx.sender_hex, "reason": reason, "height": ctx.height,
            "time_ms": ctx.timestamp_ms, **more}


def _recall_event(rec: Mapping[str, Any], r: Mapping[str, Any]) -> dict[str, Any]:
    """A recall event's parties: the payer, the payee only when it is told, and the payee's
    registering bank (a bank that reads only its own events learns of its customer's recalls)."""
    d: dict[str, Any] = {"recall_id": r["recall_id"], "original_tx": rec["original_tx"],
                         "uetr": rec["uetr"], "payer": rec["payer"]}
    if r["payee_informed"]:
        d["payee"] = rec["payee"]
    return d


def _payee_bank(state: ContractState, payee: str) -> dict[str, str]:
    ident = gov.peek_identity(state, payee)
    bank = ident.get("registered_by") if has_home_bank(ident) and ident else None
    return {"payee_bank": bank} if isinstance(bank, str) else {}


# ---------------------------------------------------------------------------- methods


@CONTRACT.method(roles=PAYER_ROLES,
                 params={"original_tx": p_id, "uetr": _p_uetr,
                         "reason": _p_code(RECALL_REASONS, "camt.056 recall reason")},
                 optional={"payer": p_pubkey, "info": p_text(105), "case_id": _p_ref(35)})
def recall(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """camt.056: ask for the money of transfer ``original_tx`` (booked by ``payer``, default the
    sender, under ``uetr``) back, for ``reason``. Signed by the payer or its home bank; within
    the reason's window after the payment; one open recall per payment. Moves no money.
    ``info``: the reason's free text (camt.056 AddtlInf); ``case_id``: the requester's case
    reference (camt.056 Case/Id or Assgnmt/Id), echoed into the camt.029 that answers it."""
    payer = gov.identity_id(state, args.get("payer", ctx.sender_hex))
    reason = args["reason"]
    rec = original_payment(state, args["original_tx"], payer, args["uetr"])
    if not acts_for(state, ctx.sender_hex, payer):
        raise ContractError("only the payer or its home bank recalls a payment", "forbidden")
    check_recallable(rec)
    check_recall_deadline(rec, reason, ctx.timestamp_ms)
    r = {"recall_id": ctx.derive_id(), "by": ctx.sender_hex, "reason": reason,
         "info": args.get("info"), "case_id": args.get("case_id"), "height": ctx.height,
         "time_ms": ctx.timestamp_ms,
         "payee_informed": payee_informed(state, rec["payee"], reason), "status": "open",
         "answer": None}
    rec["recall"] = r
    rec["recalls"] += 1
    state.put(NAME, f"recall/{rec['original_tx']}", rec)
    ev = {**_recall_event(rec, r), "by": ctx.sender_hex, "reason": reason,
          "currency": rec["currency"], "amount": rec["amount"] - rec["returned"],
          **_payee_bank(state, rec["payee"])}
    if r["info"]:
        ev["info"] = r["info"]
    ctx.emit("payment_recalled", ev)
    return {"recall_id": r["recall_id"], "original_tx": rec["original_tx"], "status": "open",
            "currency": rec["currency"], "outstanding": rec["amount"] - rec["returned"]}


@CONTRACT.method(roles=PAYER_ROLES,
                 params={"original_tx": p_id, "payer": p_pubkey, "uetr": _p_uetr,
                         "currency": p_currency, "amount": p_amount,
                         "reason": _p_code(RETURN_REASONS, "pacs.004 return reason")},
                 optional={"return_id": _p_ref(35)})
def return_payment(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """pacs.004: the payee pays ``amount`` of transfer ``original_tx`` back to its payer, through
    :func:`contracts.settlement.pay` (freezes, limits, sanctions, jurisdictions), in the
    original's currency; all returns of a payment together never exceed it. Answers the
    payment's open recall, if any (its status becomes ``returned``). ``return_id``: the
    returning bank's reference (pacs.004 RtrId)."""
    payer = gov.identity_id(state, args["payer"])
    ccy, amount, reason = args["currency"], args["amount"], args["reason"]
    rec = original_payment(state, args["original_tx"], payer, args["uetr"])
    if ctx.sender_hex != rec["payee"]:
        raise ContractError("only the payee returns a payment: money leaves an account only "
                            "with its holder's signature (its home bank may reject a recall)",
                            "forbidden")
    if ccy != rec["currency"]:
        raise ContractError(f"currency: the payment was in {rec['currency']}; a return is in "
                            "the same currency", "wrong_currency")
    left = rec["amount"] - rec["returned"]
    if amount > left:
        raise ContractError(f"amount: {said(state, amount, ccy)} is more than is left to "
                            f"return of this payment: {said(state, left, ccy)} of "
                            f"{said(state, rec['amount'], ccy)}", "over_return")
    refs = {"original_tx": rec["original_tx"], "return_reason": reason, "uetr": rec["uetr"]}
    if "return_id" in args:
        refs["return_id"] = args["return_id"]
    r = rec["recall"]
    answered = r is not None and r["status"] == "open"
    if answered and r["payee_informed"]:
        refs["recall_id"] = r["recall_id"]
    pay(state, ctx, ctx.sender_hex, payer, ccy, amount, RETURN_PURPOSE, refs)
    rec["returned"] += amount
    rec["returns"] += 1
    if answered:
        r["status"] = "returned"
        r["answer"] = _answer(ctx, reason, amount=amount)
    state.put(NAME, f"recall/{rec['original_tx']}", rec)
    out = {"balance": balance(state, ctx.sender_hex, ccy), "original_tx": rec["original_tx"],
           "returned": rec["returned"], "outstanding": rec["amount"] - rec["returned"]}
    if "recall_id" in refs:
        out["recall_id"] = refs["recall_id"]
    return out


@CONTRACT.method(roles=PAYER_ROLES,
                 params={"original_tx": p_id,
                         "reason": _p_code(REJECT_REASONS, "camt.029 rejection reason")},
                 optional={"info": p_text(105), "recall_id": p_id})
def reject_recall(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """camt.029: the payee, or its home bank, answers the open recall of ``original_tx`` no,
    for ``reason``. Moves no money; the payer may recall again within the deadline. With
    ``recall_id``, only that recall (a rejection file processed twice, or written for an older
    recall, must not reject a newer one it never named: ``no_open_recall``, the same words as
    for no recall, since a payee not told of a recall may not learn of it here either)."""
    rec = state.get(NAME, f"recall/{args['original_tx']}")
    if rec is None:
        raise ContractError(f"no open recall of payment {args['original_tx']}",
                            "no_open_recall")
    if not acts_for(state, ctx.sender_hex, rec["payee"]):
        raise ContractError("only the payee or its home bank answers a recall", "forbidden")
    r = open_recall(rec, ctx.sender_hex)
    if "recall_id" in args and args["recall_id"] != r["recall_id"]:
        raise ContractError(f"no open recall of payment {rec['original_tx']}", "no_open_recall")
    r["status"] = "rejected"
    r["answer"] = _answer(ctx, args["reason"], **({"info": args["info"]} if "info" in args
                                                   else {}))
    state.put(NAME, f"recall/{rec['original_tx']}", rec)
    ev = {**_recall_event(rec, r), "by": ctx.sender_hex, "reason": args["reason"]}
    if "info" in args:
        ev["info"] = args["info"]
    ctx.emit("recall_rejected", ev)
    return {"recall_id": r["recall_id"], "original_tx": rec["original_tx"],
            "status": "rejected"}
