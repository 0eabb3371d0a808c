"""The travel rule (FATF Recommendation 16; EU Regulation 2023/1113 art. 4; US 31 CFR
1010.410(f)): a cross-border transfer of USD/EUR 1,000 or more carries the originator's name,
account and address (or national identity number, customer identification number, or date and
place of birth), and the beneficiary's name and account (docs/risk.md "The travel rule";
decisions 221, 222). Part of the ``governance`` contract (method ``set_travel_info``) and of
``settlement.transfer`` (:func:`check_transfer`).

On this ledger every party is a registered identity: its **name** is in its record (required
at registration, 1..64 characters) and its **account** is its identity id, so a beneficiary
lacking a name or an account cannot exist: that half of the rule holds by construction. What
no record held before is the originator's address or identifier. It is the ``travel`` field of
the identity record ``governance/id/<id>``, written by the identity's home bank, which verified
it (R.16: the ordering institution holds *verified* originator information) or, for an
institution (a bank, an issuer: no home bank), by a regulator:

- ``address``: ``{"lines": [1..3 lines of 1..70 characters], "town": 1..35, "country": ISO
  3166-1 alpha-2}`` (ISO 20022 ``PstlAdr``: ``AdrLine``, ``TwnNm``, ``Ctry``);
- ``national_id``, ``customer_id``: 1..35 characters (ISO 20022 ``PrvtId/Othr/Id``);
- ``birth``: ``{"date": "YYYY-MM-DD", "city": 1..35, "country": alpha-2}`` (``DtAndPlcOfBirth``).

Any one of them completes the originator; an institution with a BIC/LEI in its record (the
identifier the SWIFT directory and the GLEIF resolve to its address) is complete without one.
The ``travel`` field is read only by the identity, its home bank, the supervisors, and each of
the two banks of a transfer it made (through that transfer's view: ``node/access.py``).

The ledger's check (:func:`check_transfer`): a transfer whose originator is not complete, of
:data:`THRESHOLD_MINOR` USD minor units or more (EUR counted one for one, as FATF writes "USD/EUR
1 000"; another currency at the regulator's USD reference rate, decisions 187-188, a missing or
stale rate counting as above), between two identities whose places (their BICs' countries,
``risk_jurisdictions.identity_country``) are both known and differ, is refused
``incomplete_originator_info``: the originator's bank must not execute it (INR.16, "ordering
financial institutions"). A complete originator, a small or a domestic transfer costs no read the transfer did not
already make (the originator's record is read by the freeze check; the threshold in USD or EUR
is a comparison); only an incomplete originator's large transfer reads the places, and one in
another currency the rate.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, p_pubkey, p_text
from contracts import governance as gov
from contracts.governance import CONTRACT

#: USD 1,000.00 in USD minor units: the threshold of FATF R.16 (INR.16: a de minimis threshold
#: no higher than USD/EUR 1,000), of EU 2023/1113 art. 5-6 (EUR 1,000) and below
#: the US USD 3,000. Changing it is a consensus rule (decision 221).
THRESHOLD_MINOR = 100_000
#: the currency the threshold is counted in, and those counted one for one against it
THRESHOLD_CURRENCY = "USD"
AT_PAR = ("USD", "EUR")
#: the fields of an identity record's ``travel`` entry (ISO 20022 ``Dbtr``)
TRAVEL_FIELDS = ("address", "national_id", "customer_id", "birth")
TRAVEL = "travel"

_line = p_text(70)
_town = p_text(35)


def _country(v: Any, name: str) -> str:
    from contracts import risk_jurisdictions as jur  # imports risk, which imports governance

    try:
        return jur.p_jurisdiction(v, name)
    except ContractError as e:
        raise ContractError(str(e), "bad_field") from None


def _exact(v: Any, name: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(v, Mapping) or not set(v) <= set(keys):
        raise ContractError(f"{name}: must be an object with only {', '.join(keys)}",
                            "bad_field")
    return v


def p_address(v: Any, name: str) -> dict[str, Any]:
    d = _exact(v, name, ("lines", "town", "country"))
    lines = d.get("lines")
    if type(lines) is not list or not 1 <= len(lines) <= 3:
        raise ContractError(f"{name}.lines: must be a list of 1..3 address lines", "bad_field")
    out = {"lines": [_line(x, f"{name}.lines") for x in lines],
           "country": _country(d.get("country"), f"{name}.country")}
    if "town" in d:
        out["town"] = _town(d["town"], f"{name}.town")
    return out


def p_birth(v: Any, name: str) -> dict[str, Any]:
    d = _exact(v, name, ("date", "city", "country"))
    date = d.get("date")
    try:
        ok = type(date) is str and len(date) == 10 and \
            datetime.date.fromisoformat(date).isoformat() == date
    except ValueError:
        ok = False
    if not ok:
        raise ContractError(f"{name}.date: must be a date YYYY-MM-DD", "bad_field")
    return {"date": date, "city": _town(d.get("city"), f"{name}.city"),
            "country": _country(d.get("country"), f"{name}.country")}


PARAMS = {"address": p_address, "national_id": p_text(35), "customer_id": p_text(35),
          "birth": p_birth}


@CONTRACT.method(roles=None, params={"pubkey": p_pubkey}, optional=PARAMS)
def set_travel_info(state: ContractState, ctx: TxContext, args: dict[str, Any]
                    ) -> dict[str, Any]:
    """Record the originator information of identity ``pubkey`` that FATF R.16 requires besides
    its name and account: any of ``address``, ``national_id``, ``customer_id``, ``birth`` (the
    whole entry is replaced: a field left out is removed). By the identity's home bank (which
    verified it), or by a regulator (an institution has no home bank). Event
    ``travel_info_set`` names the identity and the fields set, never their values."""
    ident_id = gov.identity_id(state, args["pubkey"])
    rec = gov.require_identity(state, ident_id)
    if not (gov.is_regulator(state, ctx.sender_hex)
            or gov.is_home_bank(state, ctx.sender_hex, rec, ident_id)):
        raise ContractError("only the identity's home bank or a regulator may record its "
                            "originator information", "forbidden")
    info = {k: args[k] for k in TRAVEL_FIELDS if k in args}
    if not info:
        raise ContractError(f"give at least one of {', '.join(TRAVEL_FIELDS)}", "missing_field")
    rec[TRAVEL] = info
    state.put(gov.NAME, "id/" + ident_id, rec)
    ctx.emit("travel_info_set", {"pubkey": ident_id, "by": ctx.sender_hex,
                                 "fields": sorted(info)})
    return {"pubkey": ident_id, "fields": sorted(info)}


def complete(rec: Mapping[str, Any] | None) -> bool:
    """Does identity record ``rec`` hold R.16 originator information besides its name and
    account: a ``travel`` entry, or (an institution) a BIC/LEI?"""
    if rec is None:
        return False
    if rec.get(TRAVEL):
        return True
    return rec.get("role") not in gov.CUSTOMER_ROLES and isinstance(rec.get("bank"), str)


def counted(state: ContractState, now_ms: int, currency: str, amount: int) -> int | None:
    """``amount`` of ``currency`` in USD minor units, as the threshold counts it; None when no
    fresh reference rate counts it (which counts as above the threshold)."""
    if currency in AT_PAR:
        return amount
    from contracts import risk_rates

    try:
        return risk_rates.to_base(state, now_ms, THRESHOLD_CURRENCY, currency, amount)
    except ContractError:
        return None


def applies(state: ContractState, now_ms: int, frm: str, to: str, currency: str,
            amount: int) -> bool:
    """Is a transfer of ``amount`` ``currency`` from ``frm`` to ``to`` one that must carry
    complete originator information: cross-border (both places known and different) and at or
    above the threshold? Cheap first: the comparison in USD/EUR, then the places, then a
    rate."""
    if currency in AT_PAR and amount < THRESHOLD_MINOR:
        return False
    from contracts import risk_jurisdictions as jur

    here, there = jur.identity_country(state, frm), jur.identity_country(state, to)
    if here is None or there is None or here == there:
        return False
    n = counted(state, now_ms, currency, amount)
    return n is None or n >= THRESHOLD_MINOR


def check_transfer(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                   amount: int) -> None:
    """The originator's bank must not execute a transfer lacking R.16 information (INR.16,
    "ordering financial institutions").

    Raises:
        ContractError: ``incomplete_originator_info``.
    """
    if complete(gov.peek_identity(state, frm)):
        return
    if applies(state, ctx.timestamp_ms, frm, to, currency, amount):
        raise ContractError(
            f"a cross-border transfer of {THRESHOLD_CURRENCY} {THRESHOLD_MINOR // 100:,} or "
            "more (FATF R.16) needs the originator's address, national or customer id, or date "
            "and place of birth; its home bank records them (governance.set_travel_info)",
            "incomplete_originator_info")
