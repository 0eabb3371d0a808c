"""``chainfin guarantee issue | demand | pay | reject | amend | accept | withdraw-amendment |
reject-amendment | release | show | mt760 | mt765 | mt767 | export``: demand guarantees and
standbys (the ``trade_documents`` guarantee methods, docs/contracts.md "Guarantees"), and SWIFT
MT760 (issue), MT765 (demand) and MT767 (amendment) in (``mt760 | mt765 | mt767 FILE``: submit
one, checked first against the guarantee on the ledger) and out (``export ID [--demand D |
--amendment]``: write one). The ledger checks every transaction again and is the authority.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
import unicodedata
from typing import Any

from chainfin.client import Client, add_regulator_call_args, submit_call
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.money import decimal, money
from chainfin.swift import mt760, mt765, mt767
from chainfin.swift.mt700 import MtError, bic11, name_candidates

__all__ = ["add_parser", "run"]

T = "trade_documents"
MAX_FILE_BYTES = 256 * 1024
DAY_MS = 86_400_000
#: whose key signs each command (its ``--key`` help line)
SIGNER = {"issue": "the guarantor bank's", "mt760": "the guarantor bank's",
          "mt765": "the beneficiary's", "mt767": "the guarantor bank's",
          "demand": "the beneficiary's", "accept": "the beneficiary's",
          "release": "the beneficiary's", "reduce": "the beneficiary's",
          "claim": "the beneficiary's", "pay": "the guarantor bank's",
          "reject": "the guarantor bank's", "amend": "the guarantor bank's",
          "suspend": "the guarantor bank's", "extend": "the guarantor bank's",
          "expire": "a party's (the guarantor's for an expiry event)",
          "withdraw-amendment": "the guarantor bank's",
          "reject-amendment": "the beneficiary's"}
#: the amount options' help: what people misread
AMOUNT_HELP = ("integer minor units of the guarantee's currency: USD 50,000.00 is 5000000, "
               "JPY 50,000 is 50000 (`guarantee show` writes amount_decimal)")


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


def name_key(text: str) -> str:
    """A party name compared loosely: accents, case, punctuation and spacing ignored."""
    plain = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in plain.casefold() if ch.isalnum())


async def check_named(c: Client, tag: str, lines: tuple[str, ...], key: str) -> None:
    """The identity ``key`` (``--applicant`` / ``--beneficiary``) is the party the MT760's
    field ``tag`` names (its first line, or up to four lines joined), by its legal name or
    name: a key given for the wrong party (applicant and beneficiary swapped) would give the
    right to demand to the other side.

    Raises:
        ChainfinError: no such identity, or the field names someone else.
    """
    flag = "--beneficiary" if tag == "59" else "--applicant"
    found = await c.identity_record(key.lower())
    if found is None:
        raise ChainfinError(f"{flag} {key[:16]}…: no identity on the ledger has this key")
    rec = found[1]
    names = {name_key(str(n)) for n in (rec.get("legal_name"), rec.get("name")) if n}
    if not names & {name_key(cand) for cand in name_candidates(lines)}:
        who = rec.get("legal_name") or rec.get("name")
        raise ChainfinError(f":{tag}: the message names {lines[0]!r}, but {flag} "
                            f"{key[:16]}… is {who!r}: give the key of the party :{tag}: names")


async def check_advising(c: Client, bic: str | None, key: str | None) -> None:
    """``--advising-bank`` is the bank of the MT760's :56A: BIC (it reads the guarantee: the
    wrong key would show it to another bank), and is given when :56A: names one.

    Raises:
        ChainfinError: one without the other, or a bank of another BIC.
    """
    if bic is None or key is None:
        if bic is not None:
            raise ChainfinError(f":56A: names the advising bank {bic}: give its identity key "
                                "with --advising-bank")
        return
    found = await c.identity_record(key.lower())
    rec = found[1] if found else {}
    if not rec.get("bank") or bic11(str(rec["bank"])) != bic11(bic):
        raise ChainfinError(f":56A: the message names the advising bank {bic}, but "
                            f"--advising-bank {key[:16]}… is {rec.get('bank') or 'no bank'}: "
                            "give the key of the bank :56A: names")


async def mt760_args(a: argparse.Namespace) -> dict[str, Any]:
    """``issue_guarantee``'s arguments from an MT760 file and the parties' keys given."""
    msg = mt760.parse(_read_file(a.file))
    ident = load_identity(a.key)
    async with Client(a.node, ca_file=a.ca, identity=ident, timeout=a.timeout) as c:
        me = await c.state_value("governance", "id/" + ident.public_key.hex()) or {}
        tx = mt760.terms(msg, await _exponent(c, msg.currency))
        for tag, lines, key in (("50", msg.applicant, a.applicant),
                                ("59", msg.beneficiary, a.beneficiary)):
            await check_named(c, tag, lines, key)
        await check_advising(c, msg.advising_bic, a.advising_bank)
    if msg.issuer_bic and bic11(str(me.get("bank", ""))) != msg.issuer_bic:
        raise ChainfinError(f":52A: {msg.issuer_bic} is not the signing bank's BIC "
                            f"({me.get('bank')}): the guarantor signs its own MT760")
    tx.update({"applicant": a.applicant, "beneficiary": a.beneficiary})
    if a.advising_bank:
        tx["advising_bank"] = a.advising_bank
    for note in msg.notes:
        print(f"chainfin: note: {note}", file=sys.stderr)
    return tx


async def _guarantee(c: Client, gid: str) -> dict[str, Any]:
    g = await c.state_value(T, "gtee/" + gid)
    if not isinstance(g, dict):
        raise ChainfinError(f"guarantee {gid}: not found or not visible to you (its guarantor, "
                            "applicant, beneficiary and advising bank, and the regulators read "
                            "it: sign with one of their keys)")
    return g


async def check_signer(a: argparse.Namespace, c: Client, g: dict[str, Any], mt: str) -> None:
    """The key ``--key`` must be the party whose transaction the message becomes: an MT765's
    demand is the beneficiary's, an MT767's proposal the guarantor's. A beneficiary's bank
    that received an MT765 (or an advising bank, an MT767) and signed it with its own key got
    the contract's bare ``forbidden`` after the transaction was sent; now it is told before
    anything is signed whose key the ledger takes and what to do. With ``--dry-run`` the
    message is still checked (a bank checks it before passing it on) and this is a note.

    Raises:
        ChainfinError: the key is not that party's (not with ``--dry-run``).
    """
    party, role, does = (("beneficiary", "the beneficiary", "makes a demand") if mt == "MT765"
                         else ("guarantor", "the guarantor", "proposes an amendment"))
    signer = load_identity(a.key).public_key.hex()
    if signer == g[party]:
        return
    roles = {g["guarantor"]: "the guarantor", g["applicant"]: "the applicant",
             g["beneficiary"]: "the beneficiary"}
    if g.get("advising_bank"):
        roles.setdefault(g["advising_bank"], "the advising bank")
    said = (f"this key ({await _name(c, signer)}, {roles.get(signer, 'no party to it')}) does "
            f"not sign the {mt}: on the ledger only {role} {does} ({mt} → "
            f"{'demand' if mt == 'MT765' else 'amend_guarantee'}), with its own key — "
            f"{await _name(c, g[party])} ({g[party][:16]}…); pass the message to it, or "
            f"submit it with --key of {role}")
    if not a.dry_run:
        raise ChainfinError(said + "; nothing was sent")
    print(f"chainfin: note: {said} (sent with this key, the ledger would refuse it: "
          "forbidden)", file=sys.stderr)


def _same_ref(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


def _issuer_problems(bic: str | None, g: dict[str, Any]) -> list[str]:
    if bic and bic11(str(g["issuing_bank"])) != bic:
        return [f":52A: {bic} is not the guarantee's issuer, {g['issuing_bank']}"]
    return []


async def mt765_args(a: argparse.Namespace) -> dict[str, Any]:
    """``demand``'s arguments from an MT765 file, checked against the guarantee ``--guarantee``
    as the ledger holds it: :21: its number, :52A: its issuer, :32B: its currency (a demand in
    another currency would be read in the guarantee's: EUR 100 claimed as USD 100). Dry-run
    checks too.

    Raises:
        MtError: the message's problems, then its mismatches with the guarantee, each with its
            field's block-4 line.
    """
    text = _read_file(a.file)
    msg = mt765.parse(text)
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key),
                      timeout=a.timeout) as c:
        g = await _guarantee(c, a.guarantee)
        problems = _issuer_problems(msg.issuer_bic, g)
        if msg.related_reference and not _same_ref(msg.related_reference,
                                                   g["guarantee_number"]):
            problems.append(f":21: {msg.related_reference!r} is not the guarantee's number, "
                            f"{g['guarantee_number']!r}")
        if msg.currency != g["currency"]:
            problems.append(f":32B: the demand is in {msg.currency}; the guarantee is in "
                            f"{g['currency']}")
        if problems:
            raise MtError(mt765.numbered(text, problems, "765"))
        try:
            tx = mt765.terms(msg, await _exponent(c, g["currency"]), a.guarantee)
        except MtError as e:
            raise MtError(mt765.numbered(text, e.problems, "765")) from None
        await check_signer(a, c, g, "MT765")
    for note in msg.notes:
        print(f"chainfin: note: {note}", file=sys.stderr)
    return tx


async def mt767_args(a: argparse.Namespace) -> dict[str, Any]:
    """``amend_guarantee``'s arguments from an MT767 file, checked against the guarantee
    ``--guarantee`` as the ledger holds it: :20: its number, :52A: its issuer, :26E: the next
    amendment number, :32B:/:33B: its currency, applied to its amount in force now. Dry-run
    checks too.

    Raises:
        MtError: the message's problems, then its mismatches with the guarantee.
    """
    text = _read_file(a.file)
    msg = mt767.parse(text)
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key),
                      timeout=a.timeout) as c:
        g = await _guarantee(c, a.guarantee)
        problems = _issuer_problems(msg.issuer_bic, g)
        if not _same_ref(msg.guarantee_number, g["guarantee_number"]):
            problems.append(f":20: {msg.guarantee_number!r} is not the guarantee's number, "
                            f"{g['guarantee_number']!r}")
        if msg.number != int(g["amendments"]) + 1:
            problems.append(f":26E: amendment {msg.number}; the guarantee's next is "
                            f"{int(g['amendments']) + 1} ({g['amendments']} accepted)")
        try:
            if problems:
                raise MtError(problems)
            changes = mt767.changes(msg, await _exponent(c, g["currency"]), g["currency"],
                                    amount_in_force(g, int(time.time() * 1000)))
        except MtError as e:
            raise MtError(mt765.numbered(text, e.problems, "767")) from None
        await check_signer(a, c, g, "MT767")
    for note in msg.notes:
        print(f"chainfin: note: {note}", file=sys.stderr)
    return {"guarantee_id": a.guarantee, "changes": changes}


async def export_demand(a: argparse.Namespace, c: Client, demand_id: str) -> str:
    """An MT765 for the demand ``demand_id``, from ``--sender`` (default: the guarantee's
    advising bank) to ``--receiver`` (default: the guarantor's BIC)."""
    dem = await c.state_value(T, "gdem/" + demand_id)
    if not isinstance(dem, dict):
        raise ChainfinError(f"demand {demand_id}: not found or not visible to you")
    g = await _guarantee(c, dem["guarantee_id"])
    adv = (await c.state_value("governance", "id/" + g["advising_bank"]) or {}
           ) if g["advising_bank"] else {}
    sender = a.sender or adv.get("bank")
    if not sender:
        raise ChainfinError("the guarantee names no advising bank with a BIC: say whose MT765 "
                            "it is with --sender BIC (the beneficiary's bank)")
    if dem["status"] != "presented":
        print(f"chainfin: note: the demand is {dem['status']}; the MT765 states it as made",
              file=sys.stderr)
    extend = dem.get("extend_or_pay")
    return mt765.render(mt765.DemandTerms(
        sender_bic=sender, receiver_bic=a.receiver or str(g["issuing_bank"]),
        reference=demand_id[:16], guarantee_number=g["guarantee_number"],
        issuer_bic=str(g["issuing_bank"]), beneficiary=await _name(c, g["beneficiary"]),
        demand_date=datetime.datetime.fromtimestamp(dem["presented_ms"] / 1000,
                                                    datetime.UTC).date(),
        currency=g["currency"], exponent=await _exponent(c, g["currency"]),
        amount=int(dem["amount"]), statement=dem.get("supporting_statement") or "",
        extend_to=datetime.date.fromisoformat(extend) if extend else None))


async def export_amendment(a: argparse.Namespace, c: Client, gid: str) -> str:
    """An MT767 for the guarantee's pending amendment, from its guarantor's BIC to
    ``--receiver`` (default: the advising bank): the amount as an increase or decrease from
    the amount in force now, as :func:`mt767_args` reads it back."""
    g = await _guarantee(c, gid)
    pending = g.get("amendment")
    if not isinstance(pending, dict):
        raise ChainfinError(f"guarantee {gid} has no pending amendment to write")
    adv = (await c.state_value("governance", "id/" + g["advising_bank"]) or {}
           ) if g["advising_bank"] else {}
    if not a.receiver and not adv.get("bank"):
        raise ChainfinError("the guarantee names no advising bank with a BIC: say whom the "
                            "MT767 goes to with --receiver BIC")
    ch = pending["changes"]
    event = ch.get("expiry_event")
    kind = "COND" if event else ("FIXD" if "expiry_date" in ch and not g["expiry_event"]
                                 else None)
    return mt767.render(mt767.AmendmentTerms(
        sender_bic=str(g["issuing_bank"]), receiver_bic=a.receiver or adv.get("bank", ""),
        guarantee_number=g["guarantee_number"], number=int(pending["number"]),
        amendment_date=datetime.datetime.fromtimestamp(pending["timestamp_ms"] / 1000,
                                                       datetime.UTC).date(),
        currency=g["currency"], exponent=await _exponent(c, g["currency"]),
        in_force=amount_in_force(g, int(time.time() * 1000)), amount=ch.get("amount"),
        expiry_date=(datetime.date.fromisoformat(ch["expiry_date"]) if ch.get("expiry_date")
                     else None), expiry_event=event, expiry_type=kind))


async def _name(c: Client, key: str) -> str:
    ident = await c.state_value("governance", "id/" + key) or {}
    return str(ident.get("legal_name") or ident.get("name") or key[:16])



def utc(ms: Any) -> str | None:
    """Block time in ms since 1970 -> ISO 8601 UTC to the second (None: no time)."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def amount_in_force(g: dict[str, Any], now_ms: int) -> int:
    """The guarantee's amount at ``now_ms``: its amount, lowered by each scheduled reduction
    from the start (UTC) of its date (as the contract reckons it, docs/contracts.md)."""
    amount = int(g["amount"])
    for r in g.get("reductions") or []:
        start = (datetime.date.fromisoformat(r["date"]).toordinal()
                 - datetime.date(1970, 1, 1).toordinal()) * DAY_MS
        if start <= now_ms:
            amount = min(amount, int(r["amount"]))
    return amount


def readable(g: dict[str, Any], exponent: int, now_ms: int,
             names: dict[str, str]) -> dict[str, Any]:
    """``g`` (a guarantee as the ledger keeps it, with its ``demands`` read) with what a person
    reads beside the ledger's fields: each amount as a decimal of its currency
    (``*_decimal``: the bare decimal, a value a program reads as a form field takes it; the
    notes on stderr write ``USD 12,500.00``), each time in ms as ISO 8601 UTC (``*_at``), the parties' names
    (``*_name``), the amount in force and what a demand may still claim now; an open demand
    the day it is decided by (``decide_through``), a decided one when and by which transaction
    (``decided``: ``at``, ``height``, ``tx_id``)."""
    out = dict(g)
    for k in ("guarantor", "applicant", "beneficiary", "advising_bank"):
        if g.get(k):
            out[k + "_name"] = names.get(g[k], g[k][:16])
    in_force = amount_in_force(g, now_ms)
    out["amount_in_force"] = in_force
    out["available"] = max(0, in_force - int(g["paid"]) - int(g["reserved"]))
    for k in ("amount", "amount_in_force", "available", "paid", "reserved"):
        out[k + "_decimal"] = decimal(int(out[k]), exponent)
    out["issued_at"] = utc(g.get("issued_ms"))
    out["reductions"] = [{**r, "amount_decimal": decimal(int(r["amount"]), exponent)}
                         for r in g.get("reductions") or []]
    demands = []
    for d in g.get("demands") or []:
        d = dict(d)
        if isinstance(d.get("amount"), int):
            d["amount_decimal"] = decimal(d["amount"], exponent)
        for k in ("presented_ms", "examination_deadline_ms", "suspended_until_ms"):
            if isinstance(d.get(k), int):
                d[k[:-3] + "_at"] = utc(d[k])
        deadline = max(int(d.get("examination_deadline_ms") or 0),
                       int(d.get("suspended_until_ms") or 0))
        if isinstance(d.get("decided"), dict):
            # decided: when and by which transaction (``tx_id``; a demand decided before the
            # ledger kept it has its height only), not a date to decide by that has passed
            d["decided"] = {**d["decided"], "at": utc(d["decided"].get("timestamp_ms"))}
        elif deadline:  # the guarantor pays or rejects before this: a day (UTC) when the
            # deadline is the close of one (the examination period), else the instant
            d["decide_through"] = ((utc(deadline - 1) or "")[:10] if deadline % DAY_MS == 0
                                   else utc(deadline))
        demands.append(d)
    out["demands"] = demands
    for k in ("amendment", "expired"):
        if isinstance(g.get(k), dict):
            out[k] = {**g[k], "at": utc(g[k].get("timestamp_ms"))}
    return out


async def _names(c: Client, g: dict[str, Any]) -> dict[str, str]:
    keys = {g[k] for k in ("guarantor", "applicant", "beneficiary", "advising_bank")
            if g.get(k)}
    return {k: await _name(c, k) for k in keys}


async def show(a: argparse.Namespace) -> dict[str, Any]:
    """The guarantee as the signing key may read it, with its demands, amounts also as
    decimals of the currency and times also in ISO 8601 UTC (:func:`readable`)."""
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key) if a.key else None,
                      timeout=a.timeout) as c:
        g = await c.state_value(T, "gtee/" + a.guarantee)
        if g is None:
            raise ChainfinError(f"guarantee {a.guarantee}: not found or not visible to you "
                                "(its guarantor, applicant, beneficiary, advising bank and the "
                                "regulators read it)")
        demands = [await c.state_value(T, "gdem/" + d) for d in g["demands"]]
        exponent = await _exponent(c, g["currency"])
        names = await _names(c, g)
    g = {**g, "demands": [{"demand_id": i, **(d or {})}
                          for i, d in zip(g["demands"], demands, strict=True)]}
    return {"guarantee_id": a.guarantee, **readable(g, exponent, int(time.time() * 1000), names)}


async def export(a: argparse.Namespace) -> str:
    """An MT760 for the guarantee, from its guarantor's BIC to ``--receiver``; with
    ``--demand`` an MT765 for that demand, with ``--amendment`` an MT767 for the pending
    amendment."""
    async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key) if a.key else None,
                      timeout=a.timeout) as c:
        if a.demand:
            return await export_demand(a, c, a.demand)
        gid = a.guarantee or a.guarantee_opt
        if gid and a.amendment:
            return await export_amendment(a, c, gid)
        if not gid:
            raise ChainfinError("which guarantee: export ID (or --guarantee ID)")
        g = await c.state_value(T, "gtee/" + gid)
        if g is None:
            raise ChainfinError(f"guarantee {gid}: not found or not visible to you")
        adv = (await c.state_value("governance", "id/" + g["advising_bank"]) or {}
               ) if g["advising_bank"] else {}
        if not a.receiver and not adv.get("bank"):
            raise ChainfinError("the guarantee names no advising bank with a BIC: say whom the "
                                "MT760 goes to with --receiver BIC")
        if g["status"] != "issued":
            print(f"chainfin: note: the guarantee is {g['status']}; the MT760 states its terms "
                  "as issued (an MT760 issues an undertaking: do not send it as a live one)",
                  file=sys.stderr)
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


def _more(a: argparse.Namespace) -> tuple[str, dict[str, Any]] | None:
    """The method and arguments of the commands beyond issue … release: reduce, claim,
    suspend, extend, expire, withdraw-amendment, reject-amendment (None: another command)."""
    c = a.guarantee_command
    if c == "reduce":
        return "reduce", {"guarantee_id": a.guarantee, "amount": a.amount}
    if c == "claim":
        return "claim_demand_payment", {"demand_id": a.demand}
    if c == "suspend":
        return "suspend_demand", {"demand_id": a.demand,
                                  **({"days": a.days} if a.days is not None else {})}
    if c == "extend":
        return "extend_guarantee", {"demand_id": a.demand}
    if c == "expire":
        return "expire_guarantee", {"guarantee_id": a.guarantee, **(
            {"event_evidence": a.event_evidence} if a.event_evidence else {})}
    if c == "withdraw-amendment":
        return "withdraw_amendment", {"guarantee_id": a.guarantee, "proposal": a.proposal}
    if c == "reject-amendment":
        return "reject_amendment", {"guarantee_id": a.guarantee, "proposal": a.proposal}
    return None


#: what to do next, for a refusal whose message does not say it (by error code)
HINTS = {
    "statement_required": "add --statement 'in what respect the applicant is in breach' "
                          "(URDG 758 art. 15 a)",
    "insufficient_funds": "the guarantor pays from its own balance in the guarantee's "
                          "currency on the ledger: fund that account first (a currency "
                          "issuer's settlement.issue, README), then pay again",
    "forbidden": "sign with the key of the party the command is for (`--help`: --key)",
    "no_amendment": "nothing is pending: `chainfin guarantee show` names the pending "
                    "amendment under amendment",
    "amendment_changed": "`chainfin guarantee show` gives the pending amendment and its number "
                         "(amendment.proposal): read it, then accept --proposal with that "
                         "number",
    "amendment_binding": "the pending proposal raises the amount or puts the expiry later: "
                         "the guarantor is bound by it until the beneficiary accepts it "
                         "(`guarantee accept`) or rejects it (`guarantee reject-amendment`); "
                         "then propose again",
    "guarantee_in_use": "a demand is still open: the guarantor pays or rejects it first",
    "unknown_guarantee": "the guarantee id is the issuing transaction's id "
                         "(result.guarantee_id of `guarantee issue` or `guarantee mt760`)",
    "unknown_demand": "the demand id is the demanding transaction's id "
                      "(result.demand_id of `guarantee demand`; `guarantee show` lists them)",
}


async def _send(a: argparse.Namespace, method: str, tx_args: dict[str, Any]) -> int:
    """Sign and send ``method``; print the outcome as JSON (times in ms also in ISO 8601 UTC,
    ``*_at``) and on stderr what a person needs next: a refusal's amounts as decimals of the
    currency, and what to do. Exit 0 committed, else 1."""
    out = await submit_call(a.node, a.key, T, method, tx_args, a.ca, a.timeout)
    result = out.get("result")
    if isinstance(result, dict):
        for k in ("examination_deadline_ms", "until_ms"):
            if isinstance(result.get(k), int):
                result[k[:-3] + "_at"] = utc(result[k])
    print(json.dumps(out))
    if out.get("status") == "committed":
        note = await _amount_note(a, tx_args)
        if note:
            print(f"chainfin: note: {note}", file=sys.stderr)
        if isinstance(result, dict) and isinstance(result.get("examination_deadline_ms"), int):
            print(f"chainfin: note: {decide_by(result['examination_deadline_ms'])}",
                  file=sys.stderr)
        return 0
    err = out.get("error") or {}
    code = err.get("code") if isinstance(err, dict) else None
    for note in await _refusal_notes(a, method, tx_args, str(code)):
        print(f"chainfin: note: {note}", file=sys.stderr)
    return 1


def decide_by(deadline_ms: int) -> str:
    """A demand's examination deadline as the two desks read it: a deadline at midnight UTC is
    the end of the day before ("2026-12-15T00:00:00Z" alone is read as the 15th, a day late:
    walk-through 2026-12-07e), as ``guarantee show``'s ``decide_through`` and the explorer say."""
    at = utc(deadline_ms) or str(deadline_ms)
    if deadline_ms % DAY_MS == 0:
        day = (utc(deadline_ms - 1) or "")[:10]
        return (f"the guarantor pays or rejects by the end of {day} (UTC): examination "
                f"deadline {at}, midnight UTC, the close of the fifth business day after the "
                "demand (URDG 758 art. 20)")
    return f"the guarantor pays or rejects before {at} (examination deadline, URDG 758 art. 20)"


async def _amount_note(a: argparse.Namespace, tx_args: dict[str, Any]) -> str | None:
    """After a committed issue, demand, reduction or amendment: the amount it named, as the
    decimal of its currency (``--amount 50000`` is USD 500.00, not USD 50,000.00: said at
    once). Best effort: None when nothing names an amount or a read fails."""
    amount = tx_args.get("amount")
    changes = tx_args.get("changes")
    if amount is None and isinstance(changes, dict):
        amount = changes.get("amount")
    if not isinstance(amount, int):
        return None
    try:
        async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key),
                          timeout=a.timeout) as c:
            ccy = tx_args.get("currency")
            if not isinstance(ccy, str):
                g = await c.state_value(T, "gtee/" + str(tx_args.get("guarantee_id")))
                ccy = g.get("currency") if isinstance(g, dict) else None
            if not isinstance(ccy, str):
                return None
            exp = await _exponent(c, ccy)
    except (ChainfinError, OSError, ValueError):
        return None
    said = f"{money(amount, ccy, exp)} ({amount} minor units)"
    if isinstance(changes, dict) and "amount" in changes:
        # an MT767's :32B: is an increase; the ledger holds the new amount (decision 233): a
        # back office that sent "USD10000,00" reads what the beneficiary is asked to accept
        return (f"proposed amount {said}: the guarantee's amount once the beneficiary accepts "
                "(`guarantee accept --guarantee ID --proposal N`, N the result's proposal), "
                "not a change by that much")
    return f"amount {said}"


async def _refusal_notes(a: argparse.Namespace, method: str, tx_args: dict[str, Any],
                         code: str) -> list[str]:
    """What to do about a refusal; for one about an amount, the amounts as decimals, read
    with the signer's key (a party reads the guarantee): the ledger's message says its own in
    decimals too since decision 218, a ledger before it in minor units only. Best effort: a
    failed read leaves the hint alone."""
    notes = [HINTS[code]] if code in HINTS else []
    if code not in ("amount_exceeds_guarantee", "bad_field", "insufficient_funds"):
        return notes
    try:
        async with Client(a.node, ca_file=a.ca, identity=load_identity(a.key),
                          timeout=a.timeout) as c:
            gid = tx_args.get("guarantee_id")
            if gid is None and "demand_id" in tx_args:
                dem = await c.state_value(T, "gdem/" + tx_args["demand_id"]) or {}
                gid = dem.get("guarantee_id")
            g = await c.state_value(T, "gtee/" + gid) if isinstance(gid, str) else None
            if not isinstance(g, dict):
                return notes
            exp = await _exponent(c, g["currency"])
    except (ChainfinError, OSError, ValueError):
        return notes
    ccy = g["currency"]
    now = int(time.time() * 1000)
    in_force = amount_in_force(g, now)
    left = max(0, in_force - int(g["paid"]) - int(g["reserved"]))
    asked = tx_args.get("amount")
    asked_text = (f"{money(asked, ccy, exp)} ({asked} minor units)"
                  if isinstance(asked, int) else "")
    if method == "demand" and code == "amount_exceeds_guarantee":
        notes.append(f"you asked {asked_text}; available now {money(left, ccy, exp)} "
                     f"({left} minor units): amount in force {money(in_force, ccy, exp)}, "
                     f"paid {money(int(g['paid']), ccy, exp)}, under open demands "
                     f"{money(int(g['reserved']), ccy, exp)}")
    elif method == "reduce" and code == "bad_field":
        floor = int(g["paid"]) + int(g["reserved"])
        notes.append(f"--amount is the new amount in force ({asked_text}): below "
                     f"{money(in_force, ccy, exp)} ({in_force}) and at least what is paid "
                     f"and demanded, {money(floor, ccy, exp)} ({floor})")
    elif code == "amount_exceeds_guarantee":
        floor = int(g["paid"]) + int(g["reserved"])
        notes.append(f"the amount may not fall below what is paid and demanded, "
                     f"{money(floor, ccy, exp)} ({floor} minor units)")
    return notes


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
            return _send_or_dry_run(a, "issue_guarantee", asyncio.run(mt760_args(a)))
        if c == "mt765":
            return _send_or_dry_run(a, "demand", asyncio.run(mt765_args(a)))
        if c == "mt767":
            return _send_or_dry_run(a, "amend_guarantee", asyncio.run(mt767_args(a)))
        method, tx_args = _more(a) or _simple(a)
        return _send_or_dry_run(a, method, tx_args)
    except MtError as e:
        mt = {"mt765": "MT765", "mt767": "MT767"}.get(c, "MT760")
        if c == "export":
            mt = "MT765" if a.demand else "MT767" if a.amendment else "MT760"
        print(f"chainfin: error: the {mt} is refused:\n  " + "\n  ".join(e.problems),
              file=sys.stderr)
        return 2
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _send_or_dry_run(a: argparse.Namespace, method: str, tx_args: dict[str, Any]) -> int:
    if a.dry_run:
        print(json.dumps({"status": "dry_run", "method": method, "args": tx_args}))
        return 0
    return asyncio.run(_send(a, method, tx_args))


def _signed(q: argparse.ArgumentParser) -> None:
    q.add_argument("--dry-run", action="store_true", help="print the transaction; send nothing")
    add_regulator_call_args(q, run)
    who = SIGNER.get(q.prog.rsplit(" ", 1)[-1])
    for action in q._actions:  # the shared option says "the regulator's": say whose it is
        if action.dest == "key" and who:
            action.help = f"{who} identity key file, which signs"


def _issue_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--amount", type=int, required=True, help=AMOUNT_HELP)
    q.add_argument("--currency", required=True, help="ISO 4217 code")
    q.add_argument("--form", choices=("DGAR", "STBY"), default="DGAR",
                   help="DGAR: a demand guarantee under URDG 758 (a demand needs a statement "
                        "of breach); STBY: a standby LC under ISP98 (default: DGAR)")
    q.add_argument("--type", default="performance",
                   choices=("bid", "performance", "advance_payment", "payment", "other"),
                   help="what the guarantee secures (MT760 :22K:; default: performance)")
    q.add_argument("--number", required=True, help="the guarantee number (16x)")
    q.add_argument("--underlying-ref", required=True, help="the underlying contract or tender")
    q.add_argument("--expiry-date", default=None,
                   help="YYYY-MM-DD, good through that day (UTC); this, --expiry-event or both")
    q.add_argument("--expiry-event", default=None,
                   help="the expiry event, in words (the guarantor records it: `guarantee "
                        "expire --event-evidence`)")
    q.add_argument("--no-statement", action="store_true",
                   help="a demand needs no statement of breach (URDG 758 art. 15 a excluded)")
    q.add_argument("--reduction", action="append", default=[],
                   help="DATE:AMOUNT (YYYY-MM-DD:minor units), repeatable: the amount in "
                        "force from the start of that date (UTC)")


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
    q.add_argument("--guarantee", required=True, help="the guarantee id (issue's guarantee_id)")
    q.add_argument("--amount", type=int, required=True, help=AMOUNT_HELP)
    q.add_argument("--statement", default=None,
                   help="in what respect the applicant is in breach (needed unless the "
                        "guarantee was issued with --no-statement; `show`: "
                        "supporting_statement_required)")
    q.add_argument("--extend-to", default=None, help="YYYY-MM-DD: extend or pay (art. 23)")
    _signed(q)
    for name, what in (("pay", "the guarantor pays a demand"),
                       ("reject", "the guarantor rejects a demand, every discrepancy at once")):
        q = s.add_parser(name, help=what)
        q.add_argument("--demand", required=True,
                       help="the demand id (demand's demand_id; `show` lists them)")
        if name == "reject":
            q.add_argument("--discrepancy", action="append", required=True,
                           help="CODE[:detail], repeatable, every one at once (no second "
                                "notice): missing_supporting_statement, "
                                "statement_not_breach, missing_document, inconsistent_data, "
                                "demand_after_expiry, amount_exceeds_available, other")
        _signed(q)
    q = s.add_parser("amend", help="the guarantor proposes an amendment")
    q.add_argument("--guarantee", required=True)
    q.add_argument("--amount", type=int, default=None, help="the new amount: " + AMOUNT_HELP)
    q.add_argument("--expiry-date", default=None, help="the new expiry date, YYYY-MM-DD")
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
    for name, what, method in (
            ("mt765", "submit an MT765 as a demand (signed by the beneficiary)", "demand"),
            ("mt767", "submit an MT767 as an amendment proposal (signed by the guarantor)",
             "amend_guarantee")):
        q = s.add_parser(name, help=what)
        q.add_argument("file", help=f"the {name.upper()} (a FIN message or its text block)")
        q.add_argument("--guarantee", required=True,
                       help=f"the guarantee id; the message is checked against it before "
                            f"{method} is signed")
        _signed(q)
    q = s.add_parser("export", help="write the guarantee as an MT760, a demand as an MT765 "
                                    "(--demand), the pending amendment as an MT767 "
                                    "(--amendment)")
    q.add_argument("guarantee", nargs="?", default=None, help="the guarantee id")
    q.add_argument("--guarantee", dest="guarantee_opt", default=None,
                   help="the guarantee id (as `show` takes it)")
    q.add_argument("--demand", default=None, help="write this demand as an MT765")
    q.add_argument("--amendment", action="store_true",
                   help="write the guarantee's pending amendment as an MT767")
    q.add_argument("--sender", default=None,
                   help="an MT765's sender BIC (default: the advising bank)")
    q.add_argument("--receiver", default=None,
                   help="receiver BIC (default: the advising bank; an MT765's: the guarantor)")
    q.add_argument("--out", default=None, help="file to write (default: stdout)")
    add_regulator_call_args(q, run, signs=False)
    q = s.add_parser("reduce", help="the beneficiary lowers the amount (a partial release)")
    q.add_argument("--guarantee", required=True, help="the guarantee id")
    q.add_argument("--amount", type=int, required=True,
                   help="the new amount in force, lower, at least what is paid and demanded: "
                        + AMOUNT_HELP)
    _signed(q)
    q = s.add_parser("claim", help="the beneficiary has a demand paid that the guarantor "
                                   "neither paid nor rejected in time (URDG 758 art. 24 f)")
    q.add_argument("--demand", required=True, help="the demand id")
    _signed(q)
    q = s.add_parser("suspend", help="the guarantor suspends payment of an extend-or-pay "
                                     "demand (art. 23)")
    q.add_argument("--demand", required=True, help="the demand id")
    q.add_argument("--days", type=int, default=None,
                   help="calendar days from the demand, at most 30 (default: 30)")
    _signed(q)
    q = s.add_parser("extend", help="the guarantor grants an extend-or-pay demand's extension "
                                    "(the demand is withdrawn)")
    q.add_argument("--demand", required=True, help="the demand id")
    _signed(q)
    q = s.add_parser("expire", help="record the guarantee's expiry: its date has passed, or "
                                    "(the guarantor) its expiry event occurred")
    q.add_argument("--guarantee", required=True, help="the guarantee id")
    q.add_argument("--event-evidence", default=None,
                   help="the expiry event: the document presented, or the guarantor's record")
    _signed(q)
    for name, what in (("withdraw-amendment", "the guarantor withdraws its pending amendment "
                                              "before the beneficiary accepts it (not one that "
                                              "raises the amount or puts the expiry later: "
                                              "URDG 758 art. 11 b)"),
                       ("reject-amendment", "the beneficiary rejects the pending amendment "
                                            "(URDG 758 art. 11 c): the guarantee stands as it "
                                            "was")):
        q = s.add_parser(name, help=what)
        q.add_argument("--guarantee", required=True, help="the guarantee id")
        q.add_argument("--proposal", type=int, required=True,
                       help="the pending amendment's proposal number (amend's result.proposal; "
                            "`guarantee show`: amendment.proposal)")
        _signed(q)
