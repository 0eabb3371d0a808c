"""``chainfin identity travel set | show | tx``: a customer's travel-rule data (FATF R.16) as a
bank's onboarding officer records it and as the two banks of a transfer read it (decisions 221,
222, 226; docs/risk.md "The travel rule").

- ``set``: the customer's home bank (or, for an institution, a regulator) records the
  originator information a cross-border transfer of USD/EUR 1,000 or more needs besides the name
  and the account: an address, a national or customer id, a date and place of birth
  (``governance.set_travel_info``; the whole entry is replaced: a field left out is removed);
- ``show``: the identity's record as the key reads it: name, role, home bank, and its ``travel``
  entry, or that none is recorded or that this key does not read it;
- ``tx``: a transfer's R.16 data as ``GET /v1/tx`` gives it to the originator's bank, the
  beneficiary's bank and the supervisors, with the amounts in the currency's decimals.

The fields are checked here as the ledger checks them (``contracts/travel_rule.py``: lengths,
ISO 3166 country codes, dates), so a typo is refused, naming the option, before anything is
signed; the ledger checks again and is the authority. This layer imports nothing from
contracts: the limits are mirrored, and a unit test holds them equal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import re
import sys
from typing import Any

from chainfin.client import Client, ClientError, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.money import money

__all__ = ["MAX_LINE", "MAX_LINES", "MAX_TEXT", "travel_args", "readable_tx", "add_parser",
           "run"]

#: ``travel_rule``: an address line (ISO 20022 ``AdrLine``), at most three of them
MAX_LINE, MAX_LINES = 70, 3
#: ``travel_rule``: a town, a city of birth, a national or customer id
MAX_TEXT = 35
_KEY = re.compile(r"[0-9a-f]{64}")
_COUNTRY = re.compile(r"[A-Z]{2}")
#: ``travel_rule.TRAVEL_FIELDS``
_FIELDS = ("address", "national_id", "customer_id", "birth")


def _text(v: str, opt: str, most: int) -> str:
    s = v.strip()
    if not 1 <= len(s) <= most:
        raise ChainfinError(f"{opt} {v!r}: 1 to {most} characters")
    return s


def _country(v: str, opt: str) -> str:
    if not _COUNTRY.fullmatch(v.strip().upper()):
        raise ChainfinError(f"{opt} {v!r}: an ISO 3166-1 alpha-2 country code (US, GB, CN)")
    return v.strip().upper()


def _key(text: str, opt: str) -> str:
    key = text.strip().lower()
    if not _KEY.fullmatch(key):
        raise ChainfinError(f"{opt} {text!r} is not a public key (64 hex digits: the "
                            "customer's key, as `chainfin keygen` printed it)")
    return key


def travel_args(a: argparse.Namespace) -> dict[str, Any]:
    """``governance.set_travel_info``'s arguments from ``chainfin identity travel set``'s
    options, checked as the ledger checks them.

    Raises:
        ChainfinError: no field given, an address without its lines or country (or parts of one
            without the address), a birth without all three parts, a bad length, country or date.
    """
    out: dict[str, Any] = {"pubkey": _key(a.customer, "--customer")}
    lines = a.address_line or []
    if lines or a.town or a.country:
        if not lines or not a.country:
            raise ChainfinError("an address needs --address-line (1 to 3, repeat the option) "
                                "and --country; --town is optional")
        if len(lines) > MAX_LINES:
            raise ChainfinError(f"--address-line given {len(lines)} times: at most {MAX_LINES}")
        addr: dict[str, Any] = {"lines": [_text(x, "--address-line", MAX_LINE) for x in lines],
                                "country": _country(a.country, "--country")}
        if a.town:
            addr["town"] = _text(a.town, "--town", MAX_TEXT)
        out["address"] = addr
    if a.national_id:
        out["national_id"] = _text(a.national_id, "--national-id", MAX_TEXT)
    if a.customer_id:
        out["customer_id"] = _text(a.customer_id, "--customer-id", MAX_TEXT)
    if a.birth_date or a.birth_city or a.birth_country:
        if not (a.birth_date and a.birth_city and a.birth_country):
            raise ChainfinError("a date and place of birth needs all of --birth-date, "
                                "--birth-city and --birth-country")
        try:
            ok = datetime.date.fromisoformat(a.birth_date).isoformat() == a.birth_date
        except ValueError:
            ok = False
        if not ok:
            raise ChainfinError(f"--birth-date {a.birth_date!r}: a date written YYYY-MM-DD")
        out["birth"] = {"date": a.birth_date, "city": _text(a.birth_city, "--birth-city",
                                                            MAX_TEXT),
                        "country": _country(a.birth_country, "--birth-country")}
    if len(out) == 1:
        raise ChainfinError("nothing to record: give an address (--address-line, --country), "
                            "--national-id, --customer-id or a birth (--birth-date, "
                            "--birth-city, --birth-country)")
    return out


def kept(new: dict[str, Any], current: Any) -> dict[str, Any]:
    """``--keep``: the arguments ``new`` with the fields of the ``current`` travel entry it does
    not give (the method replaces the whole entry: a field left out is removed)."""
    old = current if isinstance(current, dict) else {}
    return {**{k: v for k, v in old.items() if k in _FIELDS}, **new}


async def current_travel(node: str, key: str, customer: str, ca: str | None = None,
                         timeout: float = 60.0) -> Any:
    """The customer's ``travel`` entry as ``key`` reads it (None: none, or not this key's)."""
    async with Client(node, ca_file=ca, identity=load_identity(key), timeout=timeout) as c:
        found = await c.identity_record(customer)
    return found[1].get("travel") if found else None


async def show(node: str, key: str, customer: str, ca: str | None = None,
               timeout: float = 60.0) -> dict[str, Any]:
    """The identity's record as ``key`` reads it, with its ``travel`` entry or why none."""
    async with Client(node, ca_file=ca, identity=load_identity(key), timeout=timeout) as c:
        found = await c.identity_record(customer)
    if found is None:
        raise ChainfinError(f"{customer[:16]}… is not a registered identity")
    ident_id, rec = found
    out = {"identity": ident_id, "name": rec.get("legal_name") or rec.get("name"),
           "role": rec.get("role"), "bank": rec.get("bank"),
           "home_bank": rec.get("registered_by")}
    if rec.get("travel"):
        return {**out, "travel": rec["travel"]}
    if rec.get("role") in ("bank", "issuer") and isinstance(rec.get("bank"), str):
        note = "an institution: its BIC/LEI is its R.16 identifier, no travel entry is needed"
    else:
        note = ("no travel-rule data this key reads: none is recorded, or the key is not the "
                "identity's, its home bank's or a supervisor's (the field is theirs only). "
                "Without it, a cross-border transfer of USD/EUR 1,000 or more from this "
                "identity is refused incomplete_originator_info")
    return {**out, "travel": None, "note": note}


def readable_tx(doc: dict[str, Any], exps: dict[str, int]) -> dict[str, Any]:
    """``GET /v1/tx``'s answer as a back office reads a transfer: per payment, the amount in
    the currency's decimals (the minor units beside it), the originator's and the beneficiary's
    R.16 data. ``exps``: currency -> ISO 4217 exponent."""
    payments = []
    for e in doc.get("events") or []:
        d = e.get("data") if isinstance(e, dict) else None
        if not (isinstance(d, dict) and e.get("name") == "transferred"):
            continue
        ccy, amt = d.get("currency"), d.get("amount")
        p = {"from": d.get("from"), "to": d.get("to"), "currency": ccy, "amount_minor": amt}
        if isinstance(amt, int) and ccy in exps:
            p["amount"] = money(amt, ccy, exps[ccy])
        payments.append(p)
    out: dict[str, Any] = {"tx_id": doc.get("tx_id"), "status": doc.get("status"),
                           "height": doc.get("height"), "payments": payments}
    if doc.get("travel"):
        out["travel"] = doc["travel"]
    else:
        out["note"] = ("no R.16 data for this key: it is shown to the originator's bank, the "
                       "beneficiary's bank and the supervisors, for a committed transfer")
    return out


async def tx(node: str, key: str, tx_id: str, ca: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """``GET /v1/tx/<tx_id>`` as ``key`` reads it, made readable (:func:`readable_tx`)."""
    async with Client(node, ca_file=ca, identity=load_identity(key), timeout=timeout) as c:
        try:
            doc = dict(await c.get(f"/v1/tx/{tx_id}"))
        except ClientError as e:
            if e.status == 404:
                raise ChainfinError(f"transaction {tx_id[:16]}… not found or not visible to "
                                    "this key (a transfer's R.16 data is its two banks' and "
                                    "the supervisors')") from None
            raise
        exps: dict[str, int] = {}
        for ev in doc.get("events") or []:
            ccy = (ev.get("data") or {}).get("currency") if isinstance(ev, dict) else None
            if isinstance(ccy, str) and ccy not in exps:
                rec = await c.state_value("governance", "currency/" + ccy)
                if isinstance(rec, dict) and isinstance(rec.get("exponent"), int):
                    exps[ccy] = rec["exponent"]
    return readable_tx(doc, exps)


def run(args: argparse.Namespace) -> int:
    """``chainfin identity travel <action>``: exit 0 done, 1 the ledger refused it, 2 the
    command could not be used (nothing sent)."""
    try:
        act = args.travel_command
        if act == "set":
            tx_args = travel_args(args)
            if args.keep:
                tx_args = kept(tx_args, asyncio.run(current_travel(
                    args.node, args.key, tx_args["pubkey"], args.ca, args.timeout)))
            return send_or_dry_run(args, "governance", "set_travel_info", tx_args)
        if act == "show":
            out = asyncio.run(show(args.node, args.key, _key(args.customer, "--customer"),
                                   args.ca, args.timeout))
        else:
            out = asyncio.run(tx(args.node, args.key, _key(args.tx, "--tx"), args.ca,
                                 args.timeout))
        print(json.dumps(out, indent=2))
        return 0
    except (ChainfinError, ClientError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def add_parser(sub: Any) -> None:
    """``chainfin identity travel set | show | tx`` (called by chainfin.cli)."""
    p = sub.add_parser("identity", help="an identity's travel-rule data (FATF R.16): record "
                                        "it (home bank), read it, read a transfer's")
    ps = p.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    t = ps.add_parser("travel", help="a customer's originator information: set, show; a "
                                     "transfer's R.16 data: tx (docs/risk.md \"The travel "
                                     "rule\")")
    s = t.add_subparsers(dest="travel_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, what: str) -> None:
        add_regulator_call_args(q, run)
        for a in q._actions:  # the key is a bank's here, not only a regulator's
            if a.dest == "key":
                a.help = what

    st = s.add_parser("set", help="record a customer's address, national or customer id, or "
                                  "date and place of birth (replaces the whole entry)",
                      description="By the customer's home bank (which verified the data) or, "
                                  "for an institution, a regulator. A cross-border transfer of "
                                  "USD/EUR 1,000 or more from a customer without it is refused "
                                  "incomplete_originator_info. Give at least one field; the "
                                  "entry is replaced, so a field left out is removed unless "
                                  "--keep is given.")
    st.add_argument("--customer", required=True,
                    help="the customer's public key (64 hex digits)")
    st.add_argument("--address-line", action="append", default=None, metavar="LINE",
                    help=f"a street address line, 1..{MAX_LINE} characters; repeat for up to "
                         f"{MAX_LINES} lines (ISO 20022 AdrLine)")
    st.add_argument("--town", default=None, help=f"town, 1..{MAX_TEXT} characters (TwnNm)")
    st.add_argument("--country", default=None,
                    help="the address's country: ISO 3166 alpha-2, e.g. US (Ctry)")
    st.add_argument("--national-id", default=None,
                    help=f"national identity number, 1..{MAX_TEXT} characters")
    st.add_argument("--customer-id", default=None,
                    help=f"the bank's customer identification number, 1..{MAX_TEXT} "
                         "characters")
    st.add_argument("--birth-date", default=None, help="date of birth, YYYY-MM-DD")
    st.add_argument("--birth-city", default=None, help="city of birth")
    st.add_argument("--birth-country", default=None, help="country of birth, alpha-2")
    st.add_argument("--keep", action="store_true",
                    help="keep the recorded fields not given here (read first with this key); "
                         "without it the entry is replaced and a field left out is removed")
    st.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    common(st, "the home bank's (or a regulator's) identity key file")
    sh = s.add_parser("show", help="a customer's record as this key reads it: name, home "
                                   "bank, travel-rule data or why none")
    sh.add_argument("--customer", required=True, help="the customer's public key (hex)")
    common(sh, "the identity key file that signs the read (the customer's home bank, the "
               "customer, a supervisor)")
    tt = s.add_parser("tx", help="a transfer's R.16 data as its two banks read it: originator "
                                 "name, account, address or id; beneficiary name, account; "
                                 "amounts in decimals")
    tt.add_argument("--tx", required=True, help="the transfer's transaction id (hex)")
    common(tt, "the identity key file that signs the read (the originator's or the "
               "beneficiary's bank, a supervisor)")
