"""Controlled goods: the regulator's list of HS code prefixes, screened where trade documents are
registered and trades financed (docs/risk.md "Controlled goods"). Part of the ``risk``
contract: its methods are ``risk.set_goods_control`` and ``risk.remove_goods_control``.

Export controls (dual-use goods: EU Regulation 2021/821 Annex I, the Wassenaar lists) and
sectoral sanctions (goods banned to a destination by HS / CN code, e.g. EU Regulation 833/2014
for Russia, the common high-priority items) name goods by their Harmonized System code. A
regulator lists a **prefix** — a chapter (2 digits), a heading (4) or a subheading (6) — at one
of two levels, for every destination or only for some (ISO 3166-1 alpha-2 codes, as the
jurisdiction list writes them), with the reason (the legal basis) stated:

- ``refuse``: a document or financing whose goods fall under the prefix (to a listed
  destination) is refused ``controlled_goods``, the message naming the code, the prefix, the
  destination and the reason — all of it the published list and the document's own data; the
  refusing alert (rule ``controlled_goods_refused``) is kept on the rejected receipt, naming
  the exporter;
- ``monitor``: allowed, with a ``controlled_goods`` alert naming the exporter, for its home bank
  and the supervisors, never the exporter (decision 144), which opens a case (decision 145) —
  at most once per exporter, prefix and destination per 24 h of block time.

A prefix may be listed at both levels (``8542`` refused to RU and BY, monitored everywhere: the
diversion pattern); every matching entry applies, the strictest first: there is no exemption
entry. Whose goods and where to (never guessed):

- the goods: a document's ``hs_codes`` (``contracts.trade.norm.norm_hs_codes``: 6-10 digit
  strings); a document without them is not screened by goods;
- the destination: the country recorded for its port of discharge (``port_countries``,
  decision 152: a UN/LOCODE, never a name; a port named but not placed is :data:`UNPLACED`),
  and at financing and presentation also the buyer's bank's country — the BIC of a letter of
  credit of the trade (a copy registered as a document, or an issued LC attached to it or
  presented under) — and an issued LC's applicant's place. Only what is recorded counts: a
  destination-restricted entry does not apply to goods whose destination is unknown, unless
  it says ``unplaced``; an entry for every destination always does.

Red-team round 8 (docs/redteam-trade.md): an entry with destinations may also say
``unplaced`` (it applies to a port of discharge named but not placed) and ``codes_required``
(goods to its destinations without any ``hs_codes`` are refused ``hs_codes_required`` at
financing, presentation and honour: :func:`require_codes`); a monitored match within the
24 h window is counted, and the next alert says how many passed (``repeats``).

State (contract ``risk``):

- ``goods_controls`` -> ``{PREFIX: {LEVEL: {"to", "reason", "by", "height", "time_ms"}}}``:
  the whole list, one record of at most :data:`MAX_GOODS_CONTROLS` (prefix, level) entries, so
  a screened transaction reads it once (the block's shared decoded value); absent when empty;
- ``stats/<exporter>/goods`` -> ``[[PREFIX, DEST, ms(, n)], ...]``: when the exporter last
  raised a ``controlled_goods`` alert for each prefix and destination (``*``: an entry for
  every destination; ``?``: unplaced), within 24 h, and ``n`` the matches since that raised
  none, at most :data:`MAX_SEEN`. Pattern memory, which the account never
  reads (node/access.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, p_text
from contracts.risk import CONTRACT, NAME, _alert, _require_regulator
from contracts.risk_jurisdictions import LEVELS, bic_country, p_jurisdiction, p_level

REFUSE, MONITOR = LEVELS
#: chapter, heading, subheading
PREFIX_LENGTHS = (2, 4, 6)
#: (prefix, level) entries on the list
MAX_GOODS_CONTROLS = 256
#: destinations one entry may name
MAX_DESTINATIONS = 32
#: a monitoring alert per exporter, prefix and destination at most once within this much time
MONITOR_WINDOW_MS = 24 * 3600 * 1000
#: (prefix, destination) pairs remembered per exporter (the oldest forgotten first)
MAX_SEEN = 32
LIST_KEY = "goods_controls"
SEEN = "goods"  # stats/<exporter>/<SEEN>
#: the destination an entry for every destination is remembered under
ANY_DESTINATION = "*"
#: the stored reason's bound (the list is one record, read by every screened transaction)
REASON_CHARS = 140
#: the destination of goods whose document names its port of discharge but does not place it
#: (a name, a code in lower case: decision 152); an entry with ``unplaced`` applies to it
#: (red-team round 8)
UNPLACED = "?"
#: an entry's options (each only with ``to``; stored only when true)
FLAGS = ("unplaced", "codes_required")

_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")


def p_goods_prefix(v: Any, name: str) -> str:
    """An HS code prefix: 2, 4 or 6 ASCII digits (chapter, heading, subheading), as written;
    chapter ``00`` does not exist.

    Raises:
        ContractError: ``bad_field``.
    """
    if type(v) is not str or not _PREFIX.fullmatch(v) or v.startswith("00"):
        raise ContractError(f"{name} must be an HS chapter, heading or subheading: 2, 4 or 6 "
                            "digits written as a string (\"93\", \"8542\", \"930690\")",
                            "bad_field")
    return v


def p_destinations(v: Any, name: str) -> list[str]:
    """1 to :data:`MAX_DESTINATIONS` ISO 3166-1 alpha-2 codes (the jurisdiction list's table),
    sorted, duplicates dropped.

    Raises:
        ContractError: ``bad_field`` (not a list, empty, too long), ``bad_jurisdiction``.
    """
    if type(v) is not list or not v or len(v) > MAX_DESTINATIONS:
        raise ContractError(f"{name} must be a list of 1..{MAX_DESTINATIONS} ISO 3166-1 codes "
                            "(leave it out for every destination)", "bad_field")
    return sorted({p_jurisdiction(c, f"{name}[{i}]") for i, c in enumerate(v)})


def _p_true(v: Any, name: str) -> bool:
    if v is not True:
        raise ContractError(f"{name} must be true when given", "bad_field")
    return True


def listed(state: ContractState) -> Mapping[str, Any] | None:
    """The list (read only, shared), or None when empty."""
    lst: Mapping[str, Any] | None = state.peek(NAME, LIST_KEY)
    return lst or None


def entry_count(lst: Mapping[str, Any]) -> int:
    return sum(len(levels) for levels in lst.values())


# ============================================================================ screening


def matches(lst: Mapping[str, Any], codes: Iterable[str],
            destinations: Sequence[tuple[str, str]]
            ) -> Iterator[tuple[str, str, str, str | None, str | None, Mapping[str, Any]]]:
    """(level, code, prefix, destination, its role, entry) for each listed entry the goods fall
    under: a code falls under its 2, 4 and 6 digit prefixes; an entry with destinations applies
    to each recorded destination among them (none recorded: it does not apply), one without to
    the goods wherever they go (destination None). Deterministic order: codes sorted, shorter
    prefixes first, ``refuse`` before ``monitor``, destinations in the order given."""
    for code in sorted(set(codes)):
        for n in PREFIX_LENGTHS:
            levels = lst.get(code[:n])
            if not levels:
                continue
            for level in LEVELS:
                e = levels.get(level)
                if e is None:
                    continue
                to = e.get("to") or ()
                if not to:
                    yield level, code, code[:n], None, None, e
                    continue
                for role, cc in destinations:
                    if applies_to(e, cc):
                        yield level, code, code[:n], cc, role, e


def applies_to(e: Mapping[str, Any], cc: str) -> bool:
    """A destination-restricted entry applies to a recorded country among its ``to``, and, with
    ``unplaced``, to goods whose port of discharge is named but not placed (:data:`UNPLACED`)."""
    return cc in (e.get("to") or ()) or (cc == UNPLACED and bool(e.get("unplaced")))


def _where(cc: str | None, role: str | None) -> str:
    if cc is None:
        return ""
    if cc == UNPLACED:
        return (f" to a destination not placed (the {role} is not written as a UN/LOCODE: give "
                f"{role}_locode)")
    return f" to {cc} (the {role}'s country)"


def destinations_of(recorded: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(role, country) pairs, without unknown countries and each country once (its first
    role)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for role, cc in recorded:
        if cc and cc not in seen:
            seen.add(cc)
            out.append((role, cc))
    return out


def screen_goods(state: ContractState, ctx: TxContext, codes: Iterable[str],
                 destinations: Iterable[tuple[str, str | None]], exporter: str,
                 detail: Mapping[str, Any] | None = None) -> None:
    """The goods ``codes`` going to ``destinations`` ((role, country or None): only recorded
    places) against the list, read once. A ``refuse`` entry refuses the transaction (the alert
    kept, naming ``exporter``); then each ``monitor`` entry raises one ``controlled_goods``
    alert naming ``exporter``, unless it raised one for that prefix and destination within
    :data:`MONITOR_WINDOW_MS` of block time.

    Raises:
        ContractError: ``controlled_goods`` naming the code, the listed prefix, the destination
            and the list's reason (the published list says as much).
    """
    codes = list(codes)
    if not codes:
        return
    lst = listed(state)
    if lst is None:
        return
    found = list(matches(lst, codes, destinations_of(destinations)))
    if not found:
        return
    for level, code, prefix, cc, role, e in found:
        if level == REFUSE:
            _alert(state, ctx, "controlled_goods_refused", [exporter],
                   {"hs_code": code, "prefix": prefix, "destination": cc, "party": role,
                    "reason": e["reason"], **(detail or {})}, kept=True)
            where = _where(cc, role)
            raise ContractError(f"the goods {code} fall under {prefix}, which this network's "
                                f"controlled-goods list refuses{where}: {e['reason']}",
                                "controlled_goods")
    done: set[tuple[str, str]] = set()
    for level, code, prefix, cc, role, e in found:
        dest = cc or ANY_DESTINATION
        if level == MONITOR and (prefix, dest) not in done:
            done.add((prefix, dest))
            _monitor(state, ctx, exporter, prefix, dest, {
                "hs_code": code, "prefix": prefix, "destination": cc, "party": role,
                "reason": e["reason"], **(detail or {})})


def _monitor(state: ContractState, ctx: TxContext, exporter: str, prefix: str, dest: str,
             detail: Mapping[str, Any]) -> None:
    key = f"stats/{exporter}/{SEEN}"
    now = ctx.timestamp_ms
    seen: Sequence[Sequence[Any]] = state.peek(NAME, key) or []
    repeats = 0
    for i, (p, d, t, *n) in enumerate(seen):
        if p == prefix and d == dest:
            if now - t < MONITOR_WINDOW_MS:
                # alerted within the window: the home bank has the case; the match is counted
                # and the next alert says how many passed unalerted (red-team round 8)
                state.put(NAME, key, [*seen[:i], [p, d, t, (n[0] if n else 0) + 1],
                                      *seen[i + 1:]])
                return
            repeats = n[0] if n else 0
    keep = [list(e) for e in seen
            if (e[0], e[1]) != (prefix, dest) and now - e[2] < MONITOR_WINDOW_MS]
    state.put(NAME, key, [*keep[-(MAX_SEEN - 1):], [prefix, dest, now]])
    _alert(state, ctx, "controlled_goods", [exporter], {**detail, "repeats": repeats},
           kept=False)


def document_destinations(port_countries: Mapping[str, str] | None,
                          fields: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Where a document says its goods go, from what it records: its port of discharge's
    country (``port_countries``, decision 152) — :data:`UNPLACED` when it names a port of
    discharge it does not place — and, for a letter of credit's copy, its issuing bank's
    country (the buyer's bank)."""
    out: list[tuple[str, str | None]] = []
    if port_countries and port_countries.get("port_of_discharge"):
        out.append(("port_of_discharge", port_countries["port_of_discharge"]))
    elif fields.get("port_of_discharge") is not None:
        # named but not placed ("Vladivostok", "ruvvo"): only an ``unplaced`` entry applies
        out.append(("port_of_discharge", UNPLACED))
    bank = fields.get("issuing_bank")
    if isinstance(bank, str):
        out.append(("buyers_bank", bic_country(bank)))
    return out


def refused(state: ContractState, codes: Iterable[str],
            destinations: Iterable[tuple[str, str | None]]) -> bool:
    """Whether :func:`screen_goods` or :func:`require_codes` would refuse these goods now (a
    read, no alert)."""
    lst = listed(state)
    if lst is None:
        return False
    codes = list(codes)
    dests = destinations_of(destinations)
    if codes:
        return any(m[0] == REFUSE for m in matches(lst, codes, dests))
    return any(e.get("codes_required") and applies_to(e, cc)
               for levels in lst.values() for e in levels.values() for _, cc in dests)


def require_codes(state: ContractState, ctx: TxContext, codes: Iterable[str],
                  destinations: Iterable[tuple[str, str | None]], exporter: str,
                  detail: Mapping[str, Any] | None = None) -> None:
    """Goods without ``hs_codes`` to a destination an entry with ``codes_required`` lists are
    refused ``hs_codes_required`` where money moves against them (financing, presentation,
    honour; red-team round 8): a registrant that leaves the codes out no longer escapes a
    regulator that asked for them. Nothing is read when the goods carry codes.

    Raises:
        ContractError: ``hs_codes_required`` naming the destination, the prefix and the reason
            (the ``controlled_goods_refused`` alert is kept, naming ``exporter``).
    """
    if any(True for _ in codes):
        return
    lst = listed(state)
    if lst is None:
        return
    dests = destinations_of(destinations)
    for prefix in sorted(lst):
        for level in LEVELS:
            e = lst[prefix].get(level)
            if e is None or not e.get("codes_required"):
                continue
            for role, cc in dests:
                if applies_to(e, cc):
                    _alert(state, ctx, "controlled_goods_refused", [exporter],
                           {"hs_code": None, "prefix": prefix, "destination": cc,
                            "party": role, "reason": e["reason"], "missing": "hs_codes",
                            **(detail or {})}, kept=True)
                    raise ContractError(
                        f"goods{_where(cc, role)} must carry hs_codes: this network's "
                        f"controlled-goods list lists {prefix} there at {level} and requires "
                        f"the goods' codes: {e['reason']}", "hs_codes_required")


# ============================================================================ methods


@CONTRACT.method(roles=None, params={"code": p_goods_prefix, "level": p_level,
                                     "reason": p_text(REASON_CHARS)},
                 optional={"to": p_destinations, "unplaced": _p_true,
                           "codes_required": _p_true})
def set_goods_control(state: ContractState, ctx: TxContext, args: dict[str, Any]
                      ) -> dict[str, Any]:
    """A regulator lists an HS code prefix at ``level`` (``refuse`` | ``monitor``) for the
    destinations ``to`` (absent: every destination), with the reason (the legal basis, stated
    in refusals); setting a (prefix, level) again replaces its entry. Event
    ``goods_control_set`` with the previous destinations (``previous``: None when new).
    Options, with ``to`` only (red-team round 8): ``unplaced: true`` — the entry also applies
    to goods whose port of discharge is named but not placed (not a UN/LOCODE);
    ``codes_required: true`` — goods to those destinations without ``hs_codes`` are refused
    ``hs_codes_required`` at financing, presentation and honour."""
    _require_regulator(state, ctx)
    code, level, to = args["code"], args["level"], args.get("to", [])
    flags = {f: True for f in FLAGS if args.get(f)}
    if flags and not to:
        raise ContractError(f"{', '.join(flags)} needs destinations (to): an entry for every "
                            "destination applies wherever the goods go", "bad_field")
    lst = dict(state.peek(NAME, LIST_KEY) or {})
    levels = dict(lst.get(code) or {})
    previous = levels[level].get("to", []) if level in levels else None
    if previous is None and entry_count(lst) >= MAX_GOODS_CONTROLS:
        raise ContractError(f"the list holds {MAX_GOODS_CONTROLS} goods controls already",
                            "too_many_goods_controls")
    levels[level] = {"to": to, "reason": args["reason"], "by": ctx.sender_hex,
                     "height": ctx.height, "time_ms": ctx.timestamp_ms, **flags}
    lst[code] = levels
    state.put(NAME, LIST_KEY, lst)
    ctx.emit("goods_control_set", {"code": code, "level": level, "to": to,
                                   "previous": previous, "reason": args["reason"],
                                   "by": ctx.sender_hex, **flags}, contract=NAME)
    return {"code": code, "level": level, "to": to, "previous": previous, **flags}


@CONTRACT.method(roles=None, params={"code": p_goods_prefix, "reason": p_text(256)},
                 optional={"level": p_level})
def remove_goods_control(state: ContractState, ctx: TxContext, args: dict[str, Any]
                         ) -> dict[str, Any]:
    """A regulator takes a prefix off the list at ``level``, or at every level when none is
    given; event ``goods_control_removed`` with the levels removed and the reason."""
    _require_regulator(state, ctx)
    code, level = args["code"], args.get("level")
    lst = dict(state.peek(NAME, LIST_KEY) or {})
    levels = dict(lst.get(code) or {})
    removed = [lv for lv in LEVELS if lv in levels and level in (None, lv)]
    if not removed:
        at = f" at {level}" if level else ""
        raise ContractError(f"{code} is not on the controlled-goods list{at}",
                            "unknown_goods_control")
    for lv in removed:
        del levels[lv]
    if levels:
        lst[code] = levels
    else:
        del lst[code]
    if lst:
        state.put(NAME, LIST_KEY, lst)
    else:
        state.delete(NAME, LIST_KEY)
    ctx.emit("goods_control_removed", {"code": code, "levels": removed,
                                       "reason": args["reason"], "by": ctx.sender_hex},
             contract=NAME)
    return {"code": code, "removed": removed}
