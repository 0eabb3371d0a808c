"""``chainfin lc mt734 submit | export`` and ``chainfin lc mt756 export``: the examination
outcome of a presentation as SWIFT messages.

- ``mt734 submit`` (the issuing bank): its MT734 Advice of Refusal -> ``refuse_presentation``
  of the presentation :21: names, with the codes :77J: maps to (``mt734.DISCREPANCIES``; an
  item it cannot map is refused unless ``--code`` names the code).
- ``mt734 export`` (the issuing bank): a refusal the ledger records, as an MT734.
- ``mt756 export`` (the issuing bank): a presentation the ledger honoured and paid, as an MT756
  Advice of Reimbursement or Payment.

A presentation's reference in :21: is the presenter's reference its record keeps (``present``'s
``reference``), found among an LC's presentations by one read (``presref/``); a presentation
recorded without one is named by its ledger id's first 16 hex digits
(:func:`mt734.presentation_reference`: ids are 64 digits, longer than SWIFT's 16x). Reads are
signed with ``--key`` as for MT700 (:mod:`chainfin.swift.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import re
from collections.abc import Sequence
from typing import Any

from chainfin.client import Client, ClientError, reader_identity
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.swift import mt734, mt756
from chainfin.swift.cli import (
    SwiftError,
    T,
    _check_sender,
    _err,
    _final,
    _note,
    _outcome,
    _signer,
    exponent_of,
    issuing_terms,
    lc_banks,
    read_message,
    utc_date,
    write_export,
)
from chainfin.swift.mt700 import MtError
from chainfin.types import Transaction

_HEX_ID = re.compile(r"[0-9a-f]{64}")
_REF = re.compile(r"[0-9A-Fa-f]{16}")


def _last_day(deadline_ms: int) -> datetime.date:
    """The last day of an examination period that ends at midnight UTC ``deadline_ms``."""
    return utc_date(deadline_ms - 1)


async def read_presentation(c: Client, presentation_id: str) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """The presentation record and its LC's.

    Raises:
        SwiftError: no such presentation, or none this key may read (the LC's parties and
            supervisors may).
    """
    pres = await c.state_value(T, "pres/" + presentation_id)
    if not isinstance(pres, dict):
        raise SwiftError(f"no presentation {presentation_id} that this key may read (the LC's "
                         "issuing bank, applicant and beneficiary, regulators and auditors may)")
    lc = await c.state_value(T, "lc/" + str(pres["lc_id"]))
    if not isinstance(lc, dict):
        raise SwiftError(f"the LC {pres['lc_id']} of the presentation cannot be read with this "
                         "key")
    return pres, lc


async def tx_time(c: Client, tx_id: str) -> int | None:
    """The block time of a committed transaction, when this key reads it whole (its sender,
    the sender's home bank, supervisors); else None."""
    try:
        tx = await c.tx(tx_id, envelope=True)
    except ClientError as e:
        if e.status in (403, 404):
            return None
        raise
    ts = tx.get("timestamp_ms")
    return ts if tx.get("status") == "committed" and type(ts) is int else None


async def find_presentation(c: Client, ref: str, presentation: str | None,
                            lc_id: str | None) -> str:
    """The presentation an MT734's :21: names: ``presentation`` (checked against :21: once its
    record is read: :func:`check_reference`), else among the presentations of the LC ``lc_id``
    the one whose presenter's reference is :21: (any case), else the one whose id starts with
    :21: (a presentation recorded without a reference).

    Raises:
        SwiftError: neither given, none or several match.
    """
    if presentation is not None:
        pid = presentation.lower()
        if not _HEX_ID.fullmatch(pid):
            raise SwiftError(f"--presentation {presentation!r} is not a presentation id (64 hex "
                             "digits)")
        return pid
    if lc_id is None:
        raise SwiftError(":21: a presentation is found among its LC's: pass --lc ID (or "
                         "--presentation ID)")
    lc_id = lc_id.lower()
    if not _HEX_ID.fullmatch(lc_id):
        raise SwiftError(f"--lc {lc_id!r} is not an LC id (64 hex digits: the lc_id issue_lc "
                         "returned)")
    indexed = await c.state_value(T, mt734.reference_key(lc_id, ref)) if ref else None
    if isinstance(indexed, dict) and isinstance(indexed.get("presentation_id"), str):
        return str(indexed["presentation_id"])
    # not found by its reference: a mistyped --lc says so, not that the LC lacks :21:
    lc = await c.state_value(T, "lc/" + lc_id)
    if not isinstance(lc, dict):
        raise SwiftError(f"--lc: no LC {lc_id} that this key may read (the issuing bank's key "
                         "reads its LCs)")
    if _REF.fullmatch(ref) is None:
        raise SwiftError(f":21: LC {lc_id[:16]}… has no presentation with the reference {ref!r} "
                         "(that this key may read): pass --presentation ID")
    found = [p for p in lc.get("presentations") or [] if str(p).startswith(ref.lower())]
    if not found:
        raise SwiftError(f":21: LC {lc_id[:16]}… has no presentation {ref}")
    if len(found) > 1:  # 64 bits of a hash: only a presenter grinding ids would get here
        raise SwiftError(f":21: {ref} is the reference of {len(found)} presentations of LC "
                         f"{lc_id[:16]}…: pass --presentation ID")
    return str(found[0])


def check_reference(ref: str, pid: str, pres: dict[str, Any]) -> None:
    """:21: names presentation ``pid``: its presenter's reference (any case) or its id's first
    16 hex digits; with neither on the record's side to compare (no reference, and :21: not 16
    hex digits: a presenting bank's own reference) it is noted and the presentation stands.

    Raises:
        SwiftError: :21: is another presentation's reference.
    """
    own = pres.get("reference")
    by_id = mt734.presentation_reference(pid)
    if isinstance(own, str) and own and ref.upper() == own.upper():
        return
    if ref.upper() == by_id:
        return
    if isinstance(own, str) and own:
        raise SwiftError(f":21: {ref} is not presentation {pid[:16]}…'s reference {own!r}")
    if _REF.fullmatch(ref):
        raise SwiftError(f":21: {ref} is the reference of another presentation; "
                         f"{pid[:16]}… is {by_id}")
    _note(f":21: {ref!r} is not a reference the ledger keeps for presentation {pid[:16]}…: "
          "the presentation is --presentation's")


def presented_on(pres: dict[str, Any]) -> datetime.date | None:
    """The UTC date of presentation its record keeps (``presented_ms``), or None."""
    ms = pres.get("presented_ms")
    return utc_date(ms) if type(ms) is int else None


# ---------------------------------------------------------------------------- MT734 submit


async def submit(node: str, key: str, text: str, *, presentation: str | None = None,
                 lc_id: str | None = None, codes: Sequence[str] = (), ca: str | None = None,
                 timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """The issuing bank's MT734 -> ``refuse_presentation(presentation_id, discrepancies,
    disposal)`` signed with ``key`` (:77B:'s code is the disposal); the outcome to print and
    the exit code (0 committed, 1 refused or rejected by the ledger, whose code is printed:
    ``presentation_closed`` for one already accepted, paid or refused, ``refusal_too_late``
    after the examination period).

    Raises:
        MtError: the message is malformed, or :77J: has wording the table cannot map and no
            ``codes`` were given (nothing was sent).
        SwiftError: it does not name this presentation, amount or bank (nothing was sent).
        ClientError: the node cannot be read or reached.
    """
    msg = mt734.parse(text)
    discrepancies = mt734.refusal_codes(msg, codes)
    for n in msg.notes:
        _note(n)
    if msg.unmapped:
        _note(":77J: mapped by --code: " + "; ".join(repr(t) for t in msg.unmapped))
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g, mine = await _signer(c, me)
        _check_sender(msg.header, mine[1].get("bank"), "the signing bank")
        pid = await find_presentation(c, msg.presentation_ref, presentation, lc_id)
        pres, lc = await read_presentation(c, pid)
        check_reference(msg.presentation_ref, pid, pres)
        if msg.currency != lc["currency"]:
            raise SwiftError(f":32A: the message is in {msg.currency}; presentation "
                             f"{pid[:16]}… is in {lc['currency']}")
        exponent = await exponent_of(c, g, lc["currency"])
        _, _, amount = mt734.utilisation(msg, exponent)
        if amount != pres["amount"]:
            raise SwiftError(f":32A: the message refuses a utilisation of {msg.currency} "
                             f"{msg.amount}; presentation {pid[:16]}… is of "
                             f"{pres['amount']} minor units")
        on = presented_on(pres)
        if on is None:
            ts = await tx_time(c, pid)
            on = None if ts is None else utc_date(ts)
        if on is not None and on != msg.utilisation_date:
            _note(f":32A: the message dates the utilisation {msg.utilisation_date}; the "
                  f"presentation was made on {on} (UTC)")
        if pres.get("status") != "presented":
            _note(f"presentation {pid[:16]}… is {pres.get('status')}: the ledger refuses its "
                  "refusal")
        args: dict[str, Any] = {"presentation_id": pid, "discrepancies": discrepancies}
        if msg.disposal:
            args["disposal"] = msg.disposal
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, "refuse_presentation", args)
        out = await _final(c, tx)
    return _outcome(out, presentation_id=pid, lc_id=pres["lc_id"],
                    discrepancies=discrepancies, disposal=msg.disposal)


# ---------------------------------------------------------------------------- exports


async def _utilisation_date(c: Client, pid: str, given: datetime.date | None,
                            notes: list[str], pres: dict[str, Any] | None = None
                            ) -> datetime.date:
    """:32A:'s date: the date of presentation the record keeps (``presented_ms``), else the
    UTC date of the presenting block when this key reads the presenting transaction (``given``
    differing from either is noted and not used), else ``given``.

    Raises:
        SwiftError: none of these.
    """
    recorded = (pres or {}).get("presented_ms")
    ts = recorded if type(recorded) is int else await tx_time(c, pid)
    if ts is None:
        if given is None:
            raise SwiftError("the date of presentation is the block time of the presenting "
                             "transaction, which only the beneficiary, its home bank and "
                             "supervisors read (this presentation's record keeps no date: it "
                             "was recorded before dates were kept): pass --utilisation-date "
                             "YYMMDD")
        return given
    if given is not None and given != utc_date(ts):
        notes.append(f"--utilisation-date {given} is not used: the presentation was made on "
                     f"{utc_date(ts)} (UTC)")
    return utc_date(ts)


def _not_refused(pid: str, pres: dict[str, Any], chain_ms: int | None) -> str:
    status = pres.get("status")
    deadline = pres.get("examination_deadline_ms")
    out = f"presentation {pid[:16]}… is {status}, not refused"
    if "claimed" in pres:
        return (out + ": the beneficiary claimed honour after the examination period, when a "
                "refusal was too late (refusal_too_late, UCP 600 art. 16 f)")
    if status in ("accepted", "paid"):
        return out + ": it was honoured (its payment is an MT756: `chainfin lc mt756 export`)"
    if status == "presented" and type(deadline) is int and chain_ms is not None \
            and chain_ms >= deadline:
        return (out + f": its examination period ended with {_last_day(deadline)} (UTC), so a "
                "refusal is too late (refusal_too_late) and it must be honoured (UCP 600 "
                "art. 16 d, f)")
    return out + ": refuse it first (`chainfin lc mt734 submit`)"


async def export_refusal(node: str, presentation_id: str, identity: Identity | None, *,
                         ca: str | None = None, disposal: str | None = None,
                         utilisation_date: datetime.date | None = None, timeout: float = 60.0
                         ) -> tuple[str, list[str]]:
    """The MT734 of a refusal on the ledger (``refused``, or ``held``: its documents held),
    from the issuing bank to the beneficiary's bank (as ``mt700 export``), and notes for
    stderr: :20: the LC number, :21: the presentation's reference, :32A: its date of
    presentation (the record's, else the presenting block's, else ``utilisation_date``) and
    the amount, :77J: the ledger's codes, :77B: the disposal the refusal recorded (``disposal``
    only for a refusal recorded without one; default ``RETURN``).

    Raises:
        SwiftError: the presentation is not refused (saying why: pending, too late to refuse,
            honoured), or it, its LC or the LC's issuing transaction cannot be read.
        MtError: something an MT734 cannot carry.
    """
    notes: list[str] = []
    pid = presentation_id.lower()
    async with Client(node, ca_file=ca, identity=identity, timeout=timeout) as c:
        g = dict(await c.get("/v1/genesis"))
        pres, lc = await read_presentation(c, pid)
        if pres.get("status") not in ("refused", "held"):
            chain_ms = (await c.status()).get("timestamp_ms")
            raise SwiftError(_not_refused(pid, pres, chain_ms if type(chain_ms) is int
                                          else None))
        number, _ = await issuing_terms(c, str(pres["lc_id"]))
        sender, receiver = await lc_banks(c, lc, notes)
        date = await _utilisation_date(c, pid, utilisation_date, notes, pres)
        exponent = await exponent_of(c, g, lc["currency"])
    refusal = pres.get("refused")
    recorded = refusal.get("disposal") if isinstance(refusal, dict) else None
    if isinstance(recorded, str):
        if disposal is not None and disposal != recorded:
            notes.append(f"--disposal {disposal} is not used: the refusal recorded /{recorded}/")
        disposal = recorded
    else:
        disposal = disposal or "RETURN"
        notes.append(f":77B: /{disposal}/ is the sender's: this refusal was recorded without a "
                     "disposal (its documents were freed for a new presentation)")
    if pres.get("status") == "held":
        notes.append("the documents are held under the refusal: the applicant may waive, the "
                     "bank accept, or they are returned (return_documents)")
    r = mt734.Refusal(sender_bic=sender, receiver_bic=receiver, reference=number,
                      presentation_ref=mt734.presentation_reference(pid, pres.get("reference")),
                      utilisation_date=date, currency=lc["currency"], exponent=exponent,
                      amount=int(pres["amount"]),
                      discrepancies=tuple(pres.get("discrepancies") or ()), disposal=disposal)
    return mt734.render(r), notes


_PAYING = ("accept_presentation", "pay_deferred", "claim_honour")


async def _payment_time(c: Client, pid: str, pres: dict[str, Any],
                        payment_tx: str | None) -> int:
    """The block time of the transaction that paid ``pres``: the record's ``paid`` (then
    ``payment_tx``, if given, must be its ``tx_id``); for a record without it, ``payment_tx``
    (checked to be a committed payment of this presentation), else a claim of honour at sight
    (the record keeps its time).

    Raises:
        SwiftError: no time on the ledger and no transaction given, or the transaction is not
            this presentation's payment or cannot be read whole with this key.
    """
    paid = pres.get("paid")
    if isinstance(paid, dict) and type(paid.get("timestamp_ms")) is int:
        if payment_tx is not None and payment_tx.lower() != paid.get("tx_id"):
            raise SwiftError(f"--payment-tx {payment_tx[:16]}… is not the payment of "
                             f"presentation {pid[:16]}…: its record names "
                             f"{str(paid.get('tx_id'))[:16]}…")
        return int(paid["timestamp_ms"])
    if payment_tx is None:
        claimed = pres.get("claimed")
        if isinstance(claimed, dict) and pres.get("due_ms") is None \
                and type(claimed.get("timestamp_ms")) is int:
            return int(claimed["timestamp_ms"])
        raise SwiftError("the presentation record keeps no date of payment (it was paid before "
                         "payments were recorded): pass --payment-tx with the transaction that "
                         "paid it (accept_presentation or pay_deferred; its tx_id was printed "
                         "when it committed)")
    try:
        tx = await c.tx(payment_tx.lower(), envelope=True)
    except ClientError as e:
        if e.status not in (403, 404):
            raise
        tx = {}
    body = tx.get("tx") or {}
    ts = tx.get("timestamp_ms")
    if tx.get("status") != "committed" or type(ts) is not int:
        raise SwiftError(f"--payment-tx {payment_tx[:16]}…: no committed transaction this key "
                         "reads whole (its sender, the sender's home bank, supervisors)")
    if body.get("method") not in _PAYING or (body.get("args") or {}).get("presentation_id") \
            != pid or (tx.get("result") or {}).get("status") != "paid":
        raise SwiftError(f"--payment-tx {payment_tx[:16]}… is not the payment of presentation "
                         f"{pid[:16]}… ({' / '.join(_PAYING)} that paid it)")
    return ts


async def export_payment(node: str, presentation_id: str, identity: Identity | None, *,
                         payment_tx: str | None = None, ca: str | None = None,
                         timeout: float = 60.0) -> tuple[str, list[str]]:
    """The MT756 of a paid presentation, from the issuing bank to the beneficiary's bank, and
    notes for stderr: :20: the LC number, :21: the presentation's reference, :32B: the amount
    presented, :33A: the amount paid with the UTC date of the paying block (the record's
    ``paid``; ``payment_tx`` for a presentation paid before payments were recorded).

    Raises:
        SwiftError: the presentation is not paid (refused, pending, accepted and not yet due),
            its payment's date cannot be read, or the records cannot be read.
        MtError: something an MT756 cannot carry.
    """
    notes: list[str] = []
    pid = presentation_id.lower()
    async with Client(node, ca_file=ca, identity=identity, timeout=timeout) as c:
        g = dict(await c.get("/v1/genesis"))
        pres, lc = await read_presentation(c, pid)
        status = pres.get("status")
        if status != "paid":
            why = {"refused": "refused: nothing was paid (its refusal is an MT734)",
                   "held": "refused, its documents held: nothing was paid (its refusal is an "
                           "MT734; after the applicant's waiver the bank may accept it)",
                   "presented": "not examined yet: nothing was paid",
                   "accepted": "accepted, its deferred payment not made yet"
                               + (f" (due {utc_date(pres['due_ms'])})"
                                  if type(pres.get("due_ms")) is int else "")}
            raise SwiftError(f"presentation {pid[:16]}… is {why.get(str(status), status)}")
        number, _ = await issuing_terms(c, str(pres["lc_id"]))
        sender, receiver = await lc_banks(c, lc, notes)
        paid_ms = await _payment_time(c, pid, pres, payment_tx)
        exponent = await exponent_of(c, g, lc["currency"])
    payments = pres.get("payments") or []
    banks = [p for p in payments if p.get("financing_id") is not None]
    if banks:
        notes.append(f"paid to {len(banks)} financing bank(s) first (assignment of proceeds): "
                     + ", ".join(f"{p['amount']} to {str(p['to'])[:16]}…" for p in banks))
    a = mt756.Advice(sender_bic=sender, receiver_bic=receiver, reference=number,
                     presentation_ref=mt734.presentation_reference(pid, pres.get("reference")),
                     currency=lc["currency"], exponent=exponent, claimed=int(pres["amount"]),
                     paid=sum(int(p["amount"]) for p in payments), value_date=utc_date(paid_ms))
    return mt756.render(a), notes


# ---------------------------------------------------------------------------- the commands


def _yymmdd(v: str | None) -> datetime.date | None:
    if v is None:
        return None
    if not re.fullmatch(r"[0-9]{6}", v):
        raise SwiftError(f"--utilisation-date {v!r} is not a date YYMMDD")
    try:
        return datetime.date(2000 + int(v[:2]), int(v[2:4]), int(v[4:6]))
    except ValueError:
        raise SwiftError(f"--utilisation-date {v!r} is not a calendar date (YYMMDD)") from None


def run_mt734(args: argparse.Namespace) -> int:
    """``chainfin lc mt734 <action>``: exit 0 done, 1 refused or rejected by the ledger, 2 the
    message or the command could not be used (nothing was sent)."""
    try:
        if args.mt734_command == "export":
            return write_export(*asyncio.run(export_refusal(
                args.node, args.presentation, reader_identity(args), ca=args.ca,
                disposal=args.disposal, utilisation_date=_yymmdd(args.utilisation_date),
                timeout=args.timeout)), args.out)
        _, text = read_message(args.file)
        out, rc = asyncio.run(submit(args.node, args.key, text, presentation=args.presentation,
                                     lc_id=args.lc, codes=args.code or (), ca=args.ca,
                                     timeout=args.timeout))
    except MtError as e:
        return _err("the MT734 is not usable:\n  " + "\n  ".join(e.problems))
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    print(json.dumps(out))
    return rc


def run_mt756(args: argparse.Namespace) -> int:
    """``chainfin lc mt756 export``: exit 0 written, 2 it could not be."""
    try:
        return write_export(*asyncio.run(export_payment(
            args.node, args.presentation, reader_identity(args), payment_tx=args.payment_tx,
            ca=args.ca, timeout=args.timeout)), args.out)
    except MtError as e:
        return _err("an MT756 cannot carry this payment:\n  " + "\n  ".join(e.problems))
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
