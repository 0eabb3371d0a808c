"""Jurisdictions: the regulator's list of places, screened where money and goods move
(docs/risk.md "Jurisdictions"; decision 149). Part of the ``risk`` contract: its methods are
``risk.set_jurisdiction`` and ``risk.remove_jurisdiction``.

A regulator lists an ISO 3166-1 alpha-2 code (:data:`ASSIGNED`, a fixed table: no library, this
runs in execution) at one of two levels:

- ``refuse`` (FATF's "call for action", a national sanctions programme by country): a payment,
  document, financing or credit involving the place is refused ``jurisdiction_refused``; the
  refusing alert (rule ``jurisdiction_refused``) is kept on the rejected receipt, as a watch-list
  hit's is;
- ``monitor`` (FATF's "increased monitoring"): allowed, with a ``high_risk_jurisdiction`` alert
  for the home bank and the supervisors (never the account holder: decision 144), which opens a
  case (decision 145) — at most once per payer and jurisdiction per 24 h of block time.

Where a place comes from (never guessed from a name):

- an identity: the country of its BIC (characters 5-6: ``BARCGB22`` -> ``GB``); a customer
  without a ``bank`` field: the BIC of the admin bank that registered it (its home bank).
  Governance records no registered country, and an LEI names none: such an identity has no
  place and is not screened by place;
- a trade document's port of loading or discharge written as a UN/LOCODE (``CNSHA``,
  ``CN SHA``, ``CN-SHA``): its first two letters, read on the field as submitted at
  registration and recorded on the document (``port_countries``), which financing screens
  (:func:`locode_country`, :func:`port_countries`);
- a letter of credit document's issuing bank: the country of its BIC.

State (contract ``risk``):

- ``jurisdictions`` -> ``{CODE: {"level", "by", "height", "time_ms"}}``: the whole list, one
  record of at most :data:`MAX_JURISDICTIONS` entries, so screening a transaction costs one
  read whatever the number of places it names (and the read is of the block's shared decoded
  value: :meth:`StateView.peek`);
- ``stats/<account>/jurisdictions`` -> ``[[CODE, ms], ...]``: when the account last raised a
  ``high_risk_jurisdiction`` alert for each place, within the last 24 h (at most
  :data:`MAX_SEEN`; older entries dropped at the next write). Under ``stats/``: pattern memory,
  which the account itself never reads (node/access.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, bic_key, p_text
from contracts import governance as gov
from contracts.risk import CONTRACT, NAME, _alert, _require_regulator, screen_bank_code

#: ISO 3166-1 alpha-2: the 249 officially assigned codes (ISO 3166 Maintenance Agency; checked
#: against Debian iso-codes 4.15), plus ``XK`` (Kosovo), user-assigned in ISO 3166 but the
#: country code of Kosovo's BICs (SWIFT) and IBANs: without it a bank in Kosovo has no place.
#: Reserved codes (``UK``, ``EU``, ``EZ``, ``UN``, ...) and withdrawn ones (``AN``, ``YU``,
#: ``CS``) are not places. Changing this table is a consensus rule.
ASSIGNED = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
XK
""".split())

#: codes people write for an assigned one (refused, with the hint)
_HINTS = {"UK": "GB", "EL": "GR"}

LEVELS = ("refuse", "monitor")
REFUSE, MONITOR = LEVELS
#: entries on the list (every assigned code fits: the bound is the table's size)
MAX_JURISDICTIONS = 250
#: a monitoring alert per payer and place at most once within this much block time
MONITOR_WINDOW_MS = 24 * 3600 * 1000
#: places remembered per payer (the oldest forgotten first: it may alert again, never less)
MAX_SEEN = 32
LIST_KEY = "jurisdictions"
SEEN = "jurisdictions"  # stats/<account>/<SEEN>

_CODE = re.compile(r"[A-Z]{2}")
_BIC = re.compile(r"[A-Z]{4}([A-Z]{2})[A-Z0-9]{5}")


def p_jurisdiction(v: Any, name: str) -> str:
    """An ISO 3166-1 alpha-2 code, exactly as written: two upper-case letters of
    :data:`ASSIGNED`.

    Raises:
        ContractError: ``bad_jurisdiction``.
    """
    if type(v) is not str or not _CODE.fullmatch(v):
        raise ContractError(f"{name} must be an ISO 3166-1 alpha-2 code, two upper-case letters "
                            "(IR, KP)", "bad_jurisdiction")
    if v not in ASSIGNED:
        hint = f" (the code is {_HINTS[v]})" if v in _HINTS else ""
        raise ContractError(f"{name}: {v} is not an assigned ISO 3166-1 code{hint}",
                            "bad_jurisdiction")
    return v


def p_level(v: Any, name: str) -> str:
    """A list entry's level (``refuse`` | ``monitor``), for this list and the goods list."""
    if v not in LEVELS:
        raise ContractError(f"{name} must be one of {', '.join(LEVELS)}", "bad_field")
    return str(v)


# ============================================================================ places


@functools.lru_cache(maxsize=4096)  # pure: the same BICs recur in every payment
def bic_country(bic: str) -> str | None:
    """The country of a BIC (characters 5-6, :func:`chainfin.execution.bic_key` form), or None
    (an LEI, a malformed BIC, a code that is no place)."""
    m = _BIC.fullmatch(bic_key(bic))
    return m[1] if m and m[1] in ASSIGNED else None


#: A UN/LOCODE as written (UNECE Recommendation 16): the ISO 3166-1 alpha-2 code of the
#: country, then the three-character location code — letters, or digits 2-9 (0 and 1 are never
#: used: they read as O and I) — together or apart by one space or one hyphen. Upper case, ASCII.
_LOCODE = re.compile(r"([A-Z]{2})[ -]?([A-Z2-9]{3})")

PORT_ROLES = ("port_of_loading", "port_of_discharge")


def locode_country(port: Any) -> str | None:
    """The country of a port written as a UN/LOCODE — ``CNSHA``, ``CN SHA``, ``CN-SHA``: two
    upper-case letters of an assigned country code and three upper-case letters or digits 2-9,
    the whole field (surrounding blanks aside) — or None.

    Read on the field **as submitted**, never on the stored name skeleton (lower case, words
    sorted, legal-form words dropped), which cannot tell "Lagos" from ``LAGOS`` nor keep the
    ``SA`` of ``SA JED``. A port written as a name ("Shanghai", "Lagos", "Genoa", "La Paz") is
    never mapped (no gazetteer), nor is a code in lower case (``cnsha``: not written as a
    LOCODE) or one whose country is not assigned (``UKLON``, ``ZZABC``). What case cannot tell:
    a five-letter name written in capitals (``GENOA``) is in LOCODE form and is read as one
    (docs/risk.md "Jurisdictions")."""
    if type(port) is not str:
        return None
    m = _LOCODE.fullmatch(port.strip())
    return m[1] if m and m[1] in ASSIGNED else None


def port_countries(fields: Mapping[str, Any]) -> dict[str, str]:
    """``{role: country}`` of a document's ports written as UN/LOCODEs (:func:`locode_country`
    of the fields as submitted), only those: what ``trade_documents.register`` records on the
    document as ``port_countries`` and screens, and financing screens again."""
    out: dict[str, str] = {}
    for role in PORT_ROLES:
        cc = locode_country(fields.get(role))
        if cc is not None:
            out[role] = cc
    return out


def identity_country(state: ContractState, account: str) -> str | None:
    """The place of an identity: its BIC's country; a customer without a ``bank`` field, that of
    the admin bank that registered it (its home bank). None: no place known (an LEI, no bank)."""
    ident = gov.peek_identity(state, account)
    if ident is None:
        return None
    bank = ident.get("bank")
    if isinstance(bank, str):
        return bic_country(bank)
    reg = ident.get("registered_by")
    if reg and ident.get("role") in gov.CUSTOMER_ROLES:
        home = gov.peek_identity(state, reg)
        if home is not None and home.get("role") == "bank" and isinstance(home.get("bank"), str):
            return bic_country(home["bank"])
    return None


def listed(state: ContractState) -> Mapping[str, Any] | None:
    """The list (read only, shared), or None when empty."""
    lst: Mapping[str, Any] | None = state.peek(NAME, LIST_KEY)
    return lst or None


# ============================================================================ screening


def screen_places(state: ContractState, ctx: TxContext, lst: Mapping[str, Any],
                  places: Iterable[tuple[str, str | None]], payer: str,
                  detail: Mapping[str, Any] | None = None) -> None:
    """``places``: (role, country or None) a transaction involves. A refused place refuses it
    (the alert kept, naming the signer as a watch-list hit does); then each monitored place
    raises one ``high_risk_jurisdiction`` alert naming ``payer``, unless ``payer`` raised one for
    that place within :data:`MONITOR_WINDOW_MS` of block time.

    Raises:
        ContractError: ``jurisdiction_refused`` naming the role and the place.
    """
    found = [(role, cc, lst[cc]["level"]) for role, cc in places if cc is not None and cc in lst]
    if not found:
        return
    for role, cc, level in found:
        if level == REFUSE:
            _alert(state, ctx, "jurisdiction_refused", [ctx.sender_hex],
                   {"party": role, "jurisdiction": cc}, kept=True)
            raise ContractError(f"the {role} is in {cc}, a jurisdiction this network refuses",
                                "jurisdiction_refused")
    done: set[str] = set()
    for role, cc, level in found:
        if level == MONITOR and cc not in done:
            done.add(cc)
            _monitor(state, ctx, payer, cc, role, detail or {})


def _monitor(state: ContractState, ctx: TxContext, payer: str, cc: str, role: str,
             detail: Mapping[str, Any]) -> None:
    key = f"stats/{payer}/{SEEN}"
    now = ctx.timestamp_ms
    seen: Sequence[Sequence[Any]] = state.peek(NAME, key) or []
    for c, t in seen:
        if c == cc and now - t < MONITOR_WINDOW_MS:
            return  # alerted within the window: the home bank already has the case
    keep = [[c, t] for c, t in seen if c != cc and now - t < MONITOR_WINDOW_MS]
    state.put(NAME, key, [*keep[-(MAX_SEEN - 1):], [cc, now]])
    _alert(state, ctx, "high_risk_jurisdiction", [payer],
           {"jurisdiction": cc, "party": role, **detail}, kept=False)


def screen_payment(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                   amount: int) -> None:
    """Both sides of a payment (a transfer, a PvP leg, a disbursement, an LC's proceeds) by
    their places: one read when nothing is listed; else the two identity records (read already
    by the freeze checks) and the BICs' countries (memoised)."""
    lst = listed(state)
    if lst is None:
        return
    screen_places(state, ctx, lst, (("payer", identity_country(state, frm)),
                                    ("payee", identity_country(state, to))),
                  frm, {"currency": currency, "amount": amount, "counterparty": to})


def screen_accounts(state: ContractState, ctx: TxContext, accounts: Iterable[str]) -> None:
    """Identities a transaction involves besides a payment's two sides (a document's owner and
    registrant, an LC's applicant and beneficiary, an issuance's recipient) and its signer (an
    LC's issuing bank, the financing bank) by their places; the signer stands as payer."""
    lst = listed(state)
    if lst is None:
        return
    accts = [a for a in accounts if a]
    places = [("party", identity_country(state, a)) for a in accts]
    if ctx.sender_hex not in accts:
        places.append(("signer", identity_country(state, ctx.sender_hex)))
    screen_places(state, ctx, lst, places, ctx.sender_hex)


def screen_ports(state: ContractState, ctx: TxContext, countries: Mapping[str, str]) -> None:
    """The ports of a document or a trade by the countries recorded for them (``countries``:
    role -> country, :func:`port_countries`; ``port_of_loading:<doc>`` at financing); the
    signer stands as payer. A port written as a name has no entry and no place."""
    lst = listed(state)
    if lst is None:
        return
    places = [(role.split(":")[0], countries[role]) for role in sorted(countries)]
    screen_places(state, ctx, lst, places, ctx.sender_hex)


def screen_bank(state: ContractState, ctx: TxContext, role: str, bic: str | None) -> None:
    """A bank a document names by its BIC (a letter of credit's issuing bank): not a watched
    bank identity (:func:`contracts.risk.screen_bank_code`, decision 237), nor in a refused
    place."""
    screen_bank_code(state, ctx, role, bic)
    lst = listed(state)
    if lst is None or not bic:
        return
    screen_places(state, ctx, lst, ((role, bic_country(bic)),), ctx.sender_hex)


# ============================================================================ methods


@CONTRACT.method(roles=None, params={"code": p_jurisdiction, "level": p_level},
                 optional={"reason": p_text(256)})
def set_jurisdiction(state: ContractState, ctx: TxContext, args: dict[str, Any]
                     ) -> dict[str, Any]:
    """A regulator lists a jurisdiction at ``level`` (``refuse`` | ``monitor``), or changes its
    level; event ``jurisdiction_set`` with the previous level and the reason."""
    _require_regulator(state, ctx)
    code, level = args["code"], args["level"]
    lst = dict(state.peek(NAME, LIST_KEY) or {})
    previous = lst[code]["level"] if code in lst else None
    if previous is None and len(lst) >= MAX_JURISDICTIONS:
        raise ContractError(f"the list holds {MAX_JURISDICTIONS} jurisdictions already",
                            "too_many_jurisdictions")
    lst[code] = {"level": level, "by": ctx.sender_hex, "height": ctx.height,
                 "time_ms": ctx.timestamp_ms}
    state.put(NAME, LIST_KEY, lst)
    ctx.emit("jurisdiction_set", {"code": code, "level": level, "previous": previous,
                                  "reason": args.get("reason", ""), "by": ctx.sender_hex},
             contract=NAME)
    return {"code": code, "level": level, "previous": previous}


@CONTRACT.method(roles=None, params={"code": p_jurisdiction, "reason": p_text(256)})
def remove_jurisdiction(state: ContractState, ctx: TxContext, args: dict[str, Any]
                        ) -> dict[str, Any]:
    """A regulator takes a jurisdiction off the list; event ``jurisdiction_removed`` with the
    level it had and the reason."""
    _require_regulator(state, ctx)
    code = args["code"]
    lst = dict(state.peek(NAME, LIST_KEY) or {})
    old = lst.pop(code, None)
    if old is None:
        raise ContractError(f"{code} is not on the jurisdiction list", "unknown_jurisdiction")
    if lst:
        state.put(NAME, LIST_KEY, lst)
    else:
        state.delete(NAME, LIST_KEY)
    ctx.emit("jurisdiction_removed", {"code": code, "level": old["level"],
                                      "reason": args["reason"], "by": ctx.sender_hex},
             contract=NAME)
    return {"code": code, "removed": old["level"]}
