"""``chainfin lc mt700 submit | copy | export``: letters of credit as SWIFT MT700 messages.

Each command talks to one node's REST API (``--node``; ``--ca`` for an https node, else
``$SSL_CERT_FILE``), every read signed with ``--key`` (RFC 9421). Currencies' exponents and the
parties' names come from the genesis (``/v1/genesis``, public) and ``governance/id/<key>``
(any identity reads it). The contract layer's argument parsers, document types and name rule
come in as :class:`LedgerRules` from ``chainfin.cli`` (this layer imports nothing from
contracts), so a message the ledger would refuse is refused before it is signed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainfin.client import Client, ClientError, reader_identity
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.exec_args import bic_key
from chainfin.swift import mt700
from chainfin.types import Transaction

#: A FIN message is at most 10,000 characters; a file far larger is none and is not read.
MAX_FILE_BYTES = 64 * 1024
#: :31D:'s place of expiry when exporting: the ledger keeps none; its expiry is by block time.
DEFAULT_EXPIRY_PLACE = "ON CHAINFIN UTC"
T = "trade_documents"


@dataclass(frozen=True, slots=True)
class LedgerRules:
    """What the contract layer lends this adapter (``chainfin.cli`` builds it)."""

    #: :func:`contracts.names.name_skeleton`: how the ledger compares party names
    name_skeleton: Callable[[str], str]
    #: :data:`contracts.trade.norm.DOC_TYPES`
    doc_types: tuple[str, ...]
    #: ``trade_documents.issue_lc``'s ``Method.parse_args``
    issue_lc_args: Callable[[Mapping[str, Any]], Any]
    #: ``trade_documents.register``'s ``Method.parse_args``
    register_args: Callable[[Mapping[str, Any]], Any]
    #: :func:`contracts.trade.norm.normalise_fields`
    normalise_fields: Callable[..., Any]


class SwiftError(ChainfinError):
    """The message or the ledger's answer stops the command before anything is signed."""


def _err(msg: str) -> int:
    print(f"chainfin: error: {msg}", file=sys.stderr)
    return 2


def _note(msg: str) -> None:
    print(f"chainfin: note: {msg}", file=sys.stderr)


def read_message(path: str) -> tuple[bytes, str]:
    """The file's bytes and its text (SWIFT FIN is ASCII; a character outside the SWIFT set is
    reported by the parser with its field).

    Raises:
        SwiftError: too large, or not UTF-8.
    """
    with Path(path).open("rb") as f:  # at most the limit and one byte: a pipe, a device or a
        raw = f.read(MAX_FILE_BYTES + 1)  # file still being written has no size to trust
    if len(raw) > MAX_FILE_BYTES:
        raise SwiftError(f"{path} is more than {MAX_FILE_BYTES:,} bytes: a SWIFT message is at "
                         "most 10,000 characters")
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SwiftError(f"{path} is not text (byte {e.start} is not UTF-8)") from None


# ---------------------------------------------------------------------------- ledger look-ups


async def exponent_of(c: Client, genesis: Mapping[str, Any], code: str) -> int:
    """The currency's ISO 4217 exponent: from the genesis, else as governance added it.

    Raises:
        SwiftError: the ledger has no such currency.
    """
    for cur in genesis.get("currencies", []):
        if cur["code"] == code:
            return int(cur["exponent"])
    rec = await c.state_value("governance", "currency/" + code)
    if isinstance(rec, dict) and type(rec.get("exponent")) is int:
        return int(rec["exponent"])
    raise SwiftError(f":32B: the ledger has no currency {code}")


async def _signer(c: Client, me: str) -> tuple[dict[str, Any], Any]:
    """The genesis and the signing key's identity record (``identity_record``'s answer).

    Raises:
        SwiftError: the key is no identity on this ledger.
    """
    g = dict(await c.get("/v1/genesis"))
    mine = await c.identity_record(me)
    if mine is None:
        raise SwiftError("--key is no identity on this ledger")
    return g, mine


def _display_name(rec: Mapping[str, Any]) -> str:
    return str(rec.get("legal_name") or rec.get("name") or "")


def matching_name(lines: tuple[str, ...], names: list[str],
                  skeleton: Callable[[str], str]) -> str | None:
    """The name in the field's lines (:func:`mt700.name_candidates`) that is one of ``names``
    by the ledger's rule (the same :func:`contracts.names.name_skeleton`), or None."""
    wanted = {skeleton(n) for n in names if n}
    for cand in mt700.name_candidates(lines):
        if skeleton(cand) in wanted:
            return cand
    return None


def find_party(tag: str, lines: tuple[str, ...], genesis: Mapping[str, Any],
               skeleton: Callable[[str], str], role: str | None = None) -> str:
    """The one genesis identity (of ``role``, if given) whose legal name or name is the party
    named in :50: / :59:.

    Raises:
        SwiftError: none, or more than one.
    """
    found = []
    for ident in genesis.get("identities", []):
        if role is not None and ident.get("role") != role:
            continue
        names = [ident.get("legal_name") or "", ident.get("name") or ""]
        if matching_name(lines, names, skeleton) is not None:
            found.append(ident)
    who = "exporter" if role == "exporter" else "identity"
    flag = "--beneficiary" if tag == "59" else "--applicant"
    if not found:
        raise SwiftError(f":{tag}: no {who} in the genesis is named {lines[0]!r}: pass {flag} "
                         "with its public key")
    if len(found) > 1:
        keys = ", ".join(f"{i['public_key'][:16]}… ({i['name']})" for i in found)
        raise SwiftError(f":{tag}: {lines[0]!r} names more than one identity ({keys}): pass "
                         f"{flag}")
    return str(found[0]["public_key"])


async def check_party(c: Client, tag: str, lines: tuple[str, ...], key: str,
                      skeleton: Callable[[str], str]) -> str:
    """``key`` (from ``--applicant`` / ``--beneficiary``) as an identity id, when its legal
    name or name is the party the field names.

    Raises:
        SwiftError: no such identity, or the message names someone else.
    """
    found = await c.identity_record(key.lower())
    if found is None:
        raise SwiftError(f"{key}: no identity on the ledger has this key")
    ident_id, rec = found
    names = [rec.get("legal_name") or "", rec.get("name") or ""]
    if matching_name(lines, names, skeleton) is None:
        raise SwiftError(f":{tag}: the message names {' / '.join(lines[:2])!r}, but "
                         f"{key[:16]}… is {_display_name(rec)!r}")
    return ident_id


def _check_sender(header: mt700.Header | None, bank: str | None, what: str) -> None:
    if header is None or bank is None:
        return
    if bic_key(header.sender_bic) != bic_key(bank):
        raise SwiftError(f"header: the message is from {header.sender_bic}, but {what} is "
                         f"{bank}")


async def _final(c: Client, tx: Transaction) -> dict[str, Any]:
    """Submit and wait until final: ``{status, tx_id, height, result | error}``; a refusal at
    admission as ``{status: "refused", error: {code, message}}``."""
    try:
        out = await c.submit(tx, wait=True)
    except ClientError as e:
        if e.status == 0 or e.status >= 500:
            raise
        return {"status": "refused", "tx_id": tx.tx_id.hex(),
                "error": {"code": e.code, "message": e.message}}
    return out


def _outcome(out: Mapping[str, Any], **committed: Any) -> tuple[dict[str, Any], int]:
    if out.get("status") == "committed":
        return {"status": "committed", **committed, "tx_id": out.get("tx_id"),
                "height": out.get("height")}, 0
    err = out.get("error") or {}
    return {"status": out.get("status"), "tx_id": out.get("tx_id"), "error": err.get("code"),
            "reason": err.get("message")}, 1


# ---------------------------------------------------------------------------- submit


async def submit(node: str, key: str, text: str, rules: LedgerRules, *,
                 applicant: str | None = None, beneficiary: str | None = None,
                 trade_id: str | None = None, unmapped_ok: bool = False,
                 ca: str | None = None, timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """The issuing bank's MT700 -> ``trade_documents.issue_lc`` signed with ``key``; returns
    the outcome to print and the exit code (0 committed, 1 refused or rejected).

    Raises:
        Mt700Error: the message is malformed (nothing was sent).
        SwiftError: it cannot become this bank's ``issue_lc`` (nothing was sent).
        ClientError: the node cannot be read or reached.
    """
    msg = mt700.parse(text)
    for n in msg.notes:
        _note(n)
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g, mine = await _signer(c, me)
        bank = mine[1].get("bank")
        _check_sender(msg.header, bank, "the signing bank")
        if applicant:
            app = await check_party(c, "50", msg.applicant, applicant, rules.name_skeleton)
        else:
            app = find_party("50", msg.applicant, g, rules.name_skeleton)
        if beneficiary:
            ben = await check_party(c, "59", msg.beneficiary, beneficiary, rules.name_skeleton)
        else:
            ben = find_party("59", msg.beneficiary, g, rules.name_skeleton, role="exporter")
        terms = mt700.ledger_terms(msg, await exponent_of(c, g, msg.currency))
        unknown = sorted(set(msg.required_docs) - set(rules.doc_types))
        if unknown:  # the table names a type the contract does not have
            raise SwiftError(f":46A: the ledger has no document type {', '.join(unknown)}")
        if msg.unmapped_documents:
            listed = "; ".join(repr(d) for d in msg.unmapped_documents)
            if not unmapped_ok:
                raise SwiftError(f":46A: documents the ledger does not hold: {listed} "
                                 "(the ledger would not check them; pass --unmapped-ok to issue "
                                 "anyway)")
            _note(f":46A: not checked by the ledger: {listed}")
        args: dict[str, Any] = {"applicant": app, "beneficiary": ben, **terms}
        if trade_id:
            args["trade_id"] = trade_id
        try:
            rules.issue_lc_args(args)
        except ChainfinError as e:
            raise SwiftError(f"the ledger would refuse it: {e}") from None
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, "issue_lc", args)
        out = await _final(c, tx)
    lc_id = (out.get("result") or {}).get("lc_id")
    return _outcome(out, lc_id=lc_id, lc_number=msg.lc_number, applicant=app, beneficiary=ben,
                    amount=terms["amount"], currency=msg.currency,
                    required_docs=terms.get("required_docs", ["invoice"]),
                    not_on_ledger=msg.unmapped_documents)


# ---------------------------------------------------------------------------- copy


async def copy(node: str, key: str, raw: bytes, text: str, rules: LedgerRules, *,
               trade_id: str | None = None, issuing_bank: str | None = None,
               ca: str | None = None, timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """The beneficiary registers the MT700 it received as its ``letter_of_credit`` document:
    issuing bank = the message's sender (blocks 1/2) or ``issuing_bank``; lc_number :20:;
    applicant :50:; beneficiary :59: (must be the signer's own name); amount and currency
    :32B:; expiry date :31D:; content hash = SHA-256 of the file.

    Raises:
        Mt700Error, SwiftError, ClientError: as :func:`submit` (nothing was sent).
    """
    msg = mt700.parse(text)
    bic = issuing_bank or (msg.header.sender_bic if msg.header else None)
    if bic is None:
        raise SwiftError("header: no FIN header names the issuing bank (the sender): pass "
                         "--issuing-bank BIC")
    if issuing_bank and msg.header is not None and (
            bic_key(issuing_bank) != bic_key(msg.header.sender_bic)):
        raise SwiftError(f"header: the message is from {msg.header.sender_bic}, not "
                         f"--issuing-bank {issuing_bank}")
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g, mine = await _signer(c, me)
        my_name = _display_name(mine[1])
        ben = matching_name(msg.beneficiary, [mine[1].get("legal_name") or "",
                                              mine[1].get("name") or ""], rules.name_skeleton)
        if ben is None:
            raise SwiftError(f":59: the message's beneficiary is {msg.beneficiary[0]!r}; you "
                             f"are {my_name!r}: only the beneficiary registers its copy")
        known = [n for i in g.get("identities", []) for n in (i.get("legal_name"), i.get("name"))
                 if n]
        app = matching_name(msg.applicant, known, rules.name_skeleton)
        exponent = await exponent_of(c, g, msg.currency)
        fields = {"issuing_bank": bic, "lc_number": msg.lc_number,
                  "applicant": app or msg.applicant[0], "beneficiary": ben,
                  "amount": mt700.amount_to_minor(msg.amount, exponent),
                  "currency": msg.currency, "expiry_date": msg.expiry_date.isoformat()}
        args: dict[str, Any] = {"doc_type": "letter_of_credit", "fields": fields,
                                "content_hash": hashlib.sha256(raw).hexdigest()}
        if trade_id:
            args["trade_id"] = trade_id
        try:
            rules.register_args(args)
            rules.normalise_fields("letter_of_credit", fields, lambda code: exponent)
        except ChainfinError as e:
            raise SwiftError(f"the ledger would refuse it: {e}") from None
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, "register", args)
        out = await _final(c, tx)
    res = out.get("result") or {}
    return _outcome(out, doc_id=res.get("doc_id"), trade_id=res.get("trade_id"),
                    issuing_bank=bic, lc_number=msg.lc_number)


# ---------------------------------------------------------------------------- export


def _bic_or_none(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    b = bic_key(v)
    return b if mt700.is_bic(b) else None


async def receiver_bic(c: Client, beneficiary: str) -> str | None:
    """The beneficiary's bank as the ledger knows it: the BIC in the beneficiary's own
    ``bank`` field, else that of the admin bank that registered it; None when neither is one."""
    found = await c.identity_record(beneficiary)
    if found is None:
        return None
    rec = found[1]
    own = _bic_or_none(rec.get("bank"))
    if own is not None:
        return own
    by = rec.get("registered_by")
    if isinstance(by, str):
        reg = await c.identity_record(by)
        if reg is not None:
            return _bic_or_none(reg[1].get("bank"))
    return None


def utc_date(timestamp_ms: int) -> datetime.date:
    """The UTC date of a block time."""
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000, tz=datetime.UTC).date()


async def issuing_terms(c: Client, lc_id: str) -> tuple[str, datetime.date]:
    """The LC's number and date of issue, from its issuing transaction (the LC record keeps
    neither; the transaction is its sender's — the issuing bank's —, its home bank's and the
    supervisors').

    Raises:
        SwiftError: this key cannot read the transaction, or it has no block time.
    """
    try:
        tx = await c.tx(lc_id, envelope=True)
    except ClientError as e:
        if e.status != 404:
            raise
        tx = {}
    args = (tx.get("tx") or {}).get("args") or {}
    if "lc_number" not in args:
        raise SwiftError("the LC number is in its issuing transaction, which only the "
                         "issuing bank (its sender), its home bank and supervisors read: "
                         "use the issuing bank's key")
    ts = tx.get("timestamp_ms")
    if type(ts) is not int:
        raise SwiftError(f"the issuing transaction {lc_id[:16]}… has no block time")
    return str(args["lc_number"]), utc_date(ts)


async def lc_banks(c: Client, lc: Mapping[str, Any], notes: list[str]) -> tuple[str, str]:
    """An LC message's sender (the issuing bank's BIC) and receiver (the beneficiary's bank,
    else :data:`mt700.PLACEHOLDER_BIC` with a note).

    Raises:
        SwiftError: the issuing bank has no BIC.
    """
    sender = _bic_or_none(lc.get("issuing_bank"))
    if sender is None:
        raise SwiftError(f"the issuing bank's identity has no BIC ({lc.get('issuing_bank')!r}"
                         "): a SWIFT message needs a sender BIC")
    receiver = await receiver_bic(c, lc["beneficiary"])
    if receiver is None:
        notes.append(f"the ledger knows no bank of the beneficiary: the receiver is "
                     f"{mt700.PLACEHOLDER_BIC}, a placeholder")
        receiver = mt700.PLACEHOLDER_BIC
    return sender, receiver


async def export(node: str, lc_id: str, identity: Identity | None, *, ca: str | None = None,
                 expiry_place: str | None = None, timeout: float = 60.0
                 ) -> tuple[str, list[str]]:
    """The MT700 of an on-ledger LC, and notes for stderr. Reads (signed by ``identity``) the
    LC (``lc/<id>``: its issuing bank, applicant, beneficiary, supervisors) and its issuing
    transaction (the LC number and date: its sender, the issuing bank, reads it whole).

    Raises:
        SwiftError: the LC or its transaction cannot be read, or the issuing bank has no BIC.
        Mt700Error: something on the ledger an MT700 cannot carry.
    """
    notes: list[str] = []
    async with Client(node, ca_file=ca, identity=identity, timeout=timeout) as c:
        g = dict(await c.get("/v1/genesis"))
        lc = await c.state_value(T, "lc/" + lc_id)
        if not isinstance(lc, dict):
            raise SwiftError(f"no LC {lc_id} that this key may read (its issuing bank, "
                             "applicant and beneficiary, regulators and auditors may)")
        lc_number, issued = await issuing_terms(c, lc_id)
        sender, receiver = await lc_banks(c, lc, notes)
        names = {}
        for role in ("applicant", "beneficiary"):
            found = await c.identity_record(lc[role])
            if found is None:
                raise SwiftError(f"the {role} {lc[role][:16]}… is no identity")
            names[role] = _display_name(found[1])
        exponent = await exponent_of(c, g, lc["currency"])
    if lc.get("status") != "open":
        notes.append(f"the LC is {lc.get('status')}")
    if lc.get("amendment"):
        notes.append("an amendment is pending (not in the MT700: it is not in force)")
    terms = mt700.LcTerms(
        sender_bic=sender, receiver_bic=receiver, lc_number=lc_number,
        issue_date=issued, expiry_date=datetime.date.fromisoformat(lc["expiry_date"]),
        expiry_place=expiry_place or DEFAULT_EXPIRY_PLACE, applicant=names["applicant"],
        beneficiary=names["beneficiary"], currency=lc["currency"], exponent=exponent,
        amount=int(lc["amount"]), tolerance_bps=int(lc.get("tolerance_bps") or 0),
        partial_drawings=bool(lc.get("partial_drawings")),
        usance_days=int(lc.get("usance_days") or 0),
        required_docs=tuple(lc.get("required_docs") or ()))
    return mt700.render(terms), notes


# ---------------------------------------------------------------------------- the commands


def write_export(text: str, notes: list[str], out: str | None) -> int:
    """An exported message to ``out`` (else stdout), its notes to stderr; exit code 0."""
    for n in notes:
        _note(n)
    if out:
        Path(out).write_bytes(text.encode("ascii"))
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0


def run(args: argparse.Namespace, rules: LedgerRules) -> int:
    """``chainfin lc mt700 <action>``: exit 0 done, 1 refused or rejected by the ledger, 2 the
    message or the command could not be used (nothing was sent)."""
    try:
        if args.mt700_command == "export":
            return write_export(*asyncio.run(export(
                args.node, args.lc, reader_identity(args), ca=args.ca,
                expiry_place=args.expiry_place, timeout=args.timeout)), args.out)
        raw, text = read_message(args.file)
        if args.mt700_command == "submit":
            out, rc = asyncio.run(submit(args.node, args.key, text, rules,
                                         applicant=args.applicant, beneficiary=args.beneficiary,
                                         trade_id=args.trade_id, unmapped_ok=args.unmapped_ok,
                                         ca=args.ca, timeout=args.timeout))
        else:
            out, rc = asyncio.run(copy(args.node, args.key, raw, text, rules,
                                       trade_id=args.trade_id, issuing_bank=args.issuing_bank,
                                       ca=args.ca, timeout=args.timeout))
    except mt700.Mt700Error as e:
        return _err("the MT700 is not usable:\n  " + "\n  ".join(e.problems))
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    print(json.dumps(out))
    return rc
