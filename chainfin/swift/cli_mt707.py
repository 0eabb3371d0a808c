"""``chainfin lc mt707 submit | accept | export``: amendments of letters of credit as SWIFT
MT707 messages (decision 135).

- ``submit`` (the issuing bank): its MT707 -> ``amend_lc`` with the message's number of
  amendment (:26E:), which the ledger requires to be the LC's next, so the same file sent twice
  proposes once; a cancellation request (:23S: CANCEL) -> ``cancel_lc`` (refused by the ledger
  until the beneficiary consents).
- ``accept`` (the beneficiary): the MT707 its advising bank passed on -> ``accept_amendment``
  pinned to that number, after checking that the amendment pending on the ledger is the one in
  the message, term by term; a cancellation request -> ``consent_cancel``.
- ``export`` (the issuing bank): the amendment pending on the ledger as an MT707.

Reads are signed with ``--key`` as for MT700 (:mod:`chainfin.swift.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from chainfin.client import Client, reader_identity
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.swift import mt707
from chainfin.swift.cli import (
    DEFAULT_EXPIRY_PLACE,
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


async def _lc(c: Client, lc_id: str) -> dict[str, Any]:
    lc = await c.state_value(T, "lc/" + lc_id)
    if not isinstance(lc, dict):
        raise SwiftError(f"no LC {lc_id} that this key may read (its issuing bank, applicant "
                         "and beneficiary, regulators and auditors may)")
    return lc


async def submit(node: str, key: str, lc_id: str, text: str,
                 amend_lc_args: Callable[[Mapping[str, Any]], Any], *, ca: str | None = None,
                 timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """The issuing bank's MT707 for the LC ``lc_id`` -> ``amend_lc`` (or ``cancel_lc`` for a
    cancellation request), signed with ``key``, checked first with ``amend_lc_args`` (the
    contract's own parser); the outcome to print and the exit code.

    Raises:
        MtError: the message is malformed (nothing was sent).
        SwiftError: it is not an amendment of this LC by this bank (nothing was sent).
        ClientError: the node cannot be read or reached.
    """
    msg = mt707.parse(text)
    for n in msg.notes:
        _note(n)
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g, mine = await _signer(c, me)
        _check_sender(msg.header, mine[1].get("bank"), "the signing bank")
        lc = await _lc(c, lc_id)
        number, issued = await issuing_terms(c, lc_id)
        if number != msg.lc_number:
            raise SwiftError(f":20: the message amends credit {msg.lc_number!r}; LC "
                             f"{lc_id[:16]}… is credit {number!r}")
        if issued != msg.issue_date:
            _note(f":31C: the message says the credit was issued {msg.issue_date}; the ledger "
                  f"issued it on {issued} (UTC)")
        if msg.cancel:
            args: dict[str, Any] = {"lc_id": lc_id}
            method = "cancel_lc"
            shown: dict[str, Any] = {"cancel": True}
        else:
            exponent = await exponent_of(c, g, lc["currency"])
            changes = mt707.ledger_changes(msg, int(lc["amount"]), lc["currency"], exponent)
            method = "amend_lc"
            args = {"lc_id": lc_id, "changes": changes, "number": msg.number}
            if "amount" in changes:  # the increase or decrease was added to this amount: the
                # ledger refuses it (amount_changed) if an acceptance changed it meanwhile
                args["amount_in_force"] = int(lc["amount"])
            pending = lc.get("amendment")
            if isinstance(pending, dict) and pending.get("number") == msg.number:
                _note(f"amendment {msg.number} is already pending (a file sent again?): the "
                      "ledger proposes each number once and refuses this one "
                      "(amendment_number); a replacement takes the next number")
            elif isinstance(pending, dict):
                _note(f"amendment {pending.get('number', '?')} is pending: this one replaces it "
                      "(the ledger holds one pending amendment; its increase or decrease is "
                      "counted from the amount in force, not from the pending one)")
            try:
                amend_lc_args(args)
            except ChainfinError as e:
                raise SwiftError(f"the ledger would refuse it: {e}") from None
            shown = {"number": msg.number, "changes": changes}
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, method, args)
        out = await _final(c, tx)
    return _outcome(out, lc_id=lc_id, lc_number=msg.lc_number, **shown)


def differences(pending: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The terms on which the ledger's pending amendment and the message differ."""
    return [f"{k}: the ledger's amendment says {pending.get(k)!r}, the message {wanted.get(k)!r}"
            for k in sorted(set(pending) | set(wanted)) if pending.get(k) != wanted.get(k)]


async def accept(node: str, key: str, lc_id: str, text: str, *, ca: str | None = None,
                 timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """The beneficiary accepts the amendment in the MT707 it received: only when the amendment
    pending on the ledger has the message's number and the same terms (checked here, then the
    acceptance is pinned to the number, which the ledger checks again when it executes).

    Raises:
        MtError, SwiftError, ClientError: as :func:`submit` (nothing was sent).
    """
    msg = mt707.parse(text)
    for n in msg.notes:
        _note(n)
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g, mine = await _signer(c, me)
        lc = await _lc(c, lc_id)
        if lc.get("beneficiary") != mine[0]:
            raise SwiftError("only the LC's beneficiary accepts its amendments")
        if msg.purpose == "ISSU":  # sent by the issuing bank (ADVI/ACNF: by an advising bank)
            _check_sender(msg.header, lc.get("issuing_bank"), "the LC's issuing bank")
        # :20: is checked by the ledger (the LC record keeps the number's fingerprint, not the
        # number): another credit's message with the same amendment number and terms is refused
        if msg.cancel:
            args: dict[str, Any] = {"lc_id": lc_id, "lc_number": msg.lc_number}
            method = "consent_cancel"
            shown: dict[str, Any] = {"cancel": True}
        else:
            pending = lc.get("amendment")
            if not isinstance(pending, dict):
                raise SwiftError(f"LC {lc_id[:16]}… has no amendment pending (amendment "
                                 f"{msg.number} was replaced, withdrawn or already accepted)")
            at = pending.get("number", int(lc.get("amendments", 0)) + 1)
            if at != msg.number:
                raise SwiftError(f":26E: the message is amendment {msg.number}; the one pending "
                                 f"on the ledger is {at}: accept the message that carries it")
            exponent = await exponent_of(c, g, lc["currency"])
            wanted = mt707.ledger_changes(msg, int(lc["amount"]), lc["currency"], exponent)
            diff = differences(pending.get("changes") or {}, wanted)
            if diff:
                raise SwiftError("the amendment pending on the ledger is not the message's: "
                                 + "; ".join(diff))
            method = "accept_amendment"
            args = {"lc_id": lc_id, "number": msg.number, "lc_number": msg.lc_number}
            shown = {"number": msg.number, "changes": wanted}
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, method, args)
        out = await _final(c, tx)
    return _outcome(out, lc_id=lc_id, lc_number=msg.lc_number, **shown)


async def export(node: str, lc_id: str, identity: Identity | None, *, ca: str | None = None,
                 expiry_place: str | None = None, timeout: float = 60.0
                 ) -> tuple[str, list[str]]:
    """The amendment pending on the LC ``lc_id`` as an MT707 from the issuing bank to the
    beneficiary's bank, and notes for stderr.

    Raises:
        SwiftError: nothing pending, or the LC or its issuing transaction cannot be read.
        MtError: something an MT707 cannot carry.
    """
    notes: list[str] = []
    async with Client(node, ca_file=ca, identity=identity, timeout=timeout) as c:
        g = dict(await c.get("/v1/genesis"))
        lc = await _lc(c, lc_id)
        pending = lc.get("amendment")
        if not isinstance(pending, dict):
            raise SwiftError(f"LC {lc_id[:16]}… has no amendment pending")
        number, issued = await issuing_terms(c, lc_id)
        sender, receiver = await lc_banks(c, lc, notes)
        exponent = await exponent_of(c, g, lc["currency"])
    ts = pending.get("timestamp_ms")
    if type(ts) is not int:  # proposed before decision 135: no time kept, the issue date's
        notes.append(":30: the amendment's date is not on the ledger (proposed before its "
                     "number was kept): the date of issue is written")
    n = pending.get("number", int(lc.get("amendments", 0)) + 1)
    a = mt707.Amendment(
        sender_bic=sender, receiver_bic=receiver, lc_number=number, issue_date=issued,
        number=int(n), amendment_date=utc_date(ts) if type(ts) is int else issued,
        currency=lc["currency"], exponent=exponent, amount=int(lc["amount"]),
        changes=pending.get("changes") or {}, expiry_place=expiry_place or DEFAULT_EXPIRY_PLACE)
    return mt707.render(a), notes


def run(args: argparse.Namespace, amend_lc_args: Callable[[Mapping[str, Any]], Any]) -> int:
    """``chainfin lc mt707 <action>``: exit 0 done, 1 refused or rejected by the ledger, 2 the
    message or the command could not be used (nothing was sent)."""
    try:
        if args.mt707_command == "export":
            return write_export(*asyncio.run(export(
                args.node, args.lc, reader_identity(args), ca=args.ca,
                expiry_place=args.expiry_place, timeout=args.timeout)), args.out)
        _, text = read_message(args.file)
        if args.mt707_command == "submit":
            out, rc = asyncio.run(submit(args.node, args.key, args.lc, text, amend_lc_args,
                                         ca=args.ca, timeout=args.timeout))
        else:
            out, rc = asyncio.run(accept(args.node, args.key, args.lc, text, ca=args.ca,
                                         timeout=args.timeout))
    except MtError as e:
        return _err("the MT707 is not usable:\n  " + "\n  ".join(e.problems))
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    print(json.dumps(out))
    return rc
