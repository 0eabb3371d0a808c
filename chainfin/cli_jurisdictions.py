"""``chainfin risk jurisdictions set | remove | list``: the regulator's jurisdiction list.

A regulator lists an ISO 3166-1 alpha-2 code at ``refuse`` (payments, documents, financing and
credits involving the place are refused) or ``monitor`` (allowed, with a monitoring alert for
the home bank and the supervisors), or takes it off (``risk.set_jurisdiction``,
``risk.remove_jurisdiction``; docs/risk.md "Jurisdictions", decision 149). Anyone reads the list.

The code is checked here for its form (two upper-case letters; ``UK`` refused with its hint,
``GB``) before anything is signed; whether it is an assigned code is the ledger's to say (its
table is the authority, ``contracts.risk_jurisdictions.ASSIGNED``; this layer imports nothing
from contracts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

from chainfin.client import Client, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

__all__ = ["LEVELS", "parse_code", "add_parser", "run"]

#: ``contracts.risk_jurisdictions.LEVELS``
LEVELS = ("refuse", "monitor")
_CODE = re.compile(r"[A-Z]{2}")
_HINTS = {"UK": "GB", "EL": "GR"}


def parse_code(text: str) -> str:
    """``--code``: an ISO 3166-1 alpha-2 code as the ledger takes it (upper case; surrounding
    spaces dropped, lower case raised: the one convenience, the ledger itself is strict).

    Raises:
        ChainfinError: not two letters, or a code people write for another (``UK``).
    """
    code = text.strip().upper()
    if not _CODE.fullmatch(code):
        raise ChainfinError(f"--code {text!r}: an ISO 3166-1 alpha-2 code, two letters (IR, KP)")
    if code in _HINTS:
        raise ChainfinError(f"--code {code} is not an ISO 3166-1 code: write {_HINTS[code]}")
    return code


async def read_list(node: str, key: str | None, ca: str | None = None,
                    timeout: float = 60.0) -> dict[str, Any]:
    """The list: ``{"jurisdictions": [{code, level, by, height, time_ms}], "count"}``, sorted by
    code. A node that does not let this key read the list answers as if it were empty
    (node/access.py): the note says so when the answer is empty."""
    ident = load_identity(key) if key else None
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        lst = await c.state_value("risk", "jurisdictions") or {}
    rows = [{"code": code, **lst[code]} for code in sorted(lst)]
    out: dict[str, Any] = {"jurisdictions": rows, "count": len(rows)}
    if not rows:
        out["note"] = ("nothing listed (a node older than decision 149's read rule answers only "
                       "regulators and auditors: read with such a key to be sure)")
    return out


def run(args: argparse.Namespace) -> int:
    """``chainfin risk jurisdictions <action>``: exit 0 done, 1 the ledger refused or rejected
    it, 2 the command could not be used (nothing sent)."""
    try:
        if args.jurisdictions_command == "list":
            out = asyncio.run(read_list(args.node, args.key, args.ca, args.timeout))
            if args.level:
                out["jurisdictions"] = [r for r in out["jurisdictions"]
                                        if r.get("level") == args.level]
                out["count"] = len(out["jurisdictions"])
            print(json.dumps(out))
            return 0
        code = parse_code(args.code)
        if args.jurisdictions_command == "set":
            method = "set_jurisdiction"
            tx_args: dict[str, Any] = {"code": code, "level": args.level}
            if args.reason:
                tx_args["reason"] = args.reason
        else:
            method = "remove_jurisdiction"
            tx_args = {"code": code, "reason": args.reason}
        return send_or_dry_run(args, "risk", method, tx_args)
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _risk_subparsers(sub: Any) -> Any:
    """The ``chainfin risk`` parser's subcommands (made by ``chainfin.watchlist.add_parser``,
    which must run first)."""
    risk = sub.choices["risk"]
    for action in risk._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("chainfin risk has no subcommands")


def add_parser(sub: Any) -> None:
    """``chainfin risk jurisdictions set | remove | list`` (called by chainfin.cli, after the
    watch list's parser)."""
    j = _risk_subparsers(sub).add_parser(
        "jurisdictions", help="the jurisdiction list: refuse or monitor a country (regulators "
                              "set, anyone reads)")
    s = j.add_subparsers(dest="jurisdictions_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        add_regulator_call_args(q, run, signs)

    st = s.add_parser("set", help="list a country at a level (or change its level)")
    st.add_argument("--code", required=True, help="ISO 3166-1 alpha-2 code: IR, KP, MM")
    st.add_argument("--level", required=True, choices=LEVELS,
                    help="refuse: payments, documents, financing and credits involving it are "
                         "refused; monitor: allowed, with an alert for the home bank and "
                         "supervisors (once per payer and country per 24 h)")
    st.add_argument("--reason", default=None, help="recorded in the event (at most 256 "
                                                   "characters), e.g. 'FATF call for action'")
    st.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(st)
    rm = s.add_parser("remove", help="take a country off the list (reason recorded)")
    rm.add_argument("--code", required=True, help="ISO 3166-1 alpha-2 code")
    rm.add_argument("--reason", required=True, help="why (recorded in the event)")
    rm.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(rm)
    ls = s.add_parser("list", help="the list: code, level, who set it and when")
    ls.add_argument("--level", default=None, choices=LEVELS, help="only this level")
    common(ls, signs=False)
