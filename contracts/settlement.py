"""settlement: accounts per identity and currency, issue/redeem, transfer, atomic PvP.

Amounts are integer minor units of ISO 4217 currencies known to governance (genesis or
``add_currency``). State (contract ``settlement``):

- ``bal/<holder>/<CCY>`` -> int > 0 (absent means 0). ``holder`` is an identity's public key in
  hex, or ``escrow`` for the give legs of open PvP offers.
- ``supply/<CCY>`` -> ``{"issued": int, "redeemed": int}``.
- ``pvp/<offer_id>`` -> the offer (see :func:`offer_pvp`).

Invariant (checked by the property tests): for every currency, the sum of all ``bal/*/<CCY>``
(escrow included) equals ``issued - redeemed``, and no balance is negative.

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
    p_time_ms,
)
from contracts import governance as gov

NAME = "settlement"
CONTRACT = Contract(NAME, __doc__ or "")
ESCROW = "escrow"

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
)


# ---------------------------------------------------------------------------- helpers (also used
# by trade_documents for LC payments)


def balance(state: ContractState, holder: str, currency: str) -> int:
    v = state.get(NAME, f"bal/{holder}/{currency}")
    return 0 if v is None else int(v)


def _set_balance(state: ContractState, holder: str, currency: str, amount: int) -> None:
    if amount:
        state.put(NAME, f"bal/{holder}/{currency}", amount)
    else:
        state.delete(NAME, f"bal/{holder}/{currency}")


def move(state: ContractState, frm: str, to: str, currency: str, amount: int) -> None:
    """Move ``amount`` from ``frm`` to ``to``.

    Raises:
        ContractError: ``insufficient_funds``.
    """
    have = balance(state, frm, currency)
    if have < amount:
        raise ContractError(
            f"insufficient funds: {currency} balance {have} < {amount}", "insufficient_funds")
    _set_balance(state, frm, currency, have - amount)
    _set_balance(state, to, currency, balance(state, to, currency) + amount)


def pay(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str, amount: int,
        purpose: str) -> None:
    """A transfer made on behalf of another contract (e.g. an LC payment), with its event."""
    gov.require_currency(state, currency)
    move(state, frm, to, currency, amount)
    ctx.emit("transferred", {"from": frm, "to": to, "currency": currency, "amount": amount,
                             "purpose": purpose}, contract=NAME)


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


@CONTRACT.method(roles=None, params={"currency": p_currency, "to": p_pubkey, "amount": p_amount})
def issue(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Create money: the currency's issuer credits ``to`` (any registered identity)."""
    ccy, to, amount = args["currency"], args["to"], args["amount"]
    _issuer_of(state, ctx, ccy)
    gov.require_identity(state, to)
    sup = _supply(state, ccy)
    if sup["issued"] + amount > MAX_AMOUNT:
        raise ContractError(f"total {ccy} issued would exceed {MAX_AMOUNT}", "amount_too_large")
    sup["issued"] += amount
    state.put(NAME, f"supply/{ccy}", sup)
    _set_balance(state, to, ccy, balance(state, to, ccy) + amount)
    ctx.emit("issued", {"currency": ccy, "to": to, "amount": amount})
    return {"balance": balance(state, to, ccy)}


@CONTRACT.method(roles=None, params={"currency": p_currency, "amount": p_amount},
                 optional={"from": p_pubkey})
def redeem(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Destroy money: the issuer debits its own account, or ``from`` (an account it operates as
    settlement agent, e.g. a holder cashing out)."""
    ccy, amount = args["currency"], args["amount"]
    _issuer_of(state, ctx, ccy)
    frm = args.get("from", ctx.sender_hex)
    have = balance(state, frm, ccy)
    if have < amount:
        raise ContractError(
            f"insufficient funds: {ccy} balance {have} < {amount}", "insufficient_funds")
    _set_balance(state, frm, ccy, have - amount)
    sup = _supply(state, ccy)
    sup["redeemed"] += amount
    state.put(NAME, f"supply/{ccy}", sup)
    ctx.emit("redeemed", {"currency": ccy, "from": frm, "amount": amount})
    return {"balance": have - amount}


# --- ISO 20022 references a transfer may carry (issue 19; docs/iso20022.md): optional, checked,
# echoed into the transfer's event and result, never interpreted.
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


@CONTRACT.method(roles=None, params={"to": p_pubkey, "currency": p_currency, "amount": p_amount},
                 optional=ISO_REFS)
def transfer(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Pay ``amount`` of ``currency`` to another registered identity (pacs.008/pacs.009); the
    optional ``end_to_end_id``, ``uetr`` and ``remittance_info`` are kept on its event and result."""
    to, ccy, amount = args["to"], args["currency"], args["amount"]
    if to == ctx.sender_hex:
        raise ContractError("to: cannot transfer to oneself", "bad_field")
    gov.require_currency(state, ccy)
    gov.require_identity(state, to)
    move(state, ctx.sender_hex, to, ccy, amount)
    refs = {k: args[k] for k in ISO_REFS if k in args}
    ctx.emit("transferred", {"from": ctx.sender_hex, "to": to, "currency": ccy,
                             "amount": amount, **refs})
    return {"balance": balance(state, ctx.sender_hex, ccy), **refs}


@CONTRACT.method(roles=None, params={"counterparty": p_pubkey, "give": _leg, "get": _leg,
                                     "expires_at": p_time_ms})
def offer_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Offer to swap ``give`` (escrowed now) for ``get`` with ``counterparty`` until block time
    ``expires_at`` (ms; the offer is acceptable while block time < expires_at)."""
    cp, give, get, exp = args["counterparty"], args["give"], args["get"], args["expires_at"]
    if cp == ctx.sender_hex:
        raise ContractError("counterparty: cannot trade with oneself", "bad_field")
    if give["currency"] == get["currency"]:
        raise ContractError("give and get must be different currencies", "bad_field")
    if exp <= ctx.timestamp_ms:
        raise ContractError("expires_at is not after the block time", "offer_expired")
    gov.require_identity(state, cp)
    gov.require_currency(state, give["currency"])
    gov.require_currency(state, get["currency"])
    move(state, ctx.sender_hex, ESCROW, give["currency"], give["amount"])
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


@CONTRACT.method(roles=None, params={"offer_id": p_id})
def accept_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The counterparty accepts: its ``get`` leg goes to the offerer and the escrowed ``give``
    leg to it, in this one transaction (or neither, if anything fails)."""
    oid = args["offer_id"]
    o = _offer(state, oid)
    if o["counterparty"] != ctx.sender_hex:
        raise ContractError("this offer is addressed to another counterparty", "foreign_offer")
    if ctx.timestamp_ms >= o["expires_at"]:
        raise ContractError("the offer has expired", "offer_expired")
    move(state, ctx.sender_hex, o["offerer"], o["get"]["currency"], o["get"]["amount"])
    move(state, ESCROW, ctx.sender_hex, o["give"]["currency"], o["give"]["amount"])
    o["status"] = "accepted"
    state.put(NAME, f"pvp/{oid}", o)
    ctx.emit("pvp_settled", {"offer_id": oid, "offerer": o["offerer"],
                             "counterparty": ctx.sender_hex, "give": o["give"], "get": o["get"]})
    return {"offer_id": oid, "status": "accepted"}


@CONTRACT.method(roles=None, params={"offer_id": p_id})
def cancel_pvp(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The offerer withdraws an open offer (expired or not); the escrow returns to it."""
    oid = args["offer_id"]
    o = _offer(state, oid)
    if o["offerer"] != ctx.sender_hex:
        raise ContractError("only the offerer may cancel this offer", "foreign_offer")
    move(state, ESCROW, ctx.sender_hex, o["give"]["currency"], o["give"]["amount"])
    o["status"] = "cancelled"
    state.put(NAME, f"pvp/{oid}", o)
    ctx.emit("pvp_cancelled", {"offer_id": oid, "offerer": ctx.sender_hex})
    return {"offer_id": oid, "status": "cancelled"}
