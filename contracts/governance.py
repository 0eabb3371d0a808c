"""governance: identities and roles, validators, currencies, proposals and votes.

State (contract ``governance``):

- ``id/<identity id>`` -> ``{"name", "role", "admin", "bank"}`` plus, when set,
  ``"legal_name"`` (genesis only), ``"registered_by"`` (the admin bank that registered it: its
  home bank), ``"travel"`` (the originator information of the travel rule, FATF R.16, besides
  the name and the account: :mod:`contracts.travel_rule`), ``"key"`` (its current public key,
  when rotated away from the id) and ``"status"``
  (``frozen`` | ``revoked``; absent: active; a freeze also records ``frozen_by`` and
  ``frozen_by_regulator``). Roles: bank, exporter, importer, auditor, issuer,
  customs; ``admin`` banks may register identities (a customs authority comes from genesis or a
  governance vote, ``set_role``); only genesis makes admins and legal names.
  The **identity id** is the public key (hex) the identity was registered with; it stays its id,
  and the holder of everything it owns, when its key changes.
- ``bic/<BIC>`` -> ``{"holder", "by", "count", "time_ms"}``: the first bank identity registered
  with that BIC/LEI (``chainfin.execution.bic_key``), the admin that registered it (None:
  genesis), how many bank identities carry it and when it was claimed; only an admin of the
  same bank, or that admin for the bank's first two identities within 10 minutes, registers
  more with it (decision 111).
- ``key/<pubkey hex>`` -> the identity id, for every key an identity used after its first
  (the current one and the replaced ones; ``execution`` refuses a replaced key with
  ``key_rotated``).
- ``params`` -> the consortium's trade-finance rules (genesis ``params``; see trade_documents),
  and its ``watched_bank_customers`` policy (genesis, or a ``set_watched_bank_customers`` vote;
  ``contracts.risk``, decision 278).
- ``validators`` -> sorted list of validator public keys (hex). Every validator is a ``bank``.
- ``validator_info/<pubkey hex>`` -> ``{"name", "added_height", "address"}`` for validators
  added by governance (``address``: the node's p2p ``host:port``, so peers can reach it).
- ``regulators`` -> sorted list of regulator identity ids, from genesis and changed by
  governance (``add_regulator`` / ``remove_regulator``). A regulator is a capacity, not a role:
  any identity listed here (genesis lists ``auditor`` identities; a central bank may be one).
- ``currency/<CODE>`` -> ``{"exponent", "issuer"}``.
- ``calendar/<ID>/<YYYY>`` -> ``{"weekend", "holidays", "by", "height", "time_ms", "version"}``:
  the non-banking days of one place for one year, published by a regulator
  (``set_calendar``); ``calendar/<ID>`` -> ``{"year", "weekend"}``, the latest year published
  and its weekend (the weekend of a year with no list). ``bank_calendar/<identity id>`` ->
  ``{"calendar", "by", "height"}``: the place of a bank, set by a regulator; without it, its
  BIC's country (decision 142; read by ``contracts.trade.state.BankingDays``).
- ``params_voted`` -> ``{<param>: {"proposal_id", "height", "time_ms"}}``: the vote that last
  set each of :data:`TRADE_PARAMS` (``set_trade_params``; absent: as genesis set it).
- ``open_proposals`` -> sorted list of the ids of proposals still ``open`` (made since decision
  286; an expired one leaves it at the next proposal or at its vote), so a reader lists them.
- ``proposal/<proposal_id>`` -> ``{"action", "params", "proposer", "votes", "status", "height",
  "error", "expires_ms"}``; status ``open`` | ``applied`` | ``failed`` | ``expired``.

A proposal passes when ``quorum(n)`` distinct validators **of the current set** have voted
(the proposer's vote counts; votes of validators removed since no longer count), and is applied in
the transaction that reached the quorum. It expires :data:`PROPOSAL_LIFETIME_MS` of block time
after it was made: a vote cannot be withdrawn, so it must not stand for ever. A change of the
validator set shows in ``BlockResult.validator_set_change`` and is in force from the next block.
A validator is a bank in good standing seated on its identity's current key (its id, never
rotated), one seat per bank (BIC).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping
from typing import Any

from chainfin import crypto
from chainfin.consensus.quorum import quorum
from chainfin.errors import ContractError, InvalidSignature
from chainfin.execution import (
    LEDGER_FORMAT_KEY,
    Contract,
    ContractState,
    TxContext,
    bic_key,
    p_currency,
    p_dict,
    p_hex,
    p_id,
    p_int,
    p_pubkey,
    p_text,
)
from chainfin.genesis import ROLES

NAME = "governance"
CONTRACT = Contract(NAME, __doc__ or "")

#: ISO 4217 minor-unit exponents of common currencies; add_currency must agree with these.
ISO_EXPONENTS = {
    "AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "EUR": 2,
    "GBP": 2, "HKD": 2, "IDR": 2, "INR": 2, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MYR": 2,
    "OMR": 3, "SAR": 2, "SGD": 2, "THB": 2, "TND": 3, "USD": 2, "VND": 0,
}

ACTIONS = ("add_validator", "remove_validator", "set_role", "add_currency", "add_regulator",
           "remove_regulator", "set_network_limit", "remove_network_limit",
           "set_seize_approvals", "upgrade_ledger_format", "set_watched_bank_customers",
           "set_trade_params")

#: The consortium's boolean trade-finance parameters a ``set_trade_params`` vote sets (a closed
#: list: genesis ``params`` of the same names, read by ``contracts.trade.state.params``;
#: decision 285). Anything else is refused ``unknown_param``: a typo must not pass a vote and
#: then change nothing.
TRADE_PARAMS = ("financing_requires_attestation", "bill_of_lading_requires_containers")

ERROR_CODES = (
    "forbidden",
    "identity_exists",
    "unknown_identity",
    "not_a_bank",
    "already_validator",
    "not_validator",
    "last_validator",
    "validator_must_be_bank",
    "currency_exists",
    "unknown_currency",
    "unknown_proposal",
    "proposal_closed",
    "already_voted",
    "bad_field",
    "missing_field",
    "bad_proof",
    "key_in_use",
    "not_regulator",
    "already_regulator",
    "already_upgraded",
    "unknown_param",  # set_trade_params: a name not in TRADE_PARAMS (decision 285)
    # banking calendars (decision 142)
    "bad_calendar",
    "bad_year",
    "bad_holiday",
    "duplicate_holiday",
    "too_many_holidays",
    "bad_weekend",
    "unknown_calendar",
)


# ---------------------------------------------------------------------------- read helpers
# (used by every contract)


def get_identity(state: ContractState, pubkey_hex: str) -> dict[str, Any] | None:
    """The identity record (a private copy: the caller may change and store it), or None."""
    return state.get(NAME, "id/" + pubkey_hex)


def peek_identity(state: ContractState, pubkey_hex: str) -> Mapping[str, Any] | None:
    """The identity record for reading only (shared, :meth:`StateView.peek`), or None."""
    return state.peek(NAME, "id/" + pubkey_hex)


def require_identity(state: ContractState, pubkey_hex: str,
                     role: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The identity record, or ContractError ``unknown_identity`` / ``bad_field`` (wrong role)."""
    ident = get_identity(state, pubkey_hex)
    if ident is None:
        raise ContractError(f"{pubkey_hex[:16]}… is not a registered identity", "unknown_identity")
    if role is not None:
        roles = (role,) if isinstance(role, str) else role
        if ident["role"] not in roles:
            raise ContractError(
                f"{pubkey_hex[:16]}… has role {ident['role']}, expected {'/'.join(roles)}",
                "bad_field")
    return ident


def get_currency(state: ContractState, code: str) -> dict[str, Any] | None:
    return state.get(NAME, "currency/" + code)


def require_currency(state: ContractState, code: str) -> Mapping[str, Any]:
    """The currency's record, read only (shared), or ContractError ``unknown_currency``."""
    cur: Mapping[str, Any] | None = state.peek(NAME, "currency/" + code)
    if cur is None:
        raise ContractError(f"currency {code} is not known to this network", "unknown_currency")
    return cur


def identity_id(state: ContractState, pubkey_hex: str) -> str:
    """The identity id behind ``pubkey_hex`` (its id, or a key it rotated to; a replaced key
    maps to its identity too, so money sent to it reaches the identity), else
    ContractError ``unknown_identity``."""
    if state.peek(NAME, "id/" + pubkey_hex) is not None:
        return pubkey_hex
    owner = state.peek(NAME, "key/" + pubkey_hex)
    if owner is None:
        raise ContractError(f"{pubkey_hex[:16]}… is not a registered identity", "unknown_identity")
    return str(owner)


def is_regulator(state: ContractState, ident_id: str) -> bool:
    return ident_id in regulators(state)


#: The roles a home bank supervises: its customers. Banks, issuers, customs and auditors are
#: institutions: regulators supervise them, not a bank that happened to register them.
CUSTOMER_ROLES = ("exporter", "importer")


def is_home_bank(state: ContractState, bank_id: str, target: Mapping[str, Any],
                 target_id: str | None = None) -> bool:
    """Is ``bank_id`` the home bank of the identity record ``target`` (id ``target_id``):
    :func:`home_bank_rule` on the chain's records."""
    return home_bank_rule(bank_id, peek_identity(state, bank_id), target_id, target,
                          regulators(state))


def home_bank_rule(bank_id: str, bank: Mapping[str, Any] | None, target_id: str | None,
                   target: Mapping[str, Any], regs: Collection[str]) -> bool:
    """The home-bank rule, on records (the contracts and the REST access rules both ask it):
    ``bank_id`` (its record ``bank``) is the home bank of ``target`` when it is the admin bank
    that registered it, or a bank identity with the same BIC/LEI in its ``bank`` field. Only
    customers (:data:`CUSTOMER_ROLES`) have one, and no identity is its own: banks, currency
    issuers, customs, auditors and regulators (``regs``) answer to regulators, not to a bank (an
    admin bank that registered one, or a bank identity carrying its BIC, must not freeze it,
    lift its limits or rebind its key: decision 111, red-team rounds 1 and 2)."""
    if (bank_id == target_id or target.get("role") not in CUSTOMER_ROLES
            or (target_id is not None and target_id in regs)):
        return False
    if bank is None or bank.get("role") != "bank":  # a former bank keeps no powers
        return False
    if target.get("registered_by") == bank_id:
        return True
    return (bank.get("bank") is not None and target.get("bank") is not None
            and bic_key(bank["bank"]) == bic_key(target["bank"]))


def require_supervisor(state: ContractState, ctx: TxContext, target_id: str) -> dict[str, Any]:
    """The target's record if the sender is a regulator or the target's home bank. Nobody
    supervises itself: a regulator's own controls are lifted by another regulator.

    Raises:
        ContractError: ``unknown_identity``; ``forbidden`` (neither a regulator nor its bank,
            or the target itself).
    """
    target = require_identity(state, target_id)
    if ctx.sender_hex == target_id:
        raise ContractError("no identity may supervise itself", "forbidden")
    if not (is_regulator(state, ctx.sender_hex)
            or is_home_bank(state, ctx.sender_hex, target, target_id)):
        raise ContractError("only a regulator or the identity's home bank may do this",
                            "forbidden")
    return target


def require_may_lift(state: ContractState, ctx: TxContext, set_by: str | None,
                     by_regulator: bool | None, what: str) -> None:
    """A control (a limit, a freeze) is changed or lifted by a regulator, or by the home bank
    that set it: never a regulator's order by a bank, nor one home bank's control by another.

    Raises:
        ContractError: ``forbidden``.
    """
    if is_regulator(state, ctx.sender_hex):
        return
    if by_regulator is None:  # a record from before decision 111: who set it, as of now
        by_regulator = set_by is not None and is_regulator(state, set_by)
    if by_regulator:
        raise ContractError(f"{what} was set by a regulator: only a regulator may change or "
                            "lift it", "forbidden")
    if set_by is not None and set_by != ctx.sender_hex:
        raise ContractError(f"{what} was set by another bank: only it or a regulator may "
                            "change or lift it", "forbidden")


def validators(state: ContractState) -> list[str]:
    return list(state.peek(NAME, "validators") or [])  # list() is the private copy


def regulators(state: ContractState) -> list[str]:
    return list(state.peek(NAME, "regulators") or [])  # list() is the private copy


# ---------------------------------------------------------------------------- register_identity


#: Roles every bank relies on, which one admin does not hand out: they come from genesis or a
#: ``set_role`` vote. Any customs identity attests any declaration, the first attestation
#: stands, and it caps every bank's financing of the trade; an auditor reads every balance,
#: trade, transaction and block of the network (red-team round 3).
VOTED_ROLES = ("customs", "auditor")


@CONTRACT.method(roles=("bank",),
                 params={"pubkey": p_pubkey, "name": p_text(64), "role": p_text(16)},
                 optional={"bank": p_text(35)})
def register_identity(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """An admin bank registers a new identity with one role (never as admin, never one of
    :data:`VOTED_ROLES`)."""
    if not ctx.identity.get("admin"):
        raise ContractError("only an admin bank may register identities", "forbidden")
    pk, role = args["pubkey"], args["role"]
    if role not in ROLES:
        raise ContractError(f"role must be one of {', '.join(ROLES)}", "bad_field")
    if role in VOTED_ROLES:
        raise ContractError(f"the role {role} is given by a governance vote (set_role), not by "
                            "one bank", "forbidden")
    if get_identity(state, pk) is not None or state.get(NAME, "key/" + pk) is not None:
        raise ContractError("this public key is already registered", "identity_exists")
    bank = args.get("bank")
    if role == "bank" and bank is not None:
        _claim_bic(state, ctx, pk, bank)
    from contracts import risk  # risk imports this module

    risk.screen_identity_name(state, ctx, args["name"])
    rec = {"name": args["name"], "role": role, "admin": False, "bank": bank,
           "registered_by": ctx.sender_hex}
    state.put(NAME, "id/" + pk, rec)
    ctx.emit("identity_registered", {"pubkey": pk, "name": args["name"], "role": role,
                                     "by": ctx.sender_hex})
    return {"pubkey": pk, "role": role}


#: Bank identities the admin that onboarded a bank may register under its BIC, within
#: :data:`ONBOARDING_WINDOW_MS` of block time of the first: the node's and the bank's
#: (``chainfin node init`` makes both, registered one after the other); any later one is the
#: bank's own admins' to add, so an onboarding admin keeps no lasting way into the bank.
ONBOARDING_IDENTITIES = 2
ONBOARDING_WINDOW_MS = 10 * 60 * 1000


def _claim_bic(state: ContractState, ctx: TxContext, pk: str, bank: str) -> None:
    """A bank identity's BIC/LEI names the bank it acts for, and gives it home-bank powers
    over that bank's customers. The first bank identity with a BIC holds it (``bic/<BIC>`` ->
    ``{"holder", "by", "count"}``: genesis indexes its banks with ``by`` None); a further bank
    identity with the same BIC is registered by an admin of that same bank, or, up to
    :data:`ONBOARDING_IDENTITIES` in all, by the admin that onboarded the bank — so an admin
    cannot mint an identity in another bank's name, then or later.

    Raises:
        ContractError: ``forbidden`` (the BIC is another bank's).
    """
    key = "bic/" + bic_key(bank)
    claim = state.get(NAME, key)
    if claim is None:
        state.put(NAME, key, {"holder": pk, "by": ctx.sender_hex, "count": 1,
                              "time_ms": ctx.timestamp_ms})
        return
    own = ctx.identity.get("bank")
    onboarding = (claim.get("by") == ctx.sender_hex
                  and claim.get("count", 1) < ONBOARDING_IDENTITIES
                  and ctx.timestamp_ms - claim.get("time_ms", 0) <= ONBOARDING_WINDOW_MS)
    if not onboarding and (own is None or bic_key(own) != bic_key(bank)):
        raise ContractError(f"{bank} is the BIC of another bank's identities: only that bank's "
                            "admin may register more of them", "forbidden")
    state.put(NAME, key, {**claim, "count": claim.get("count", 1) + 1})


# ---------------------------------------------------------------------------- standing of an
# identity: freezes, key rotation, revocation (execution._check_standing enforces them)

_ORDER = {"pubkey": p_pubkey, "reason": p_text(256), "order_ref": p_text(64)}


def _set_status(state: ContractState, ident_id: str, rec: dict[str, Any],
                status: str | None) -> None:
    if status is None:
        rec.pop("status", None)
    else:
        rec["status"] = status
    state.put(NAME, "id/" + ident_id, rec)


@CONTRACT.method(roles=None, params=_ORDER)
def freeze_identity(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator or the home bank freezes an identity: nothing it signs is accepted except
    ``rotate_key`` (``account_frozen``), and no money moves to or from it."""
    ident_id = identity_id(state, args["pubkey"])
    rec = require_supervisor(state, ctx, ident_id)
    if rec.get("status") == "revoked":
        raise ContractError("this identity is revoked", "bad_field")
    if rec.get("status") == "frozen":  # a home bank may not replace a regulator's order
        require_may_lift(state, ctx, rec.get("frozen_by"), rec.get("frozen_by_regulator"),
                         "this identity's freeze")
    rec["frozen_by"] = ctx.sender_hex
    rec["frozen_by_regulator"] = is_regulator(state, ctx.sender_hex)
    _set_status(state, ident_id, rec, "frozen")
    ctx.emit("identity_frozen", {"identity": ident_id, "reason": args["reason"],
                                 "order_ref": args["order_ref"], "by": ctx.sender_hex})
    return {"identity": ident_id, "status": "frozen"}


@CONTRACT.method(roles=None, params=_ORDER)
def unfreeze_identity(state: ContractState, ctx: TxContext,
                      args: dict[str, Any]) -> dict[str, Any]:
    """A regulator or the home bank lifts an identity's freeze; a regulator's freeze only a
    regulator (decision 111)."""
    ident_id = identity_id(state, args["pubkey"])
    rec = require_supervisor(state, ctx, ident_id)
    if rec.get("status") != "frozen":
        raise ContractError("this identity is not frozen", "bad_field")
    require_may_lift(state, ctx, rec.get("frozen_by"), rec.get("frozen_by_regulator"),
                     "this identity's freeze")
    rec.pop("frozen_by", None)
    rec.pop("frozen_by_regulator", None)
    _set_status(state, ident_id, rec, None)
    ctx.emit("identity_unfrozen", {"identity": ident_id, "reason": args["reason"],
                                   "order_ref": args["order_ref"], "by": ctx.sender_hex})
    return {"identity": ident_id, "status": "active"}


def rotation_message(chain_id: str, old_key_hex: str) -> bytes:
    """What the new key signs (domain ``rotate_key``) to prove it consents to replace the old
    one: the chain id and the old key, so a proof is good for one identity on one chain."""
    return chain_id.encode() + b"\0" + bytes.fromhex(old_key_hex)


def _require_unused_key(state: ContractState, key_hex: str) -> None:
    if get_identity(state, key_hex) is not None or state.get(NAME, "key/" + key_hex) is not None:
        raise ContractError("this public key is already used by an identity", "key_in_use")


def _rebind(state: ContractState, ident_id: str, rec: dict[str, Any], new_key: str) -> None:
    """Make ``new_key`` the identity's only valid key; balances, documents, consents and roles
    stay where they are, under the identity id. A validator's key is also its consensus key:
    it changes by replacing the validator (governance), not here.

    Raises:
        ContractError: ``forbidden`` (a validator).
    """
    if ident_id in validators(state):
        raise ContractError("a validator's key is its consensus key: replace the validator "
                            "by governance vote instead", "forbidden")
    state.put(NAME, "key/" + new_key, ident_id)
    rec["key"] = new_key
    state.put(NAME, "id/" + ident_id, rec)


@CONTRACT.method(roles=None, params={"new_public_key": p_pubkey, "proof": p_hex(64)},
                 while_frozen=True)
def rotate_key(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Signed by the current key: from the next transaction on only ``new_public_key`` signs for
    this identity. ``proof`` is the new key's signature (domain ``rotate_key``) over
    :func:`rotation_message` of the old key. Accepted while frozen (the freeze stays)."""
    new_key = args["new_public_key"]
    _require_unused_key(state, new_key)
    msg = rotation_message(ctx.chain_id, ctx.key_hex)
    try:
        crypto.verify(bytes.fromhex(new_key), "rotate_key", msg, bytes.fromhex(args["proof"]))
    except InvalidSignature as e:
        raise ContractError("proof is not the new key's signature over the old key",
                            "bad_proof") from e
    _rebind(state, ctx.sender_hex, dict(ctx.identity), new_key)
    ctx.emit("key_rotated", {"identity": ctx.sender_hex, "old_key": ctx.key_hex,
                             "new_key": new_key})
    return {"identity": ctx.sender_hex, "key": new_key}


@CONTRACT.method(roles=None, params=_ORDER, optional={"new_public_key": p_pubkey})
def revoke_identity(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A lost or stolen key, reported to the home bank or a regulator: without
    ``new_public_key`` the identity is revoked (nothing it signs is accepted again); with one,
    only its key is revoked and ``new_public_key`` (the holder's new key, checked by the bank as
    at registration) signs for it from now on."""
    ident_id = identity_id(state, args["pubkey"])
    rec = require_supervisor(state, ctx, ident_id)
    if is_regulator(state, ident_id):
        raise ContractError("a regulator's key is replaced by governance (remove_regulator, "
                            "add_regulator), not by another identity", "forbidden")
    if rec.get("status") == "frozen":  # a bank may not turn a regulator's freeze into its own
        require_may_lift(state, ctx, rec.get("frozen_by"), rec.get("frozen_by_regulator"),
                         "this identity's freeze")
    new_key = args.get("new_public_key")
    data = {"identity": ident_id, "old_key": rec.get("key", ident_id), "reason": args["reason"],
            "order_ref": args["order_ref"], "by": ctx.sender_hex}
    if new_key is None:
        _set_status(state, ident_id, rec, "revoked")
        ctx.emit("identity_revoked", data)
        return {"identity": ident_id, "status": "revoked"}
    _require_unused_key(state, new_key)
    if is_regulator(state, ctx.sender_hex):
        # a regulator binding a key to another's account could spend it: the two-regulator
        # rule of seizures applies (risk.regulator_order)
        from contracts import risk  # risk imports this module

        order = {"identity": ident_id, "new_key": new_key}
        if risk.regulator_order(state, ctx, "rebind", args["order_ref"], order) is None:
            return {"identity": ident_id, "status": "pending"}
    _rebind(state, ident_id, rec, new_key)
    ctx.emit("key_revoked", {**data, "new_key": new_key})
    return {"identity": ident_id, "key": new_key}


# ---------------------------------------------------------------------------- read-log anchors


@CONTRACT.method(roles=("bank",), params={"seq": p_int(1), "head": p_hex(32)})
def anchor_read_log(state: ContractState, ctx: TxContext, args: dict[str, Any]
                    ) -> dict[str, Any]:
    """A bank's node commits the head of its REST read log (``node/anchor.py``): entry ``seq``
    of the node's hash chain has hash ``head``. Once that is on the chain, the node's operator
    can no more drop or rewrite the entries up to it without an auditor seeing it (decision
    130). ``governance/readlog/<key>`` keeps the latest anchor; every anchor is an event, and a
    log that starts again (a node rebuilt from its peers) shows as a lower ``seq``."""
    key = ctx.sender_hex
    rec = {"seq": args["seq"], "head": args["head"], "height": ctx.height,
           "time_ms": ctx.timestamp_ms}
    state.put(NAME, "readlog/" + key, rec)
    ctx.emit("read_log_anchored", {"node": key, "seq": args["seq"], "head": args["head"]})
    return rec


# ---------------------------------------------------------------------------- banking calendars
# UCP 600 counts banking days at the place of the bank that acts (art. 2: "a day on which a bank
# is regularly open at the place at which an act subject to these rules is to be performed").
# A regulator publishes each place's non-banking days for a year (decision 142); the trade
# contract counts with them (contracts.trade.state.BankingDays). Consensus data: parsed strictly,
# bounded, read only from the ledger (no library calendar, no locale, no wall clock).

#: A calendar is a place: an ISO 3166-1 country code (``GB``, ``AE``: the country of a BIC), or
#: an ISO 3166-2 subdivision for a regional calendar (``DE-HE``, ``CH-ZH``, ``US-NY``).
_CALENDAR_ID = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
#: Holidays per calendar and year (real lists hold 8 to 25 days; this leaves room for closures
#: declared at short notice and keeps a year's record and every count over it small).
MAX_HOLIDAYS = 64
#: Weekend days per calendar (ISO weekday numbers, 1 Monday .. 7 Sunday): one to three, so a
#: week keeps at least four banking days and a count of banking days ends within
#: ``contracts.trade.state.MAX_SCAN_DAYS``.
MAX_WEEKEND_DAYS = 3
#: The weekend of a place that publishes none: Saturday and Sunday.
DEFAULT_WEEKEND = (6, 7)
#: Years a regulator may publish, around the year of block time: the last one (a correction in
#: January) to five ahead.
CALENDAR_YEARS_BACK, CALENDAR_YEARS_AHEAD = 1, 5
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_BIC = re.compile(r"[A-Z]{4}([A-Z]{2})[A-Z0-9]{5}")


def p_calendar_id(v: Any, name: str) -> str:
    """A calendar id (:data:`_CALENDAR_ID`), exactly as written: ``GB``, ``DE-HE``.

    Raises:
        ContractError: ``bad_calendar``.
    """
    if type(v) is not str or not _CALENDAR_ID.fullmatch(v):
        raise ContractError(f"{name} must be an ISO 3166 country code (GB) or subdivision "
                            "(DE-HE), upper case", "bad_calendar")
    return v


def _is_iso_date(v: Any) -> bool:
    """``v`` is a string ``YYYY-MM-DD`` naming a real date (no other form, no time)."""
    m = _ISO_DATE.fullmatch(v) if type(v) is str else None
    if m is None:
        return False
    try:
        datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def p_holidays(v: Any, name: str) -> list[str]:
    """A list of at most :data:`MAX_HOLIDAYS` dates, each exactly ``YYYY-MM-DD`` (a real
    calendar date), none twice; may be empty (a year with no holiday). Returned sorted.

    Raises:
        ContractError: ``bad_field`` (not a list), ``too_many_holidays``, ``bad_holiday``,
            ``duplicate_holiday``.
    """
    if type(v) is not list and type(v) is not tuple:
        raise ContractError(f"{name} must be a list of dates (YYYY-MM-DD)", "bad_field")
    if len(v) > MAX_HOLIDAYS:
        raise ContractError(f"{name}: at most {MAX_HOLIDAYS} holidays a year (got {len(v)})",
                            "too_many_holidays")
    seen: set[str] = set()
    for x in v:
        if not _is_iso_date(x):
            raise ContractError(f"{name}: {str(x)[:32]!r} is not a date written YYYY-MM-DD",
                                "bad_holiday")
        if x in seen:
            raise ContractError(f"{name}: {x} is listed twice", "duplicate_holiday")
        seen.add(x)
    return sorted(seen)


def p_weekend(v: Any, name: str) -> list[int]:
    """One to :data:`MAX_WEEKEND_DAYS` distinct ISO weekday numbers (1 Monday .. 7 Sunday):
    ``[6, 7]`` Saturday and Sunday, ``[5, 6]`` Friday and Saturday. Returned sorted.

    Raises:
        ContractError: ``bad_weekend``.
    """
    if (type(v) is not list and type(v) is not tuple) or not v or len(v) > MAX_WEEKEND_DAYS \
            or any(type(d) is not int or not 1 <= d <= 7 for d in v) or len(set(v)) != len(v):
        raise ContractError(f"{name} must list 1 to {MAX_WEEKEND_DAYS} distinct weekdays, 1 "
                            "Monday .. 7 Sunday (e.g. [6, 7], or [5, 6] for Friday and "
                            "Saturday)", "bad_weekend")
    return sorted(v)


def calendar_year(state: ContractState, calendar_id: str, year: int
                  ) -> Mapping[str, Any] | None:
    """The published record of ``calendar_id`` for ``year`` (read only), or None."""
    rec: Mapping[str, Any] | None = state.peek(NAME, f"calendar/{calendar_id}/{year:04d}")
    return rec


def calendar_weekend(state: ContractState, calendar_id: str) -> tuple[int, ...]:
    """The weekend of a year ``calendar_id`` published no list for: the weekend of the latest
    year it published, else :data:`DEFAULT_WEEKEND`."""
    head = state.peek(NAME, "calendar/" + calendar_id)
    return tuple(head["weekend"]) if head is not None else DEFAULT_WEEKEND


def bank_calendar(state: ContractState, bank_id: str) -> str | None:
    """The calendar of the place of the bank identity ``bank_id``: the one a regulator linked it
    to (``set_bank_calendar``), else the country of its BIC (``BARCGB22`` -> ``GB``), else None
    (no place known: Monday to Friday)."""
    link = state.peek(NAME, "bank_calendar/" + bank_id)
    if link is not None:
        return str(link["calendar"])
    ident = peek_identity(state, bank_id)
    bank = ident.get("bank") if ident is not None else None
    m = _BIC.fullmatch(bic_key(bank)) if isinstance(bank, str) else None
    return m[1] if m else None


def _require_calendar_regulator(state: ContractState, ctx: TxContext) -> None:
    if not is_regulator(state, ctx.sender_hex):
        raise ContractError("only a regulator publishes banking calendars", "forbidden")


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def _block_year(ctx: TxContext) -> int:
    """The UTC year of the block's time."""
    return datetime.date.fromordinal(_EPOCH_ORDINAL + ctx.timestamp_ms // 86_400_000).year


@CONTRACT.method(roles=None, params={"calendar": p_calendar_id, "year": p_int(1970, 9999),
                                     "holidays": p_holidays},
                 optional={"weekend": p_weekend})
def set_calendar(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator publishes the non-banking days of the place ``calendar`` for ``year``: its
    ``holidays`` (dates of that year; may be empty) and its ``weekend`` (default Saturday and
    Sunday), replacing what was published for that year. A deadline already recorded (a
    presentation's examination deadline) does not move; later counts use the new list.

    Raises:
        ContractError: ``forbidden`` (not a regulator), ``bad_calendar``, ``bad_year`` (not
            between last year and five years ahead of block time), ``bad_holiday`` (a date
            not of ``year``), ``duplicate_holiday``, ``too_many_holidays``, ``bad_weekend``.
    """
    _require_calendar_regulator(state, ctx)
    cal, year, holidays = args["calendar"], args["year"], args["holidays"]
    now = _block_year(ctx)
    if not now - CALENDAR_YEARS_BACK <= year <= now + CALENDAR_YEARS_AHEAD:
        raise ContractError(f"year must be {now - CALENDAR_YEARS_BACK} to "
                            f"{now + CALENDAR_YEARS_AHEAD} (block time is in {now})", "bad_year")
    other = [d for d in holidays if int(d[:4]) != year]
    if other:
        raise ContractError(f"holidays: {other[0]} is not in {year}", "bad_holiday")
    weekend = args.get("weekend", list(DEFAULT_WEEKEND))
    key = f"calendar/{cal}/{year:04d}"
    prev = state.peek(NAME, key)
    version = 1 if prev is None else int(prev["version"]) + 1
    state.put(NAME, key, {"weekend": weekend, "holidays": holidays, "by": ctx.sender_hex,
                          "height": ctx.height, "time_ms": ctx.timestamp_ms,
                          "version": version})
    head = state.peek(NAME, "calendar/" + cal)
    if head is None or year >= int(head["year"]):
        state.put(NAME, "calendar/" + cal, {"year": year, "weekend": weekend})
    ctx.emit("calendar_set", {"calendar": cal, "year": year, "holidays": holidays,
                              "weekend": weekend, "version": version, "by": ctx.sender_hex})
    return {"calendar": cal, "year": year, "holidays": len(holidays), "weekend": weekend,
            "version": version}


@CONTRACT.method(roles=None, params={"bank": p_pubkey}, optional={"calendar": p_calendar_id})
def set_bank_calendar(state: ContractState, ctx: TxContext, args: dict[str, Any]
                      ) -> dict[str, Any]:
    """A regulator sets the place of a bank identity: its banking days are counted by
    ``calendar`` (a regional calendar, a branch abroad, a bank without a BIC). Without
    ``calendar`` the link is removed and the bank's BIC country applies again.

    Raises:
        ContractError: ``forbidden``, ``unknown_identity``, ``bad_field`` (not a bank),
            ``unknown_calendar`` (no year of it is published: a typo would count weekends only).
    """
    _require_calendar_regulator(state, ctx)
    bank = identity_id(state, args["bank"])
    require_identity(state, bank, "bank")
    cal = args.get("calendar")
    if cal is None:
        state.delete(NAME, "bank_calendar/" + bank)
    else:
        if state.peek(NAME, "calendar/" + cal) is None:
            raise ContractError(f"no year of calendar {cal} is published", "unknown_calendar")
        state.put(NAME, "bank_calendar/" + bank, {"calendar": cal, "by": ctx.sender_hex,
                                                  "height": ctx.height})
    ctx.emit("bank_calendar_set", {"bank": bank, "calendar": cal, "by": ctx.sender_hex})
    return {"bank": bank, "calendar": bank_calendar(state, bank)}


# ---------------------------------------------------------------------------- proposals


def _p_address(v: Any, name: str) -> str:
    """A p2p address ``host:port`` (validated for shape only; the network decides reachability)."""
    text: str = p_text(128)(v, name)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ContractError(f"{name} must be host:port", "bad_field")
    return text


def _p_watched_bank_policy(v: Any, name: str) -> str:
    """``allow`` | ``alert`` | ``refuse``: what a payment to or from a customer of a watched
    bank does (``contracts.risk.watched_bank_customers``, decisions 277-278)."""
    from contracts import risk

    text: str = p_text(16)(v, name)
    if text not in risk.WATCHED_BANK_POLICIES:
        raise ContractError(f"{name} must be one of {', '.join(risk.WATCHED_BANK_POLICIES)}",
                            "bad_field")
    return text


def _parse_trade_params(params: dict[str, Any]) -> dict[str, Any]:
    """``set_trade_params``: one or more of :data:`TRADE_PARAMS`, each true or false.

    Raises:
        ContractError: ``missing_field`` (none given), ``unknown_param``, ``bad_field`` (not a
            boolean: ``"false"`` or 0 would read as another value than the one meant).
    """
    if not params:
        raise ContractError("params: name at least one of " + ", ".join(TRADE_PARAMS),
                            "missing_field")
    out: dict[str, Any] = {}
    for k in sorted(params):
        if k not in TRADE_PARAMS:
            raise ContractError(f"params.{k} is not a consortium parameter a vote sets (one of "
                                f"{', '.join(TRADE_PARAMS)})", "unknown_param")
        if type(params[k]) is not bool:
            raise ContractError(f"params.{k} must be true or false", "bad_field")
        out[k] = params[k]
    return out


def _parse_params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any]
    optional: dict[str, Any] = {}
    if action == "add_validator":
        spec = {"pubkey": p_pubkey, "name": p_text(64)}
        optional = {"address": _p_address}  # the new node's p2p "host:port"
    elif action == "remove_validator":
        spec = {"pubkey": p_pubkey}
    elif action == "set_role":
        spec = {"pubkey": p_pubkey, "role": p_text(16)}
    elif action == "add_currency":
        spec = {"code": p_currency, "exponent": p_int(0, 4), "issuer": p_pubkey}
    elif action in ("add_regulator", "remove_regulator"):
        spec = {"pubkey": p_pubkey}
    elif action == "set_network_limit":
        from contracts import risk  # risk reads governance; governance only applies its rules

        return risk.parse_rule(params, "params")
    elif action == "remove_network_limit":
        spec = {"rule_id": p_text(64)}
    elif action == "set_seize_approvals":
        spec = {"count": p_int(1, 2)}
    elif action == "upgrade_ledger_format":
        spec = {"format": p_int(2, 2)}
    elif action == "set_watched_bank_customers":  # risk.WATCHED_BANK_POLICIES (decision 278)
        spec = {"policy": _p_watched_bank_policy}
    elif action == "set_trade_params":  # decision 285
        return _parse_trade_params(params)
    else:
        raise ContractError(f"action must be one of {', '.join(ACTIONS)}", "bad_field")
    out: dict[str, Any] = {}
    for k in sorted(spec):
        if params.get(k) is None:
            raise ContractError(f"params.{k} is missing for {action}", "missing_field")
        out[k] = spec[k](params[k], f"params.{k}")
    for k in sorted(optional):
        if params.get(k) is not None:
            out[k] = optional[k](params[k], f"params.{k}")
    extra = sorted(set(params) - set(spec) - set(optional))
    if extra:
        raise ContractError(f"params.{extra[0]} is not a parameter of {action}", "unknown_field")
    return out


def _check_action(state: ContractState, ctx: TxContext, action: str, p: dict[str, Any]) -> None:
    """Would ``action`` apply to the current state? Raises ContractError if not."""
    vals = validators(state)
    if action == "upgrade_ledger_format" and (
            ctx.block.nonce_words or state.get(NAME, LEDGER_FORMAT_KEY) is not None):
        raise ContractError("this chain runs ledger format 2 already (or from the next block)",
                            "already_upgraded")
    if action == "add_validator":
        ident = require_identity(state, p["pubkey"])
        if ident["role"] != "bank":
            raise ContractError("a validator must be registered as a bank first", "not_a_bank")
        if p["pubkey"] in vals:
            raise ContractError("already a validator", "already_validator")
        check_validator_key(ident, p["pubkey"])
        check_one_seat_per_bank(state, ident, vals)
    elif action == "remove_validator":
        if p["pubkey"] not in vals:
            raise ContractError("not a validator", "not_validator")
        if len(vals) <= 1:
            raise ContractError("cannot remove the last validator", "last_validator")
    elif action == "set_role":
        require_identity(state, p["pubkey"])
        if p["role"] not in ROLES:
            raise ContractError(f"role must be one of {', '.join(ROLES)}", "bad_field")
        if p["pubkey"] in vals and p["role"] != "bank":
            raise ContractError("a validator must keep the role bank", "validator_must_be_bank")
    elif action == "add_currency":
        if get_currency(state, p["code"]) is not None:
            raise ContractError(f"currency {p['code']} exists", "currency_exists")
        iso = ISO_EXPONENTS.get(p["code"])
        if iso is not None and iso != p["exponent"]:
            raise ContractError(f"ISO 4217 exponent of {p['code']} is {iso}", "bad_field")
        require_identity(state, p["issuer"])
    elif action == "add_regulator":
        require_identity(state, p["pubkey"])
        if is_regulator(state, p["pubkey"]):
            raise ContractError("already a regulator", "already_regulator")
    elif action == "remove_regulator":
        if not is_regulator(state, p["pubkey"]):
            raise ContractError("not a regulator", "not_regulator")


def check_validator_key(ident: Mapping[str, Any], pubkey: str) -> None:
    """A validator's key is its consensus key and its identity id: the identity must still
    sign with it (a key it replaced may be lost or stolen) and be in good standing.

    Raises:
        ContractError: ``bad_field``.
    """
    if ident.get("key", pubkey) != pubkey:
        raise ContractError("this identity replaced its key: a validator is seated on the key "
                            "its identity signs with", "bad_field")
    if ident.get("status") is not None:
        raise ContractError("a validator must be in good standing", "bad_field")


def check_one_seat_per_bank(state: ContractState, ident: Mapping[str, Any],
                            vals: Collection[str]) -> None:
    """One validator seat per bank: two identities under one BIC/LEI would let one bank cast
    two votes and count as two of the faults the set tolerates.

    Raises:
        ContractError: ``already_validator``.
    """
    bic = ident.get("bank")
    if bic is None:
        return
    for v in sorted(vals):
        seated = peek_identity(state, v)
        if seated is not None and seated.get("bank") is not None and (
                bic_key(seated["bank"]) == bic_key(bic)):
            raise ContractError("this bank already holds a validator seat", "already_validator")


def _apply(state: ContractState, ctx: TxContext, action: str, p: dict[str, Any]) -> None:
    _check_action(state, ctx, action, p)  # the state may have changed since the proposal
    if action == "add_validator":
        state.put(NAME, "validators", sorted([*validators(state), p["pubkey"]]))
        state.put(NAME, "validator_info/" + p["pubkey"],
                  {"name": p["name"], "added_height": ctx.height,
                   "address": p.get("address")})
    elif action == "remove_validator":
        state.put(NAME, "validators", [v for v in validators(state) if v != p["pubkey"]])
        state.delete(NAME, "validator_info/" + p["pubkey"])
    elif action == "set_role":
        ident = require_identity(state, p["pubkey"])
        if p["role"] == "bank" and ident["role"] != "bank" and ident.get("bank") is not None:
            key = "bic/" + bic_key(ident["bank"])
            claim = state.get(NAME, key)
            if claim is not None and claim.get("holder") != p["pubkey"]:
                raise ContractError(f"{ident['bank']} is the BIC of another bank's identities",
                                    "forbidden")
            if claim is None:
                state.put(NAME, key, {"holder": p["pubkey"], "by": None, "count": 1})
        ident["role"] = p["role"]
        state.put(NAME, "id/" + p["pubkey"], ident)
    elif action == "add_currency":
        state.put(NAME, "currency/" + p["code"],
                  {"exponent": p["exponent"], "issuer": p["issuer"]})
        if state.get("settlement", "supply/" + p["code"]) is None:
            state.put("settlement", "supply/" + p["code"], {"issued": 0, "redeemed": 0})
    elif action == "add_regulator":
        state.put(NAME, "regulators", sorted([*regulators(state), p["pubkey"]]))
    elif action == "remove_regulator":
        state.put(NAME, "regulators", [r for r in regulators(state) if r != p["pubkey"]])
    elif action == "upgrade_ledger_format":
        # the ledger reads it from the parent state of every block (decision 95)
        state.put(NAME, LEDGER_FORMAT_KEY, {"format": 2, "from_height": ctx.height + 1})
        ctx.emit("ledger_format_upgraded", {"format": 2, "from_height": ctx.height + 1})
    elif action == "set_trade_params":
        # where genesis writes them (GenesisParams.consortium): the contracts read them as
        # before, from the next transaction on (decision 285)
        params = dict(state.get(NAME, "params") or {})
        params.update(p)
        state.put(NAME, "params", params)
        ctx.emit("trade_params_set", dict(p))
    else:
        from contracts import risk

        risk.apply_governance_action(state, ctx, action, p)


def _tally(state: ContractState, ctx: TxContext, pid: str, prop: dict[str, Any]) -> dict[str, Any]:
    vals = validators(state)
    votes = sorted(set(prop["votes"]) & set(vals))
    need = quorum(len(vals))
    if len(votes) >= need:
        try:
            _apply(state, ctx, prop["action"], prop["params"])
        except ContractError as e:
            prop["status"], prop["error"] = "failed", e.code
            ctx.emit("proposal_failed", {"proposal_id": pid, "action": prop["action"],
                                         "error": e.code})
        else:
            prop["status"] = "applied"
            ctx.emit("proposal_applied", {"proposal_id": pid, "action": prop["action"],
                                          "params": prop["params"]})
            if prop["action"] in ("add_validator", "remove_validator"):
                ctx.emit("validator_set_changed", {"validators": validators(state),
                                                   "from_height": ctx.height + 1})
            if prop["action"] == "set_trade_params":  # where each voted value came from
                voted = dict(state.get(NAME, "params_voted") or {})
                for k in prop["params"]:
                    voted[k] = {"proposal_id": pid, "height": ctx.height,
                                "time_ms": ctx.timestamp_ms}
                state.put(NAME, "params_voted", voted)
    state.put(NAME, "proposal/" + pid, prop)
    _index_open(state, ctx, pid, prop["status"] == "open")
    return {"proposal_id": pid, "status": prop["status"], "votes": len(votes), "needed": need}


def _index_open(state: ContractState, ctx: TxContext, pid: str, is_open: bool) -> None:
    """Keep ``open_proposals`` (decision 286): ``pid`` in it while open, out once closed; a
    proposal being made also drops those whose lifetime has passed (nobody voted them closed),
    so the list holds at most the proposals of one lifetime."""
    prev = list(state.peek(NAME, "open_proposals") or [])
    ids = [i for i in prev if i != pid]
    if is_open:
        kept = []
        for i in ids:
            other = state.peek(NAME, "proposal/" + i)
            if (other is not None and other.get("status") == "open"
                    and ctx.timestamp_ms <= other.get("expires_ms", -1)):
                kept.append(i)
        ids = sorted([*kept, pid])
    if ids != prev:
        state.put(NAME, "open_proposals", ids)


#: How long a proposal stays open (block time). A vote cannot be withdrawn: a proposal left
#: open for good would let one vote, long after, apply what the earlier voters no longer want.
PROPOSAL_LIFETIME_MS = 7 * 24 * 3600 * 1000


def _require_validator(state: ContractState, ctx: TxContext) -> None:
    if ctx.sender_hex not in validators(state):
        raise ContractError("only validators may propose and vote", "forbidden")


@CONTRACT.method(roles=("bank",), params={"action": p_text(32), "params": p_dict})
def propose(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A validator proposes an action (its own vote counts); checked against the current state."""
    _require_validator(state, ctx)
    action = args["action"]
    p = _parse_params(action, args["params"])
    _check_action(state, ctx, action, p)
    pid = ctx.derive_id()
    prop = {"action": action, "params": p, "proposer": ctx.sender_hex,
            "votes": [ctx.sender_hex], "status": "open", "height": ctx.height, "error": None,
            "expires_ms": ctx.timestamp_ms + PROPOSAL_LIFETIME_MS}
    ctx.emit("proposed", {"proposal_id": pid, "action": action, "params": p,
                          "proposer": ctx.sender_hex})
    return _tally(state, ctx, pid, prop)


@CONTRACT.method(roles=("bank",), params={"proposal_id": p_id})
def vote(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A validator votes for an open proposal; the vote reaching quorum(n) applies it. A vote
    after the proposal's lifetime closes it as ``expired`` instead (the vote commits, not
    counted); a proposal recorded without ``expires_ms`` counts as expired."""
    _require_validator(state, ctx)
    pid = args["proposal_id"]
    prop = state.get(NAME, "proposal/" + pid)
    if prop is None:
        raise ContractError(f"no proposal {pid}", "unknown_proposal")
    if prop["status"] != "open":
        raise ContractError(f"proposal is {prop['status']}", "proposal_closed")
    if ctx.timestamp_ms > prop.get("expires_ms", -1):
        prop["status"] = "expired"
        state.put(NAME, "proposal/" + pid, prop)
        _index_open(state, ctx, pid, False)
        ctx.emit("proposal_expired", {"proposal_id": pid, "action": prop["action"]})
        return {"proposal_id": pid, "status": "expired"}
    if ctx.sender_hex in prop["votes"]:
        raise ContractError("this validator already voted", "already_voted")
    prop["votes"] = sorted([*prop["votes"], ctx.sender_hex])
    ctx.emit("voted", {"proposal_id": pid, "voter": ctx.sender_hex})
    return _tally(state, ctx, pid, prop)


# the travel rule's method ``set_travel_info`` (FATF R.16, decision 221; imported last: the
# module imports this one)
from contracts import travel_rule as _travel  # noqa: E402,F401
