"""settlement: accounts per identity and currency, issue/redeem, transfer, atomic PvP.

Amounts are integer minor units of ISO 4217 currencies known to governance (genesis or
``add_currency``). State (contract ``settlement``):

- ``bal/<holder>/<CCY>`` -> int > 0 (absent means 0). ``holder`` is an identity id (the public
  key it was registered with, in hex; it stays the holder after a key rotation), ``escrow`` for
  the give legs of open PvP offers, or ``seized`` for money seized by regulator order.
- ``supply/<CCY>`` -> ``{"issued": int, "redeemed": int}``.
- ``pvp/<offer_id>`` -> the offer (see :func:`offer_pvp`).
- ``uetr/<debtor>/<uetr>`` -> ``{"tx_id", "height", "time_ms", "to", "currency", "amount"}``: the
  transfer that booked this UETR for this debtor (identity id). A UETR names one payment: a
  second transfer by the same debtor with the same UETR (a payment file sent twice) is refused,
  never booked twice. The payment's payee, amount and time are what a recall or a return of it
  is checked against (:mod:`contracts.settlement_recall`): kept in this one write, so a transfer
  writes no other key for them.
- ``recall/<original tx id>``: a payment's recalls and returns (:mod:`contracts.settlement_recall`).

Invariant (checked by the property tests): for every currency, the sum of all ``bal/*/<CCY>``
(escrow included) equals ``issued - redeemed``, and no balance is negative.

Risk controls (contract ``risk``) run inside every method that moves money: :func:`pay` (and
``transfer``, which is a pay by the sender) checks freezes, the watch list and the payer's limits
and feeds the pattern alerts; ``issue`` screens and checks the recipient; PvP legs are payments.
:func:`move` is the bare ledger step (escrow), refusing only frozen accounts. Money leaves an
account only with its holder's signature, or by a regulator's ``seize``.

PvP: the give leg is **escrowed at offer time** (moved to ``bal/escrow/<CCY>``), so accepting can
only fail on the counterparty's side; ``accept_pvp`` moves both legs in one transaction or neither
moves (a failed accept is rejected and its writes discarded). ``cancel_pvp`` returns the escrow;
an expired offer can no longer be accepted but stays escrowed until its offerer cancels it.
"""

from __future__ import annotations

import re
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import (
    MAX_AMOUNT,
    Contract,
    ContractState,
    TxContext,
    p_amount,
    p_currency,
    p_dict,
    p_id,
    p_pubkey,
    p_text,
    p_time_ms,
)
from contracts import governance as gov
from contracts import risk, travel_rule
from contracts.amounts import said

NAME = "settlement"
CONTRACT = Contract(NAME, __doc__ or "")
ESCROW = "escrow"
SEIZED = "seized"
#: roles that hold and move money (auditors and regulators only read; a regulator seizes)
PAYER_ROLES = ("bank", "exporter", "importer", "issuer")
#: roles that may issue or redeem, if they are the currency's issuer
ISSUER_ROLES = ("bank", "issuer")

#: the codes of recalls and returns (contracts/settlement_recall.py), besides ``forbidden``
RECALL_ERROR_CODES = ("unknown_payment", "not_recallable", "bad_reason", "recall_expired",
                      "recall_open", "already_returned", "no_open_recall", "over_return",
                      "wrong_currency")
ERROR_CODES = (
    "unknown_currency",
    "unknown_identity",
    "insufficient_funds",
    "amount_too_large",
    "forbidden",
    "bad_field",
    "unknown_offer",
    "foreign_offer",
    "offer_expired",
    "offer_closed",
    "limit_exceeded",
    "rate_unavailable",  # a limit in a base currency, no fresh rate (risk_rates, decision 188)
    "sanctioned_party",
    "account_frozen",
    "unknown_field",
    "duplicate_payment",
    "incomplete_originator_info",  # the travel rule, FATF R.16 (contracts/travel_rule.py)
    "not_home_bank",  # a cover payment naming another bank's customer (travel_rule.cover_parties)
    *RECALL_ERROR_CODES,
)


# ---------------------------------------------------------------------------- helpers (also used
# by trade_documents for LC payments)


def balance(state: ContractState, holder: str, currency: str) -> int:
    v = state.peek(NAME, f"bal/{holder}/{currency}")  # an int: nothing to copy
    return 0 if v is None else int(v)


def _set_balance(state: ContractState, holder: str, currency: str, amount: int) -> None:
    if amount:
        state.put(NAME, f"bal/{holder}/{currency}", amount)
    else:
        state.delete(NAME, f"bal/{holder}/{currency}")


def move(state: ContractState, frm: str, to: str, currency: str, amount: int) -> None:
    """Move ``amount`` from ``frm`` to ``to``: the bare ledger step. Limits, screening and
    alerts are :func:`pay`'s; a frozen account neither pays nor is paid even here.

    Raises:
        ContractError: ``account_frozen``, ``insufficient_funds``.
    """
    for holder in (frm, to):
        if holder not in (ESCROW, SEIZED):
            risk.check_not_frozen(state, holder, currency)
    _move(state, frm, to, currency, amount)


def insufficient_funds(state: ContractState, currency: str, have: int,
                       amount: int) -> ContractError:
    """The refusal of a debit above the balance, its amounts said with the currency's decimals
    and in minor units (decision 223)."""
    return ContractError(f"insufficient funds: the {currency} balance, {said(state, have, currency)}"
                         f", is below {said(state, amount, currency)}", "insufficient_funds")


def _move(state: ContractState, frm: str, to: str, currency: str, amount: int) -> None:
    """:func:`move` once the accounts' freezes are checked (by it or by risk.check_payment)."""
    have = balance(state, frm, currency)
    if have < amount:
        raise insufficient_funds(state, currency, have, amount)
    _set_balance(state, frm, currency, have - amount)
    _set_balance(state, to, currency, balance(state, to, currency) + amount)


#: the purpose of a return (``settlement_recall.return_payment``): a payment back of one the
#: payee received, recorded against it, which raises no ``round_trip`` alert (decision 155)
RETURN_PURPOSE = "return"


def pay(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str, amount: int,
        purpose: str, refs: dict[str, str] | None = None) -> None:
    """A payment from ``frm`` to ``to`` with its event (carrying ``refs``, a transfer's ISO
    20022 references, when given); every payment other contracts make (an LC payment, a
    financing disbursement) goes through here so the risk controls apply.

    Raises:
        ContractError: ``unknown_currency``, ``account_frozen``, ``sanctioned_party``,
            ``limit_exceeded``, ``insufficient_funds``.
    """
    gov.require_currency(state, currency)
    risk.check_payment(state, ctx, frm, to, currency, amount, purpose == RETURN_PURPOSE)
    _move(state, frm, to, currency, amount)
    data = {"from": frm, "to": to, "currency": currency, "amount": amount}
    if purpose:
        data["purpose"] = purpose
    if refs:
        data.update(refs)
    ctx.emit("transferred", data, contract=NAME)


def _supply(state: ContractState, currency: str) -> dict[str, int]:
    s = state.get(NAME, f"supply/{currency}")
    return s if s is not None else {"issued": 0, "redeemed": 0}


def _issuer_of(state: ContractState, ctx: TxContext, currency: str) -> None:
    cur = gov.require_currency(state, currency)
    if cur["issuer"] != ctx.sender_hex:
        raise ContractError(f"only the issuer of {currency} may do this", "forbidden")


def _leg(v: Any, name: str) -> dict[str, Any]:
    d = p_dict(v, name)
    if set(d) != {"currency", "amount"}:
        raise ContractError(f"{name}: must be {{currency, amount}}", "bad_field")
    return {"currency": p_currency(d["currency"], f"{name}.currency"),
            "amount": p_amount(d["amount"], f"{name}.amount")}


# ---------------------------------------------------------------------------- methods


@CONTRACT.method(roles=ISSUER_ROLES,
                 params={"currency": p_currency, "to": p_pubkey, "amount": p_amount})
def issue(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Create money: the currency's issuer credits ``to`` (any registered identity that is
    neither frozen nor on the watch list)."""
    ccy, amount = args["currency"], args["amount"]
    _issuer_of(state, ctx, ccy)
    to = gov.identity_id(state, args["to"])
    risk.check_receipt(state, ctx, to, ccy)
    sup = _supply(state, ccy)
    if sup["issued"] + amount > MAX_AMOUNT:
        raise ContractError(f"total {ccy} issued would exceed "
                            f"{said(state, MAX_AMOUNT, ccy)}", "amount_too_large")
    sup["issued"] += amount
    state.put(NAME, f"supply/{ccy}", sup)
    _set_balance(state, to, ccy, balance(state, to, ccy) + amount)
    ctx.emit("issued", {"currency": ccy, "to": to, "amount": amount})
    return {"balance": balance(state, to, ccy)}


@CONTRACT.method(roles=ISSUER_ROLES, params={"currency": p_currency, "amount": p_amount})
def redeem(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Destroy money: the issuer burns its **own** balance. A holder cashing out first pays the
    issuer (its signature is its consent); nobody debits another holder's account."""
    ccy, amount = args["currency"], args["amount"]
    _issuer_of(state, ctx, ccy)
    frm = ctx.sender_hex
    risk.check_not_frozen(state, frm, ccy)
    have = balance(state, frm, ccy)
    if have < amount:
        raise insufficient_funds(state, ccy, have, amount)
    _set_balance(state, frm, ccy, have - amount)
    sup = _supply(state, ccy)
    sup["redeemed"] += amount
    state.put(NAME, f"supply/{ccy}", sup)
    ctx.emit("redeemed", {"currency": ccy, "from": frm, "amount": amount})
    return {"balance": have - amount}


# ISO 20022 references a transfer may carry (docs/iso20022.md): optional, checked, echoed into the transfer's event and result, never interpreted.
_UETR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _p_ref(max_len: int) -> Any:
    def parse(v: Any, name: str) -> str:
        if (type(v) is not str or not 0 < len(v) <= max_len or v != v.strip()
                or not v.isprintable()):
            raise ContractError(f"{name}: must be 1..{max_len} printable characters without "
                                "surrounding spaces", "bad_field")
        return v
    return parse


def _p_uetr(v: Any, name: str) -> str:
    if type(v) is not str or not _UETR.fullmatch(v):
        raise ContractError(f"{name}: must be a lowercase UUIDv4 (ISO 20022 UETR)", "bad_field")
    return v


ISO_REFS = {"end_to_end_id": _p_ref(35), "uetr": _p_uetr, "remittance_info": _p_ref(140)}
#: a cover payment's underlying parties (pacs.009 COV ``UndrlygCstmrCdtTrf``: its ``Dbtr`` and
#: ``Cdtr``), identities on the ledger: :func:`contracts.travel_rule.cover_parties`
COVER = {"underlying": p_pubkey, "underlying_beneficiary": p_pubkey}


@CONTRACT.method(roles=PAYER_ROLES,
                 params={"to": p_pubkey, "currency": p_currency, "amount": p_amount},
                 optional={**ISO_REFS, **COVER})
def transfer(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Pay ``amount`` of ``currency`` to another registered identity (pacs.008/pacs.009),
    under the risk controls of :func:`pay` and the travel rule (``incomplete_originator_info``:
    :mod:`contracts.travel_rule`); the optional ``end_to_end_id``, ``uetr`` and
    ``remittance_info`` are kept on its event and result. A bank paying on its customer's
    behalf (a cover payment, pacs.009 COV) names the customer as ``underlying`` (and, if it
    wants, the customer's payee as ``underlying_beneficiary``): the travel rule is then the
    customer's (decisions 269-271), and the result names them."""
    ccy, amount = args["currency"], args["amount"]
    to = gov.identity_id(state, args["to"])
    if to == ctx.sender_hex:
        raise ContractError("to: cannot transfer to oneself", "bad_field")
    if "underlying_beneficiary" in args and "underlying" not in args:
        raise ContractError("underlying_beneficiary: only with underlying (the originator on "
                            "whose behalf the bank pays)", "bad_field")
    refs = {k: args[k] for k in ISO_REFS if k in args}
    if "uetr" in refs:
        check_new_uetr(state, ctx, refs["uetr"], to, ccy, amount)
    pay(state, ctx, ctx.sender_hex, to, ccy, amount, "", refs)
    # the travel rule (FATF R.16, decision 221): after the screening and the limits (a watch-list
    # hit is refused as such, its alert kept); a refusal discards the payment's writes
    cover: dict[str, str] = {}
    if "underlying" in args:
        # a cover payment (decisions 269, 270): the bank's customer, named by its home bank
        # only, is screened as paid for (frozen, watched, refused place: as an LC's applicant
        # is), then the travel rule is its: its data, places and linked sum
        orig, ben = travel_rule.cover_parties(state, ctx, args["underlying"],
                                              args.get("underlying_beneficiary"))
        risk.check_on_behalf(state, ctx, (orig,) if ben is None else (orig, ben), ccy)
        travel_rule.check_transfer(state, ctx, orig, to, ccy, amount, ben)
        cover = {"underlying": orig, **({} if ben is None else {"underlying_beneficiary": ben})}
        originator = orig
    else:
        travel_rule.check_transfer(state, ctx, ctx.sender_hex, to, ccy, amount)
        originator = ctx.sender_hex
    # the version of the originator's travel data the transfer carried (decision 224): in its
    # result, the payer's, which the payee never reads; the transfer's view shows that version
    tv = travel_rule.carried(state, originator)
    return {"balance": balance(state, ctx.sender_hex, ccy), **refs, **cover,
            **({} if tv is None else {"travel_v": tv})}


def check_new_uetr(state: ContractState, ctx: TxContext, uetr: str, to: str, currency: str,
                   amount: int) -> None:
    """A UETR is one payment's unique end-to-end reference: a debtor that already paid under it
    is re-sending that payment (a file submitted twice after a timeout), which a back office
    must refuse, not book again. The UETR is recorded here, with the payment's payee ``to``,
    currency, amount and block time, which a recall or a return of it is checked against; a
    rejected transfer's writes are discarded, so a transfer refused for another reason may be
    sent again.

    Raises:
        ContractError: ``duplicate_payment``.
    """
    key = f"uetr/{ctx.sender_hex}/{uetr}"
    prior = state.peek(NAME, key)
    if prior is not None:
        raise ContractError(f"uetr: {uetr} was already paid by this debtor in tx "
                            f"{prior['tx_id']} (block {prior['height']})", "duplicate_payment")
    state.put(NAME, key, {"tx_id": ctx.tx_hex, "height": ctx.height, "time_ms": ctx.timestamp_ms,
                          "to": to, "currency": currency, "amount": amount})


@CONTRACT.method(roles=PAYER_ROLES, params={"counterparty": p_pubkey, "give": _leg,
                                            "get": _leg, "expires_at": p_time_ms})
def offer_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Offer to swap ``give`` (escrowed now) for ``get`` with ``counterparty`` until block time
    ``expires_at`` (ms; the offer is acceptable while block time < expires_at)."""
    give, get, exp = args["give"], args["get"], args["expires_at"]
    cp = gov.identity_id(state, args["counterparty"])
    if cp == ctx.sender_hex:
        raise ContractError("counterparty: cannot trade with oneself", "bad_field")
    if give["currency"] == get["currency"]:
        raise ContractError("give and get must be different currencies", "bad_field")
    if exp <= ctx.timestamp_ms:
        raise ContractError("expires_at is not after the block time", "offer_expired")
    gov.require_currency(state, give["currency"])
    gov.require_currency(state, get["currency"])
    # the give leg is the offerer's payment to the counterparty, counted and screened now
    risk.check_payment(state, ctx, ctx.sender_hex, cp, give["currency"], give["amount"])
    risk.check_not_frozen(state, ctx.sender_hex, get["currency"], standing_checked=True)
    _move(state, ctx.sender_hex, ESCROW, give["currency"], give["amount"])
    offer_id = ctx.derive_id()
    state.put(NAME, f"pvp/{offer_id}", {
        "offerer": ctx.sender_hex, "counterparty": cp, "give": give, "get": get,
        "expires_at": exp, "status": "open", "height": ctx.height,
    })
    ctx.emit("pvp_offered", {"offer_id": offer_id, "offerer": ctx.sender_hex,
                             "counterparty": cp, "give": give, "get": get, "expires_at": exp})
    return {"offer_id": offer_id}


def _offer(state: ContractState, offer_id: str) -> dict[str, Any]:
    o = state.get(NAME, f"pvp/{offer_id}")
    if o is None:
        raise ContractError(f"no PvP offer {offer_id}", "unknown_offer")
    if o["status"] != "open":
        raise ContractError(f"offer is {o['status']}", "offer_closed")
    return o  # type: ignore[no-any-return]


@CONTRACT.method(roles=PAYER_ROLES, params={"offer_id": p_id})
def accept_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The counterparty accepts: its ``get`` leg goes to the offerer and the escrowed ``give``
    leg to it, in this one transaction (or neither, if anything fails)."""
    oid = args["offer_id"]
    o = _offer(state, oid)
    if o["counterparty"] != ctx.sender_hex:
        raise ContractError("this offer is addressed to another counterparty", "foreign_offer")
    if ctx.timestamp_ms >= o["expires_at"]:
        raise ContractError("the offer has expired", "offer_expired")
    # the get leg is the accepter's payment; the escrowed give leg was checked at offer time
    # but the parties' standing may have changed since: the escrow is still the offerer's
    # money, so a freeze of the offerer (or of its account in the give currency) holds it
    risk.check_not_frozen(state, o["offerer"], o["give"]["currency"])
    risk.check_payment(state, ctx, ctx.sender_hex, o["offerer"], o["get"]["currency"],
                       o["get"]["amount"])
    _move(state, ctx.sender_hex, o["offerer"], o["get"]["currency"], o["get"]["amount"])
    move(state, ESCROW, ctx.sender_hex, o["give"]["currency"], o["give"]["amount"])
    # the travel rule on both legs, each a transfer of value between the two (decision 225)
    travel_rule.check_transfer(state, ctx, ctx.sender_hex, o["offerer"], o["get"]["currency"],
                               o["get"]["amount"])
    travel_rule.check_transfer(state, ctx, o["offerer"], ctx.sender_hex, o["give"]["currency"],
                               o["give"]["amount"])
    o["status"] = "accepted"
    state.put(NAME, f"pvp/{oid}", o)
    ctx.emit("pvp_settled", {"offer_id": oid, "offerer": o["offerer"],
                             "counterparty": ctx.sender_hex, "give": o["give"], "get": o["get"]})
    return {"offer_id": oid, "status": "accepted"}


@CONTRACT.method(roles=PAYER_ROLES, params={"offer_id": p_id})
def cancel_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The offerer withdraws an open offer (expired or not); the escrow returns to it."""
    oid = args["offer_id"]
    o = _offer(state, oid)
    if o["offerer"] != ctx.sender_hex:
        raise ContractError("only the offerer may cancel this offer", "foreign_offer")
    move(state, ESCROW, ctx.sender_hex, o["give"]["currency"], o["give"]["amount"])
    o["status"] = "cancelled"
    state.put(NAME, f"pvp/{oid}", o)
    ctx.emit("pvp_cancelled", {"offer_id": oid, "offerer": ctx.sender_hex, "give": o["give"]})
    return {"offer_id": oid, "status": "cancelled"}


def _release_for_seizure(state: ContractState, ctx: TxContext, oid: str, account: str,
                         currency: str, ref: str) -> None:
    """An open offer's escrow is still its offerer's money: a seizure order naming the offer
    closes it (status ``closed``: the counterparty reads no word of a court order) and returns
    the escrow to the offerer's account, frozen or not, so the seizure that follows can take
    it.

    Raises:
        ContractError: ``unknown_offer``, ``offer_closed``, ``bad_field`` (the offer is not
            ``account``'s or does not give ``currency``).
    """
    o = _offer(state, oid)
    if o["offerer"] != account or o["give"]["currency"] != currency:
        raise ContractError(f"offer_id: offer {oid} does not escrow {currency} of this account",
                            "bad_field")
    _move(state, ESCROW, account, currency, o["give"]["amount"])
    o["status"] = "closed"  # the counterparty reads the offer: no word of a court order
    state.put(NAME, f"pvp/{oid}", o)
    ctx.emit("pvp_cancelled", {"offer_id": oid, "offerer": account, "give": o["give"],
                               "order_ref": ref})


@CONTRACT.method(roles=None, params={"account": p_pubkey, "currency": p_currency,
                                     "amount": p_amount, "order_ref": p_text(64)},
                 optional={"to": p_pubkey, "offer_id": p_id})
def seize(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A court-ordered seizure: a regulator moves ``amount`` out of ``account`` (frozen or not)
    to ``to`` (default: the ``seized`` holder; an identity ``to`` must be neither frozen nor
    watched nor in a refused jurisdiction, as for an issuance: decision 178). With
    ``offer_id``, the account's open PvP offer giving ``currency`` is first closed and its
    escrow returned to the account (event ``pvp_cancelled`` with the ``order_ref``), so
    escrowed money can be seized too. When governance requires two regulators, the first call
    records the order and a second regulator's identical call executes it."""
    if not gov.is_regulator(state, ctx.sender_hex):
        raise ContractError("only a regulator may seize", "forbidden")
    ccy, amount, ref = args["currency"], args["amount"], args["order_ref"]
    gov.require_currency(state, ccy)
    acct = gov.identity_id(state, args["account"])
    to = gov.identity_id(state, args["to"]) if "to" in args else SEIZED
    if to != SEIZED:
        # a seizure pays ``to`` as an issuance would: never a frozen, watched or refused-place
        # identity (red-team round 9, decision 178); checked at each regulator's call, so the
        # order executes only if ``to`` still passes
        risk.check_receipt(state, ctx, to, ccy)
    order = {"account": acct, "currency": ccy, "amount": amount, "to": to}
    if "offer_id" in args:
        order["offer_id"] = args["offer_id"]
    approvals = risk.regulator_order(state, ctx, "seizure", ref, order)
    if approvals is None:
        pending = state.get(risk.NAME, "seizure/" + ref) or {"approvals": []}
        return {"order_ref": ref, "status": "pending", "approvals": len(pending["approvals"]),
                "needed": risk.seize_approvals(state)}
    if "offer_id" in order:
        _release_for_seizure(state, ctx, order["offer_id"], acct, ccy, ref)
    have = balance(state, acct, ccy)
    if have < amount:
        raise insufficient_funds(state, ccy, have, amount)
    _set_balance(state, acct, ccy, have - amount)
    _set_balance(state, to, ccy, balance(state, to, ccy) + amount)
    ctx.emit("seized", {**order, "order_ref": ref, "approvals": approvals})
    return {"order_ref": ref, "status": "seized", "balance": have - amount}


# recalls and returns (camt.056 / camt.029 / pacs.004): methods ``recall``, ``return_payment``
# and ``reject_recall`` of this contract (imported last: the module imports this one)
from contracts import settlement_recall as _recall  # noqa: E402,F401
