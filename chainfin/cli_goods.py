"""``chainfin risk goods set | remove | list``: the regulator's list of controlled goods.

A regulator lists an HS code prefix — a chapter (2 digits), a heading (4) or a subheading (6) —
at ``refuse`` (documents and financing whose goods fall under it are refused) or ``monitor``
(allowed, with an alert for the exporter's home bank and the supervisors), for every
destination or only ``--to`` some countries, with the reason (the legal basis, stated in
refusals); or takes it off (``risk.set_goods_control``, ``risk.remove_goods_control``;
docs/risk.md "Controlled goods"). Anyone reads the list.

The code and the countries are checked here for their form before anything is signed; whether
a country code is assigned is the ledger's to say (this layer imports nothing from contracts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

from chainfin.cli_jurisdictions import _risk_subparsers, parse_code
from chainfin.client import Client, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

__all__ = ["LEVELS", "parse_prefix", "parse_destinations", "parse_reason", "add_parser", "run"]

#: ``contracts.risk_goods.LEVELS``
LEVELS = ("refuse", "monitor")
_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")


def parse_prefix(text: str) -> str:
    """``--code``: an HS chapter, heading or subheading, 2, 4 or 6 digits (surrounding spaces
    dropped; dots are not removed: ``8542.31`` is refused, write ``854231``).

    Raises:
        ChainfinError: not 2, 4 or 6 digits, or chapter 00.
    """
    code = text.strip()
    if not _PREFIX.fullmatch(code) or code.startswith("00"):
        raise ChainfinError(f"--code {text!r}: an HS chapter, heading or subheading, 2, 4 or 6 "
                            "digits (93, 8542, 930690)" + _prefix_hint(code))
    return code


def _prefix_hint(code: str) -> str:
    """What to write instead, for the slips a regulator copying from a regulation makes: an
    HS code with dots or spaces (``85.42``, ``8542.10``: the digits, as the ledger stores
    them), a 3- or 5-digit prefix (HS has no such level: the chapter, heading or subheading
    around it), chapter 00."""
    digits = code.replace(".", "").replace(" ", "")
    if digits != code and digits.isascii() and digits.isdigit() \
            and len(digits) in (2, 4, 6) and not digits.startswith("00"):
        return f": write {digits} (digits only, no dots or spaces)"
    if digits.isascii() and digits.isdigit():
        if digits.startswith("00"):
            return ": there is no HS chapter 00 (chapters run 01 to 97)"
        if len(digits) in (3, 5):
            return (f": {len(digits)} digits is no HS level; the {len(digits) - 1}-digit "
                    f"{'chapter' if len(digits) == 3 else 'heading'} {digits[:-1]} covers it, "
                    f"or list each {len(digits) + 1}-digit "
                    f"{'heading' if len(digits) == 3 else 'subheading'} meant")
        if len(digits) > 6:
            return (f": the list takes prefixes up to the 6-digit subheading ({digits[:6]}); "
                    "a national tariff number falls under it")
    return ""


def parse_destinations(text: str) -> list[str]:
    """``--to``: ISO 3166-1 alpha-2 codes separated by commas (``RU,BY``), each as
    :func:`chainfin.cli_jurisdictions.parse_code` takes it.

    Raises:
        ChainfinError: an empty list or a malformed code.
    """
    try:
        codes = [parse_code(c) for c in text.split(",") if c.strip()]
    except ChainfinError as e:  # parse_code speaks of the jurisdictions' --code
        raise ChainfinError(str(e).replace("--code", "--to", 1)) from None
    if not codes:
        raise ChainfinError("--to: at least one ISO 3166-1 code (RU,BY); leave --to out for "
                            "every destination")
    return sorted(set(codes))


#: ``risk.set_goods_control``'s ``reason``: ``p_text(140)`` (whitespace runs count as one)
MAX_REASON = 140


def parse_reason(text: str) -> str:
    """``--reason`` as the ledger takes it (runs of whitespace as one space, 1 to 140
    characters), checked before signing: the node would refuse it at admission.

    Raises:
        ChainfinError: empty or longer.
    """
    reason = " ".join(text.split())
    if not reason or len(reason) > MAX_REASON:
        raise ChainfinError(f"--reason: 1 to {MAX_REASON} characters (this one has "
                            f"{len(reason)}): the legal basis, stated in refusals, e.g. "
                            "'EU Reg. 833/2014 Annex VII'; the full text stays in the "
                            "regulation")
    return reason


async def read_list(node: str, key: str | None, ca: str | None = None,
                    timeout: float = 60.0) -> dict[str, Any]:
    """The list: ``{"goods_controls": [{code, level, to, reason, by, height, time_ms}],
    "count"}``, by code then level (``refuse`` first). A node older than the controlled-goods
    rules answers as if it were empty: the note says so."""
    ident = load_identity(key) if key else None
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        lst = await c.state_value("risk", "goods_controls") or {}
    rows = [{"code": code, "level": level, **lst[code][level]}
            for code in sorted(lst) for level in LEVELS if level in lst[code]]
    out: dict[str, Any] = {"goods_controls": rows, "count": len(rows)}
    if not rows:
        out["note"] = ("nothing listed (a node without the controlled-goods rules answers "
                       "nothing either)")
    return out


def run(args: argparse.Namespace) -> int:
    """``chainfin risk goods <action>``: exit 0 done, 1 the ledger refused or rejected it, 2
    the command could not be used (nothing sent)."""
    try:
        if args.goods_command == "list":
            out = asyncio.run(read_list(args.node, args.key, args.ca, args.timeout))
            rows = out["goods_controls"]
            if args.level:
                rows = [r for r in rows if r.get("level") == args.level]
            if args.code:
                code = parse_prefix(args.code)
                rows = [r for r in rows if r["code"] == code]
            out["goods_controls"], out["count"] = rows, len(rows)
            print(json.dumps(out))
            return 0
        code = parse_prefix(args.code)
        tx_args: dict[str, Any] = {"code": code, "reason": parse_reason(args.reason)}
        if args.goods_command == "set":
            method = "set_goods_control"
            tx_args["level"] = args.level
            if args.to is not None:
                tx_args["to"] = parse_destinations(args.to)
            flags = [f for f in ("unplaced", "codes_required") if getattr(args, f)]
            if flags and args.to is None:
                raise ValueError(f"--{flags[0].replace('_', '-')} needs --to: an entry for "
                                 "every destination applies wherever the goods go")
            tx_args.update({f: True for f in flags})
        else:
            method = "remove_goods_control"
            if args.level:
                tx_args["level"] = args.level
        return send_or_dry_run(args, "risk", method, tx_args)
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def add_parser(sub: Any) -> None:
    """``chainfin risk goods set | remove | list`` (called by chainfin.cli, after the watch
    list's parser)."""
    g = _risk_subparsers(sub).add_parser(
        "goods", help="the controlled-goods list: refuse or monitor HS code prefixes, to every "
                      "destination or some (regulators set, anyone reads)")
    s = g.add_subparsers(dest="goods_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        add_regulator_call_args(q, run, signs)

    st = s.add_parser("set", help="list an HS code prefix at a level (or replace that entry)")
    st.add_argument("--code", required=True,
                    help="HS chapter, heading or subheading: 2, 4 or 6 digits (93, 8542, 930690)")
    st.add_argument("--level", required=True, choices=LEVELS,
                    help="refuse: documents and financing whose goods fall under it are "
                         "refused; monitor: allowed, with an alert for the exporter's home bank "
                         "and the supervisors (once per exporter, prefix and destination per "
                         "24 h)")
    st.add_argument("--to", default=None,
                    help="only to these destinations: ISO 3166-1 codes, comma-separated "
                         "(RU,BY); default every destination")
    st.add_argument("--reason", required=True,
                    help="the legal basis, stated in refusals (at most 140 characters), e.g. "
                         "'EU Reg. 833/2014 Annex VII'")
    st.add_argument("--unplaced", action="store_true",
                    help="with --to: also goods whose port of discharge is written as a name "
                         "(not a UN/LOCODE), which no country places (decision 169)")
    st.add_argument("--codes-required", action="store_true",
                    help="with --to: goods to these destinations without hs_codes are refused "
                         "(hs_codes_required) at financing, presentation and honour")
    st.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(st)
    rm = s.add_parser("remove", help="take a prefix off the list (reason recorded)")
    rm.add_argument("--code", required=True, help="HS chapter, heading or subheading")
    rm.add_argument("--level", default=None, choices=LEVELS,
                    help="only this level's entry (default: every level)")
    rm.add_argument("--reason", required=True, help="why (recorded in the event)")
    rm.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(rm)
    ls = s.add_parser("list", help="the list: prefix, level, destinations, reason, who and when")
    ls.add_argument("--level", default=None, choices=LEVELS, help="only this level")
    ls.add_argument("--code", default=None, help="only this prefix")
    common(ls, signs=False)
