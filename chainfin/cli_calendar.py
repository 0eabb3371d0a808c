"""``chainfin calendar set | link | show``: the banking calendars letters of credit count with.

A regulator publishes the non-banking days of a place (a calendar: ``GB``, ``AE``, ``DE-HE``)
for one year from a holidays file, and links a bank identity to the calendar of its place when
its BIC's country is not it (decision 142; ``governance.set_calendar``, ``set_bank_calendar``).
Any identity reads a calendar (governance records are network data).

The file is checked here as the ledger checks it (dates written ``YYYY-MM-DD``, all of the year,
none twice, at most :data:`MAX_HOLIDAYS`), so a bad file is refused with its line numbers before
anything is signed; the ledger checks again and is the authority. This layer imports nothing
from contracts: the limits are mirrored, and a unit test holds them equal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import re
import sys
from typing import Any

from chainfin.client import Client, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

__all__ = ["MAX_HOLIDAYS", "read_holidays", "parse_weekend", "add_parser", "run"]

#: ``governance.MAX_HOLIDAYS``: holidays per calendar and year.
MAX_HOLIDAYS = 64
#: ``governance.MAX_WEEKEND_DAYS``.
MAX_WEEKEND_DAYS = 3
#: A holidays file larger than this is not read (64 lines with names fit in a few KiB).
MAX_FILE_BYTES = 64 * 1024
_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_LINE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:\s+.*)?")
_CALENDAR_ID = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def read_holidays(path: str, year: int) -> list[str]:
    """A holidays file: UTF-8, one date per line written ``YYYY-MM-DD``, optionally followed by
    spaces and the holiday's name (not sent: the ledger keeps dates); blank lines and lines
    starting with ``#`` skipped. Returns the dates in file order.

    Raises:
        ChainfinError: the file is too large or not UTF-8, or lines are not dates of ``year``,
            repeat a date, or are more than :data:`MAX_HOLIDAYS` (every bad line listed).
    """
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ChainfinError(f"{path} is over {MAX_FILE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ChainfinError(f"{path} is not UTF-8 (byte {e.start})") from None
    dates: list[str] = []
    first: dict[str, int] = {}
    bad: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _LINE.fullmatch(s)
        try:
            d = datetime.date(int(m[1]), int(m[2]), int(m[3])) if m else None
        except ValueError:
            d = None
        if d is None:
            bad.append(f"line {n}: {s[:32]!r} is not a date written YYYY-MM-DD")
        elif d.year != year:
            bad.append(f"line {n}: {d.isoformat()} is not in {year}")
        elif d.isoformat() in first:
            bad.append(f"line {n}: {d.isoformat()} is listed already (line "
                       f"{first[d.isoformat()]})")
        else:
            first[d.isoformat()] = n
            dates.append(d.isoformat())
    if len(dates) > MAX_HOLIDAYS:
        bad.append(f"{len(dates)} holidays: at most {MAX_HOLIDAYS} a year")
    if bad:
        raise ChainfinError(f"{path}: " + "; ".join(bad))
    return dates


def parse_weekend(text: str) -> list[int]:
    """``sat,sun`` / ``fri,sat`` / ``6,7`` -> ISO weekday numbers (1 Monday .. 7 Sunday).

    Raises:
        ChainfinError: an unknown day, a day twice, none, or more than
            :data:`MAX_WEEKEND_DAYS`.
    """
    days = []
    for part in text.split(","):
        p = part.strip().lower()[:3]
        d = _DAYS.get(p) or (int(p) if p.isdigit() and 1 <= int(p) <= 7 else None)
        if d is None:
            raise ChainfinError(f"--weekend {text!r}: {part.strip()!r} is not a weekday "
                                "(mon..sun or 1..7)")
        days.append(d)
    if not days or len(days) > MAX_WEEKEND_DAYS or len(set(days)) != len(days):
        raise ChainfinError(f"--weekend {text!r}: 1 to {MAX_WEEKEND_DAYS} distinct days")
    return sorted(days)


def _calendar_id(text: str) -> str:
    if not _CALENDAR_ID.fullmatch(text):
        raise ChainfinError(f"--calendar {text!r}: an ISO 3166 country code (GB) or "
                            "subdivision (DE-HE), upper case")
    return text


async def show(node: str, key: str | None, calendar: str, year: int | None,
               ca: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The calendar's latest published year and weekend, and the list of ``year`` (default:
    that latest year): ``{calendar, latest_year, weekend, year, published, holidays, ...}``."""
    ident = load_identity(key) if key else None
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        head = await c.state_value("governance", "calendar/" + calendar)
        out: dict[str, Any] = {"calendar": calendar,
                               "latest_year": head.get("year") if head else None}
        year = year if year is not None else (head or {}).get("year")
        if year is None:
            return {**out, "published": False,
                    "note": "no year of this calendar is published: deadlines at its banks "
                            "count Saturday and Sunday as the only closed days"}
        rec = await c.state_value("governance", f"calendar/{calendar}/{int(year):04d}")
    if rec is None:
        weekend = (head or {}).get("weekend", [6, 7])
        return {**out, "year": year, "published": False, "weekend": weekend,
                "note": f"no holiday list for {year}: deadlines in it count the weekend only "
                        "(presentations record weekends_only)"}
    return {**out, "year": year, "published": True, **rec}


def run(args: argparse.Namespace) -> int:
    """``chainfin calendar <action>``: exit 0 done, 1 the ledger refused or rejected it, 2 the
    command could not be used (nothing sent)."""
    try:
        cal = _calendar_id(args.calendar) if getattr(args, "calendar", None) else None
        if args.calendar_command == "show":
            assert cal is not None
            print(json.dumps(asyncio.run(show(args.node, args.key, cal, args.year, args.ca,
                                              args.timeout))))
            return 0
        if args.calendar_command == "set":
            assert cal is not None
            tx_args: dict[str, Any] = {"calendar": cal, "year": args.year,
                                       "holidays": read_holidays(args.holidays, args.year)}
            if args.weekend:
                tx_args["weekend"] = parse_weekend(args.weekend)
            method = "set_calendar"
        else:
            if (cal is None) == (not args.clear):
                raise ChainfinError("give --calendar ID, or --clear to go back to the bank's "
                                    "BIC country (one of them)")
            tx_args = {"bank": args.bank.strip().lower(), **({"calendar": cal} if cal else {})}
            method = "set_bank_calendar"
        return send_or_dry_run(args, "governance", method, tx_args)
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _year(text: str) -> int:
    """``--year``: a year written YYYY (a typo of five digits is not read as year 20277)."""
    if not re.fullmatch(r"[0-9]{4}", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year written YYYY (e.g. 2027)")
    return int(text)


def _bank_key(text: str) -> str:
    """``--bank``: a bank identity's public key, 64 hex digits (checked before signing)."""
    key = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise argparse.ArgumentTypeError(f"{text!r} is not a public key (64 hex digits: the "
                                         "bank identity's key, as in the genesis)")
    return key


def add_parser(sub: Any) -> None:
    """``chainfin calendar set | link | show`` (called by chainfin.cli)."""
    p = sub.add_parser("calendar", help="banking calendars: the holidays LC deadlines count "
                                        "with (regulators publish, anyone reads)")
    s = p.add_subparsers(dest="calendar_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        add_regulator_call_args(q, run, signs)

    st = s.add_parser("set", help="publish a place's holidays for a year (replaces that year)")
    st.add_argument("--calendar", required=True, help="GB, AE, DE-HE: ISO 3166 code of the place")
    st.add_argument("--year", type=_year, required=True, help="YYYY")
    st.add_argument("--holidays", required=True,
                    help="file: one YYYY-MM-DD a line (a name may follow), '#' comments; an "
                         "empty file publishes a year with no holiday")
    st.add_argument("--weekend", default=None,
                    help="closed weekdays, e.g. sat,sun (default) or fri,sat")
    st.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(st)
    lk = s.add_parser("link", help="count a bank's days by a calendar other than its BIC "
                                   "country's")
    lk.add_argument("--bank", required=True, type=_bank_key,
                    help="the bank identity's public key (hex)")
    lk.add_argument("--calendar", default=None, help="the calendar of the bank's place")
    lk.add_argument("--clear", action="store_true", help="remove the link: its BIC country "
                                                         "applies again")
    lk.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(lk)
    sh = s.add_parser("show", help="a calendar's year: weekend and holidays, or that none is "
                                   "published")
    sh.add_argument("--calendar", required=True)
    sh.add_argument("--year", type=_year, default=None,
                    help="YYYY; default: the latest published")
    common(sh, signs=False)
