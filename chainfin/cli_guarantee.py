"""``chainfin guarantee issue | demand | pay | reject | amend | accept | release | show | mt760 |
export``: demand guarantees and standbys (the ``trade_documents`` guarantee methods,
docs/contracts.md "Guarantees"), and SWIFT MT760 in (``mt760 FILE``: submit one) and out
(``export ID``: write one). The ledger checks every transaction again and is the authority.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from typing import Any

from chainfin.client import Client, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.swift import mt760
from chainfin.swift.mt700 import MtError, bic11

__all__ = ["add_parser", "run"]

T = "trade_documents"
MAX_FILE_BYTES = 256 * 1024


def _reduction(text: str) -> dict[str, Any]:
    date, _, amount = text.partition(":")
    if not amount.isdigit():
        raise ChainfinError(f"--reduction {text!r}: DATE:AMOUNT (YYYY-MM-DD:minor units)")
    return {"date": date, "amount": int(amount)}


def _discrepancy(text: str) -> dict[str, Any]:
    code, _, detail = text.partition(":")
    return {"code": code, **({"detail": detail} if detail else {})}


def _issue_args(a: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"applicant": a.applicant, "beneficiary": a.beneficiary,
                           "amount": a.amount, "currency": a.currency, "form": a.form,
                           "guarantee_type": a.type, "guarantee_number": a.number,
                           "underlying_ref": a.underlying_ref}
    for k in ("expiry_date", "expiry_event", "advising_bank"):
        if getattr(a, k):
            out[k] = getattr(a, k)
    if a.no_statement:
        out["supporting_statement_required"] = False
    if a.reduction:
        out["reductions"] = [_reduction(r) for r in a.reduction]
    return out


def _simple(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The method and arguments of a command that is one transaction."""
    c = a.guarantee_command
    if c == "issue":
        return "issue_guarantee", _issue_args(a)
    if c == "demand":
        d: dict[str, Any] = {"guarantee_id": a.guarantee, "amount": a.amount}
        if a.statement:
            d["supporting_statement"] = a.statement
        if a.extend_to:
            d["extend_or_pay"] = a.extend_to
        return "demand", d
    if c == "pay":
        return "pay_demand", {"demand_id": a.demand}
    if c == "reject":
        return "reject_demand", {"demand_id": a.demand,
                                 "discrepancies": [_discrepancy(x) for x in a.discrepancy]}
    if c == "amend":
        changes = {k: getattr(a, k) for k in ("amount", "expiry_date", "expiry_event")
                   if getattr(a, k) is not None}
        return "amend_guarantee", {"guarantee_id": a.guarantee, "changes": changes}
    if c == "accept":
        return "accept_guarantee_amendment", {"guarantee_id": a.guarantee,
                                              "proposal": a.proposal}
    return "release", {"guarantee_id": a.guarantee}


def _read_file(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ChainfinError(f"{path} is over {MAX_FILE_BYTES:,} bytes")
    return raw.decode("utf-8", errors="strict")


async def _exponent(c: Client, currency: str) -> int:
    cur = await c.state_value("governance", "currency/" + currency)
    if not isinstance(cur, dict):
        raise ChainfinError(f"{currency} is not a currency of this ledger")
    return int(cur["exponent"])


async def mt760_args(a: argparse.Namespace) -> dict[str, Any]:
    """``issue_guarantee``'s arguments from an MT760 file and the parties' keys given."""
    msg = mt760.parse(_read_file(a.file))
    ident = load_identity(a.key)
    async with Client(a.node, ca_file=a.ca, identity=ident, timeout=a.timeout) as c:
        me = await c.state_value("governance", "id/" + ident.public_key.hex()) or {}
        tx = mt760.terms(msg, await _exponent(c, msg.currency))
    if msg.issuer_bic and bic11(str(me.get("bank", ""))) != msg.issuer_bic:
        raise ChainfinError(f":52A: {msg.issuer_bic} is not the signing bank's BIC "
                            f"({me.get('bank')}): the guarantor signs its own MT760")
    tx.update({"applicant": a.applicant, "beneficiary": a.beneficiary})
    if a.advising_bank:
        tx["advising_bank"] = a.advising_bank
    for note in msg.notes:
        print(f"chainfin: note: {note}", file=sys.stderr)
    return tx


async def _name(c: Client, key: str) -> str:
    ident = await c.state_value("governance", "id/" + key) or {}
    return str(ident.get("legal_name") or ident.get("name") or key[:16])


async def show(a: argparse.Namespace) -> dict[str, Any]:
    """The guarantee as the signing key may read it, with its demands."""
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key) if a.key else None,
                      timeout=a.timeout) as c:
        g = await c.state_value(T, "gtee/" + a.guarantee)
        if g is None:
            raise ChainfinError(f"guarantee {a.guarantee}: not found or not visible to you")
        demands = [await c.state_value(T, "gdem/" + d) for d in g["demands"]]
    return {"guarantee_id": a.guarantee, **g,
            "demands": [{"demand_id": i, **(d or {})} for i, d in zip(g["demands"], demands,
                                                                       strict=True)]}


async def export(a: argparse.Namespace) -> str:
    """An MT760 for the guarantee, from its guarantor's BIC to ``--receiver``."""
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key) if a.key else None,
                      timeout=a.timeout) as c:
        g = await c.state_value(T, "gtee/" + a.guarantee)
        if g is None:
            raise ChainfinError(f"guarantee {a.guarantee}: not found or not visible to you")
        adv = (await c.state_value("governance", "id/" + g["advising_bank"]) or {}
               ) if g["advising_bank"] else {}
        t = mt760.GuaranteeTerms(
            sender_bic=str(g["issuing_bank"]), receiver_bic=a.receiver or adv.get("bank", ""),
            guarantee_number=g["guarantee_number"],
            issue_date=datetime.datetime.fromtimestamp(g["issued_ms"] / 1000, datetime.UTC
                                                       ).date(),
            form=g["form"], guarantee_type=g["guarantee_type"],
            expiry_date=(datetime.date.fromisoformat(g["expiry_date"]) if g["expiry_date"]
                         else None), expiry_event=g["expiry_event"],
            applicant=await _name(c, g["applicant"]), beneficiary=await _name(c, g["beneficiary"]),
            currency=g["currency"], exponent=await _exponent(c, g["currency"]),
            amount=g["amount"], underlying_ref=g["underlying_ref"],
            advising_bic=adv.get("bank"))
    return mt760.render(t)


def run(a: argparse.Namespace) -> int:
    """``chainfin guarantee <action>``: exit 0 done, 1 the ledger refused it, 2 the command
    could not be used (nothing sent)."""
    try:
        c = a.guarantee_command
        if c == "show":
            print(json.dumps(asyncio.run(show(a))))
            return 0
        if c == "export":
            text = asyncio.run(export(a))
            if a.out:
                with open(a.out, "w", newline="") as f:
                    f.write(text)
            else:
                sys.stdout.write(text + "\n")
            return 0
        if c == "mt760":
            return send_or_dry_run(a, T, "issue_guarantee", asyncio.run(mt760_args(a)))
        method, tx_args = _simple(a)
        return send_or_dry_run(a, T, method, tx_args)
    except MtError as e:
        print("chainfin: error: the MT760 is refused:\n  " + "\n  ".join(e.problems),
              file=sys.stderr)
        return 2
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _signed(q: argparse.ArgumentParser) -> None:
    q.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    add_regulator_call_args(q, run)


def _issue_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--amount", type=int, required=True, help="integer minor units (cents)")
    q.add_argument("--currency", required=True, help="ISO 4217 code")
    q.add_argument("--form", choices=("DGAR", "STBY"), default="DGAR")
    q.add_argument("--type", default="performance",
                   choices=("bid", "performance", "advance_payment", "payment", "other"))
    q.add_argument("--number", required=True, help="the guarantee number (16x)")
    q.add_argument("--underlying-ref", required=True, help="the underlying contract or tender")
    q.add_argument("--expiry-date", default=None, help="YYYY-MM-DD")
    q.add_argument("--expiry-event", default=None, help="the expiry event, in words")
    q.add_argument("--no-statement", action="store_true",
                   help="a demand needs no statement of breach (URDG 758 art. 15 a excluded)")
    q.add_argument("--reduction", action="append", default=[],
                   help="DATE:AMOUNT, repeatable: the amount in force from that date")


def add_parser(sub: Any) -> None:
    """``chainfin guarantee ...`` (called by chainfin.cli)."""
    p = sub.add_parser("guarantee", help="demand guarantees and standby LCs (URDG 758 / ISP98), "
                                         "MT760 in and out")
    s = p.add_subparsers(dest="guarantee_command", metavar="ACTION", required=True)
    q = s.add_parser("issue", help="the guarantor bank issues a guarantee")
    q.add_argument("--applicant", required=True, help="identity key of the applicant")
    q.add_argument("--beneficiary", required=True, help="identity key of the beneficiary")
    q.add_argument("--advising-bank", default=None, help="identity key of the advising bank")
    _issue_options(q)
    _signed(q)
    q = s.add_parser("demand", help="the beneficiary demands payment")
    q.add_argument("--guarantee", required=True)
    q.add_argument("--amount", type=int, required=True, help="integer minor units")
    q.add_argument("--statement", default=None, help="in what respect the applicant is in breach")
    q.add_argument("--extend-to", default=None, help="YYYY-MM-DD: extend or pay (art. 23)")
    _signed(q)
    for name, what in (("pay", "the guarantor pays a demand"),
                       ("reject", "the guarantor rejects a demand, every discrepancy at once")):
        q = s.add_parser(name, help=what)
        q.add_argument("--demand", required=True)
        if name == "reject":
            q.add_argument("--discrepancy", action="append", required=True,
                           help="CODE[:detail], repeatable")
        _signed(q)
    q = s.add_parser("amend", help="the guarantor proposes an amendment")
    q.add_argument("--guarantee", required=True)
    q.add_argument("--amount", type=int, default=None)
    q.add_argument("--expiry-date", default=None)
    q.add_argument("--expiry-event", default=None)
    _signed(q)
    for name, what in (("accept", "the beneficiary accepts the pending amendment"),
                       ("release", "the beneficiary releases the guarantor")):
        q = s.add_parser(name, help=what)
        q.add_argument("--guarantee", required=True)
        if name == "accept":
            q.add_argument("--proposal", type=int, required=True,
                           help="the pending amendment's proposal number (`guarantee show`): "
                                "a proposal replaced since is not accepted")
        _signed(q)
    q = s.add_parser("show", help="a guarantee and its demands, as your key may read them")
    q.add_argument("--guarantee", required=True)
    add_regulator_call_args(q, run, signs=False)
    q = s.add_parser("mt760", help="submit an MT760 as issue_guarantee (signed by the guarantor)")
    q.add_argument("file", help="the MT760 (a FIN message or its text block)")
    q.add_argument("--applicant", required=True, help="identity key of :50:'s applicant")
    q.add_argument("--beneficiary", required=True, help="identity key of :59:'s beneficiary")
    q.add_argument("--advising-bank", default=None, help="identity key of :56a:'s bank")
    _signed(q)
    q = s.add_parser("export", help="write the guarantee as an MT760")
    q.add_argument("guarantee", help="the guarantee id")
    q.add_argument("--receiver", default=None, help="receiver BIC (default: the advising bank)")
    q.add_argument("--out", default=None, help="file to write (default: stdout)")
    add_regulator_call_args(q, run, signs=False)
