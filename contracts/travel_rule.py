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
stale rate counting as above), between two identities whose places (:func:`places`: the
countries of the BIC in its record and, for a customer, of its home bank's BIC) are both known
and not all one, is refused ``incomplete_originator_info``: the originator's bank must not
execute it (INR.16, "ordering financial institutions"). So is the one of an incomplete
originator's linked cross-border transfers, each under the threshold, that brings their sum
within 24 hours to it (decision 225; the sum at ``governance/travel/<id>/linked``). Both legs of
a PvP swap are checked at its acceptance, each with its payer as originator (decision 225).

A cover payment (decisions 269-271: INR.16; SWIFT's pacs.009 COV): a bank paying on its
customer's behalf names the customer, ``transfer``'s ``underlying`` (:func:`cover_parties`), and
the check above is the customer's (its data, its places, its linked sum), not the bank's; only
the customer's home bank may name it (``not_home_bank``).

Record-keeping (decision 224): each ``set_travel_info`` keeps a version,
``governance/travel/<id>/<v>``, never rewritten; a transfer by an originator with data names
the version it carried (its result's ``travel_v``: the payer's, never the payee's to read),
which the transfer's view shows — never the record as it is read later. These keys are read as
the record's ``travel`` is.

Cost: a complete originator costs one read the transfer made already (its record, read by the
freeze check); an incomplete one's reads the two records and their home banks' (shared by all
their customers), and a cross-border one the linked sum (read and written); one in another
currency the rate. A transfer by an originator with data reads its latest version number.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, NoReturn

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, p_pubkey, p_text
from contracts import amounts
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
#: the governance keys of an identity's travel data besides its record (decisions 224, 225):
#: ``travel/<id>`` -> ``{"v"}`` (the latest version), ``travel/<id>/<v>`` -> ``{"info", "by",
#: "height", "time_ms"}`` (each version, never rewritten), ``travel/<id>/linked`` -> ``{"since",
#: "sum"}`` (its linked transfers). Read as the record's ``travel`` is (``node/access.py``).
PREFIX = "travel/"

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
    # the version kept for the record-keeping of R.16 (decision 224): never rewritten, so the
    # data a transfer carried (its result's ``travel_v``) is read as it was, five years on
    v = version(state, ident_id) + 1
    state.put(gov.NAME, f"{PREFIX}{ident_id}", {"v": v})
    state.put(gov.NAME, f"{PREFIX}{ident_id}/{v}", {
        "info": info, "by": ctx.sender_hex, "height": ctx.height, "time_ms": ctx.timestamp_ms})
    ctx.emit("travel_info_set", {"pubkey": ident_id, "by": ctx.sender_hex,
                                 "fields": sorted(info), "version": v})
    return {"pubkey": ident_id, "fields": sorted(info), "version": v}


def version(state: ContractState, ident_id: str) -> int:
    """The number of the identity's latest travel-data version (0: none recorded)."""
    cur = state.peek(gov.NAME, PREFIX + ident_id)
    return cur["v"] if isinstance(cur, Mapping) else 0


def carried(state: ContractState, frm: str) -> int | None:
    """The travel-data version a transfer from ``frm`` carries (its result's ``travel_v``,
    decision 224), None when its record holds none: read only when it does."""
    rec = gov.peek_identity(state, frm)
    if rec is None or not rec.get(TRAVEL):
        return None
    return version(state, frm) or None


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


def places(state: ContractState, ident_id: str) -> frozenset[str]:
    """Every place the ledger knows for identity ``ident_id``: the country of the BIC in its
    record and, for a customer, that of the bank that registered it (its home bank). A
    customer's ``bank`` field is the registering bank's to write, unchecked: an LEI, a code that
    is no BIC, or another country's BIC there must not take the customer out of the rule
    (red-team round 11, decision 225). Empty: no place known (a genesis client without a BIC)."""
    from contracts import risk_jurisdictions as jur

    rec = gov.peek_identity(state, ident_id)
    if rec is None:
        return frozenset()
    bics = [rec.get("bank")]
    reg = rec.get("registered_by")
    if reg and rec.get("role") in gov.CUSTOMER_ROLES:
        home = gov.peek_identity(state, reg)
        if home is not None and home.get("role") == "bank":
            bics.append(home.get("bank"))
    return frozenset(c for c in (jur.bic_country(b) for b in bics if isinstance(b, str))
                     if c is not None)


def cross_border(state: ContractState, frm: str, to: str, also_to: str | None = None) -> bool:
    """Both places known, and more than one country among them (``also_to``: a cover payment's
    underlying beneficiary, whose places count with the payee's)."""
    here, there = places(state, frm), places(state, to)
    if also_to is not None:
        there |= places(state, also_to)
    return bool(here and there) and len(here | there) > 1


#: linked transfers (INR.16; EU 2023/1113 art. 6(2): transfers "that appear to be linked"):
#: an incomplete originator's cross-border transfers under the threshold are summed over this
#: window from the first (decision 225)
LINKED_WINDOW_MS = 24 * 3600 * 1000


def check_transfer(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                   amount: int, also_to: str | None = None) -> None:
    """The originator's bank must not execute a transfer lacking R.16 information (INR.16,
    "ordering financial institutions"), nor the one of several linked transfers each under the
    threshold that brings their sum to it (decision 225): an incomplete originator's
    cross-border transfers are summed over :data:`LINKED_WINDOW_MS` (``travel/<id>/linked``).
    ``frm`` is the originator: the payer, or a cover payment's underlying originator
    (:func:`cover_parties`), ``also_to`` its underlying beneficiary.

    Raises:
        ContractError: ``incomplete_originator_info``.
    """
    if complete(gov.peek_identity(state, frm)) or not cross_border(state, frm, to, also_to):
        return
    n = counted(state, ctx.timestamp_ms, currency, amount)
    if n is None or n >= THRESHOLD_MINOR:
        _refuse(state, frm, to, currency, amount, "")
    key = f"{PREFIX}{frm}/linked"
    now, prior = ctx.timestamp_ms, state.peek(gov.NAME, key)
    since, total = (prior["since"], prior["sum"]) if isinstance(prior, Mapping) and \
        now - prior["since"] < LINKED_WINDOW_MS else (now, 0)
    if total + n >= THRESHOLD_MINOR:
        _refuse(state, frm, to, currency, amount, f" (with its other cross-border transfers within 24 hours, "
                f"{THRESHOLD_CURRENCY} {(total + n) // 100:,}: linked transfers are summed)")
    state.put(gov.NAME, key, {"since": since, "sum": total + n})


def _refuse(state: ContractState, frm: str, to: str, currency: str, amount: int,
            why: str) -> NoReturn:
    """The refusal, saying which border, the amount in the currency's decimals, and the
    command the originator's home bank runs (the walk-through of decision 226)."""
    border = f"{'/'.join(sorted(places(state, frm)))} to {'/'.join(sorted(places(state, to)))}"
    raise ContractError(
        f"this transfer ({border}) of {amounts.said(state, amount, currency)} is a cross-border "
        f"transfer of {THRESHOLD_CURRENCY} {THRESHOLD_MINOR // 100:,} or more (FATF R.16){why}: "
        "it needs the originator's address, national or customer id, or date and place of "
        "birth, which its home bank records (`chainfin identity travel set`, the method "
        "governance.set_travel_info)", "incomplete_originator_info")


# ---------------------------------------------------------------------------- cover payments


#: the code of a cover payment naming an underlying originator that is not the signing bank's
#: customer (decision 270)
NOT_ITS_CUSTOMER = "not_home_bank"


def cover_parties(state: ContractState, ctx: TxContext, underlying: str,
                  beneficiary: str | None) -> tuple[str, str | None]:
    """A bank paying on its customer's behalf (SWIFT's pacs.009 COV, whose
    ``UndrlygCstmrCdtTrf`` carries the customer's ``Dbtr``; INR.16 on cover payments: the
    originator is the customer, not the bank) names the customer ``underlying`` and, if it
    will, its payee ``beneficiary``: their identity ids. :func:`check_transfer` then checks
    the customer's travel data (:func:`complete`), places (with the underlying beneficiary's)
    and linked sum, instead of the bank's completeness by its BIC (decisions 269, 270). Only
    the customer's home bank, which holds and verified its data, names it: a bank naming
    another bank's customer would pay under that customer's data and spend its linked sum
    (``not_home_bank``).

    Raises:
        ContractError: ``unknown_identity``, ``not_home_bank``, ``bad_field`` (an underlying
            beneficiary that is the originator or the bank).
    """
    orig = gov.identity_id(state, underlying)
    rec = gov.require_identity(state, orig)
    if not gov.is_home_bank(state, ctx.sender_hex, rec, orig):
        raise ContractError(
            f"underlying: {orig[:16]}… is not a customer of the signing bank: only the "
            "underlying originator's home bank, which holds its verified R.16 data, pays on "
            "its behalf (pacs.009 COV)", NOT_ITS_CUSTOMER)
    ben = None
    if beneficiary is not None:
        ben = gov.identity_id(state, beneficiary)
        gov.require_identity(state, ben)
        if ben in (orig, ctx.sender_hex):
            raise ContractError("underlying_beneficiary: must be another identity than the "
                                "underlying originator and the paying bank", "bad_field")
    return orig, ben
