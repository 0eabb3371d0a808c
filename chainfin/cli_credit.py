"""``chainfin credit grant | revoke | publish | request | open | dispute | answer | correct |
notify | notices | close | report | records``: credit sharing as
its subject and its banks use it (contracts/credit_sharing.py, decisions 179-180, 200-201,
248-249).

- ``grant`` (the subject): consent to a bank for named purposes, for a number of days, of one
  publisher's records only if given; ``revoke`` withdraws it.
- ``request`` (a bank): ask for a record, stating the purpose.
- ``publish`` (a bank): a credit record about a customer, from a file, sealed to the bank itself
  and every regulator at its current key, its salted commitment in clear; ``correct`` (the
  publisher): a corrected version of its record, sealed alike, that supersedes it (and tells
  the banks the old version was delivered to, decision 200); ``--retain-days``: how long the
  record is delivered (decision 201).
- ``notices`` (a bank: that records delivered to it were corrected, or that a dispute they
  were delivered under was rejected; a subject: the result of each of its disputes, decision
  248); ``notify`` (the publisher or the subject): tell the next page of earlier recipients a
  correction (``--dispute``: a rejected dispute) did not reach in its own transaction.
- ``close`` (the publisher or the subject): close a request left pending at its record's
  retention end, ``expired`` (decision 249); the subject also one its consent no longer
  covers, ``withdrawn`` (decision 250).
- ``open`` (the requesting bank: a delivered request; the publisher or a regulator: a record):
  open the sealed copy and check it against the commitment on chain.
- ``dispute`` (the subject): dispute a record with a reason; ``answer`` (the publisher):
  reject the dispute with a reason (or ``correct`` the record, which closes it).
- ``report`` (the subject; a regulator with ``--subject``): the access report, GDPR art. 15 —
  every request for the subject's records: who, when, for what purpose, refused, pending or
  delivered.
- ``records`` (the subject; a regulator with ``--subject``): every credit record about the
  subject and every consent it gave, from the subject index (decision 192), with the records
  the access report names and those and the banks given by ``--record`` / ``--bank`` (a
  record or consent from before decision 192 is not in the index).

The purposes are mirrored from the contract (this layer imports nothing from contracts); a unit
test holds them equal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chainfin.client import Client, ClientError, send_or_dry_run, submit_call
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError

__all__ = ["PURPOSES", "MAX_CONSENT_DAYS", "MAX_RETENTION_DAYS", "Sealing", "access_report",
           "add_parser", "bank_notices", "open_sealed", "run", "run_sealed", "sealed_args",
           "subject_records"]

#: ``credit_sharing.PURPOSES`` (and ``any``, which a consent may name).
PURPOSES = ("credit_decision", "account_review", "collections")
#: ``credit_sharing.MAX_CONSENT_DAYS``.
MAX_CONSENT_DAYS = 365
#: ``credit_sharing.MAX_RETENTION_DAYS``.
MAX_RETENTION_DAYS = 7 * 365 + 2
#: The report reads at most this many entries (the latest), unless ``--all``.
REPORT_LATEST = 200


async def _own_identity(c: Client, ident: Identity) -> str:
    """The identity the signing key is (its id), for a subject not named."""
    me = await c.identity_record(ident.public_key.hex())
    if me is None:
        raise ChainfinError("this key is no identity on the ledger")
    return str(me[0])


async def access_report(node: str, key: str, subject: str | None = None,
                        ca: str | None = None, timeout: float = 60.0,
                        latest: int | None = REPORT_LATEST) -> dict[str, Any]:
    """The access report of ``subject`` (default: the key's own identity), read as ``key``:
    ``{subject, requests: [{request_id, requester, requester_name, publisher, publisher_name,
    purpose, record_id, asked_ms, asked_at, status, delivered_ms, delivered_at}], entries,
    shown}``, oldest first, one row per request (its delivery folded in; ``*_at`` the block
    times in ISO 8601 UTC, names from the identities' records). A reader that may not read it gets an empty report
    (the node answers 404 alike for no report and no right to it).

    Raises:
        ClientError: the node could not be reached or refused the reader.
        ChainfinError: the key is no identity.
    """
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        if subject is None:
            subject = await _own_identity(c, ident)
        head = await c.state_value("credit_sharing", "access/" + subject)
        n = int(head["n"]) if isinstance(head, dict) else 0
        first = 1 if latest is None else max(1, n - latest + 1)
        rows: dict[str, dict[str, Any]] = {}
        names: dict[str, str | None] = {}
        for i in range(first, n + 1):
            e = await c.state_value("credit_sharing", f"access/{subject}/{i}")
            if not isinstance(e, dict):
                continue
            rid = str(e.get("request_id"))
            row = rows.get(rid)
            if row is None:
                who, pub = str(e.get("requester")), str(e.get("publisher"))
                for k in (who, pub):
                    if k not in names:
                        rec = await c.state_value("governance", "id/" + k)
                        names[k] = rec.get("name") if isinstance(rec, dict) else None
                row = rows[rid] = {
                    "request_id": rid, "requester": who, "requester_name": names[who],
                    "publisher": e.get("publisher"), "publisher_name": names[pub],
                    "purpose": e.get("purpose"), "record_id": e.get("record_id"),
                    "asked_ms": e.get("timestamp_ms"), "asked_at": _utc(e.get("timestamp_ms")),
                    "status": e.get("status"), "delivered_ms": None, "delivered_at": None,
                    "notified_at": None}
            if e.get("status") == "delivered":
                row.update(status="delivered", delivered_ms=e.get("timestamp_ms"),
                           delivered_at=_utc(e.get("timestamp_ms")),
                           record_id=e.get("record_id"))
            elif e.get("status") == "notified":  # told of a correction (decision 200)
                row.update(notified_at=_utc(e.get("timestamp_ms")))
            elif e.get("status") in ("expired", "withdrawn"):  # closed (decisions 249-250)
                row.update(status=e.get("status"), closed_at=_utc(e.get("timestamp_ms")))
    return {"subject": subject, "entries": n, "shown": n - first + 1 if n else 0,
            "requests": list(rows.values())}


async def bank_notices(node: str, key: str, ca: str | None = None, timeout: float = 60.0,
                       latest: int | None = REPORT_LATEST) -> dict[str, Any]:
    """The notices of the key's own identity, read as it: ``{bank, n, notices: [{record_id,
    publisher, status, ..., at}]}``, oldest first (the latest ``latest``). A bank's: status
    ``corrected`` (decision 200: ``version``, ``correction``, ``consent``; ``correction`` is the
    new version's id while the subject's consent lets the bank ask for it, ``chainfin credit
    request --record``, else null: the record it holds changed, and it may not have the new
    one) or ``dispute_rejected`` (decision 248: a record delivered to it marked disputed
    stands; ``dispute``, ``since_ms``). A subject's (``bank`` is then the subject's id): status
    ``dispute_rejected`` or ``dispute_corrected``, the result of its dispute with its
    ``reason``, the publisher's ``answer`` or the ``correction``, and how many ``banks`` are
    told."""
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        bank = await _own_identity(c, ident)
        head = await c.state_value("credit_sharing", "notice/" + bank)
        n = int(head["n"]) if isinstance(head, dict) else 0
        first = 1 if latest is None else max(1, n - latest + 1)
        out = []
        for i in range(first, n + 1):
            e = await c.state_value("credit_sharing", f"notice/{bank}/{i}")
            if isinstance(e, dict):
                out.append({**e, "at": _utc(e.get("timestamp_ms"))})
    return {"bank": bank, "n": n, "notices": out}


#: ``credit_sharing.INDEX_PAGE``: ids a page of the subject index holds.
INDEX_PAGE = 64
#: ``records`` reads at most this many records (the newest of the index first kept).
RECORDS_MAX = 1000


async def subject_records(node: str, key: str, subject: str | None = None,
                          ca: str | None = None, timeout: float = 60.0,
                          records: tuple[str, ...] = (), banks: tuple[str, ...] = (),
                          limit: int = RECORDS_MAX) -> dict[str, Any]:
    """Every credit record about ``subject`` (default: the key's own identity) and every consent
    it gave, read as ``key``: the subject index (``subj/<subject>``, decision 192), the records
    the access report names (its latest entries) and ``records`` / ``banks`` given, for those
    recorded before decision 192, which the index does not hold. ``{subject, indexed: {records,
    banks}, records: [{record_id, publisher, publisher_name, height, version, supersedes,
    superseded_by, dispute, indexed}], consents: [{bank, bank_name, purposes, granted_ms,
    until_ms, until_at, publisher, indexed}], no_consent: [banks of the index with no consent
    now: revoked]}``. A reader that may not read them gets empty lists (the node answers 404
    alike). Records: at most ``limit``, the index's newest.

    Raises:
        ClientError: the node could not be reached or refused the reader.
        ChainfinError: the key is no identity.
    """
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        if subject is None:
            subject = await _own_identity(c, ident)
        index: dict[str, list[str]] = {"r": [], "b": []}
        head = await c.state_value("credit_sharing", "subj/" + subject)
        counts = {"records": 0, "banks": 0}
        if isinstance(head, dict):
            for kind, count in (("r", "records"), ("b", "banks")):
                counts[count] = n = int(head.get(count, 0))
                pages = n // INDEX_PAGE
                first = 1 if kind == "b" else max(1, pages - limit // INDEX_PAGE)
                for p in range(first, pages + 1):
                    page = await c.state_value("credit_sharing", f"subj/{subject}/{kind}/{p}")
                    index[kind] += page.get("ids", []) if isinstance(page, dict) else []
                index[kind] += list(head.get(kind, []))
        # the access report (its latest entries) names records and banks the index may not
        want_r = list(dict.fromkeys(index["r"][-limit:] + list(records)))
        want_b = list(dict.fromkeys(index["b"] + list(banks)))
        ahead = await c.state_value("credit_sharing", "access/" + subject)
        n = int(ahead["n"]) if isinstance(ahead, dict) else 0
        for i in range(max(1, n - REPORT_LATEST + 1), n + 1):
            e = await c.state_value("credit_sharing", f"access/{subject}/{i}")
            if isinstance(e, dict):
                want_r += [str(e.get("record_id"))]
                want_b += [str(e.get("requester"))]
        names: dict[str, str | None] = {}

        async def name(k: Any) -> str | None:
            if isinstance(k, str) and k not in names:
                rec = await c.state_value("governance", "id/" + k)
                names[k] = rec.get("name") if isinstance(rec, dict) else None
            return names.get(k) if isinstance(k, str) else None

        out_r: dict[str, dict[str, Any]] = {}
        todo = list(dict.fromkeys(want_r))
        while todo and len(out_r) < limit:
            rid = todo.pop(0)
            if rid in out_r or not re.fullmatch(r"[0-9a-f]{64}", rid):
                continue
            rec = await c.state_value("credit_sharing", "record/" + rid)
            if not isinstance(rec, dict) or rec.get("subject") != subject:
                continue  # no such record, not readable, or about another subject
            d = await c.state_value("credit_sharing", "dispute/" + rid)
            out_r[rid] = {
                "record_id": rid, "publisher": rec.get("publisher"),
                "publisher_name": await name(rec.get("publisher")), "height": rec.get("height"),
                "version": rec.get("version", 1), "supersedes": rec.get("supersedes"),
                "superseded_by": rec.get("superseded_by"),
                "dispute": d.get("status") if isinstance(d, dict) else None,
                "indexed": rid in index["r"]}
            want_b.append(str(rec.get("publisher")))
            todo += [x for x in (rec.get("supersedes"), rec.get("superseded_by"))
                     if isinstance(x, str)]
        consents, no_consent = [], []
        for bk in dict.fromkeys(want_b):
            if not re.fullmatch(r"[0-9a-f]{64}", bk):
                continue
            cv = await c.state_value("credit_sharing", f"consent/{subject}/{bk}")
            if not isinstance(cv, dict):
                if bk in index["b"]:
                    no_consent.append(bk)
                continue
            consents.append({
                "bank": bk, "bank_name": await name(bk),
                "purposes": cv.get("purposes", ["any"]), "granted_ms": cv.get("timestamp_ms"),
                "until_ms": cv.get("until_ms"), "until_at": _utc(cv.get("until_ms")),
                "publisher": cv.get("publisher"), "indexed": bk in index["b"]})
    return {"subject": subject, "indexed": counts, "records": list(out_r.values()),
            "consents": consents, "no_consent": no_consent}


@dataclass(frozen=True, slots=True)
class Sealing:
    """``contracts.credit_sharing``'s record helpers, handed down by ``chainfin.cli`` (this layer
    imports nothing from contracts): ``make_commitment(record, salt)``, ``seal_record(record,
    salt, keys)``, ``open_and_check(identity, sealed, commitment)``."""

    make_commitment: Callable[[bytes, bytes], str]
    seal_record: Callable[[bytes, bytes, list[str]], dict[str, str]]
    open_and_check: Callable[[Identity, Any, str], bytes]


#: a credit record file is read up to this size (the transaction body is at most 64 KiB, and
#: each recipient's sealed copy is the record and its overhead, in hex)
MAX_RECORD_BYTES = 8192


async def sealed_args(node: str, key: str, record: bytes, seal: Sealing,
                      ca: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """``{commitment, sealed}`` of a new record (``publish`` and ``correct`` take them): a fresh
    16-byte salt, the record sealed to the signer's own key and every regulator's current key
    (the ones it signs with now, ``governance/id/<regulator>``'s ``key`` if it rotated) — the
    recipients the contract requires, nobody else."""
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        regs = await c.state_value("governance", "regulators")
        keys = [ident.public_key.hex()]
        for r in regs if isinstance(regs, list) else []:
            rec = await c.state_value("governance", f"id/{r}")
            keys.append(str(rec.get("key", r)) if isinstance(rec, dict) else str(r))
    salt = os.urandom(16)
    return {"commitment": seal.make_commitment(record, salt),
            "sealed": seal.seal_record(record, salt, sorted(set(keys)))}


async def open_sealed(node: str, key: str, seal: Sealing, request: str | None = None,
                      record: str | None = None, ca: str | None = None,
                      timeout: float = 60.0) -> tuple[bytes, dict[str, Any]]:
    """Open a delivered request's copy (``request``: the requesting bank) or a record's own
    copy (``record``: its publisher, a regulator) and check it against the record's commitment:
    ``(record bytes, {record_id, disputed, superseded_by})``.

    Raises:
        ChainfinError: nothing to open for this key (not delivered, not readable, no copy for
            it), or the copy does not match the commitment.
    """
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        disputed = None
        if request is not None:
            req = await c.state_value("credit_sharing", "request/" + request)
            if not isinstance(req, dict):
                raise ChainfinError(f"request {request[:16]}…: none this key may read")
            if req.get("status") != "delivered":
                raise ChainfinError(f"request {request[:16]}… is {req.get('status')}, not "
                                    "delivered: nothing to open yet")
            record = str(req.get("record_id"))
            sealed, disputed = req.get("sealed"), req.get("disputed")
        rec = await c.state_value("credit_sharing", f"record/{record}")
        if not isinstance(rec, dict):
            raise ChainfinError(f"record {str(record)[:16]}…: none this key may read")
        if request is None:
            sealed = rec.get("sealed")
    try:
        got = seal.open_and_check(ident, sealed, str(rec.get("commitment")))
    except Exception as e:  # RecordCheckError (contracts), handed down: any failure to open
        raise ChainfinError(f"the sealed copy does not open for this key or does not match "
                            f"the record's commitment: {e}") from e
    return got, {"record_id": record, "disputed": disputed,
                 "superseded_by": rec.get("superseded_by")}


def _read_record(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    if not data or len(data) > MAX_RECORD_BYTES:
        raise ChainfinError(f"{path}: a credit record is 1 to {MAX_RECORD_BYTES} bytes")
    return data


def run_sealed(args: argparse.Namespace, seal: Sealing) -> int:
    """``chainfin credit publish | correct | open`` (``chainfin.cli`` hands ``seal`` down)."""
    try:
        cmd = args.credit_command
        if not args.key:
            raise ChainfinError("give --key (or set $CHAINFIN_KEY): the identity that signs")
        if cmd == "open":
            if (args.request is None) == (args.record is None):
                raise ChainfinError("give --request (a delivered request of yours) or --record "
                                    "(a record you published, or as a regulator)")
            got, meta = asyncio.run(open_sealed(args.node, args.key, seal, args.request,
                                                args.record, args.ca, args.timeout))
            if meta["disputed"]:
                print(f"chainfin: note: delivered under the subject's open dispute: "
                      f"{meta['disputed'].get('reason')!r}", file=sys.stderr)
            if meta["superseded_by"]:
                print(f"chainfin: note: this record was corrected by {meta['superseded_by']}",
                      file=sys.stderr)
            if args.out:
                with open(args.out, "wb") as f:
                    f.write(got)
                print(json.dumps({**meta, "out": args.out, "bytes": len(got)}))
            else:
                sys.stdout.buffer.write(got if got.endswith(b"\n") else got + b"\n")
            return 0
        record = _read_record(args.file)
        tx = asyncio.run(sealed_args(args.node, args.key, record, seal, args.ca, args.timeout))
        if args.retain_days is not None:
            tx["retain_days"] = args.retain_days
        if cmd == "publish":
            return send_or_dry_run(args, "credit_sharing", "publish",
                                   {"subject": args.subject, **tx})
        return send_or_dry_run(args, "credit_sharing", "correct",
                               {"record_id": args.record, **tx})
    except (ChainfinError, ClientError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _sealed_command(args: argparse.Namespace) -> int:
    from chainfin import cli  # the command-line edge hands the contract's helpers down

    return cli.credit_sealed(args)


#: what to do next, for a refusal whose words do not say it (the contract's message is terse)
_HINTS = {
    ("grant", "already_consented"): "a consent to this bank is live: to change its purposes, "
                                    "end or publisher, `chainfin credit revoke --bank` it and "
                                    "grant again",
    ("dispute", "dispute_open"): "one dispute of a record is open at a time: its publisher "
                                 "answers it (`credit answer`) or corrects the record",
    ("dispute", "superseded"): "the record was corrected: dispute the correction (its id is in "
                               "the message)",
    ("notify", "no_pending_notices"): "every bank the record was delivered to has been told "
                                      "(or it was not corrected; with --dispute: the dispute "
                                      "was not rejected)",
    ("close", "not_expired"): "the record is still kept: the publisher's node delivers it",
}


def _utc(ms: Any) -> str | None:
    """Block time in ms -> ISO 8601 UTC to the second, for a person reading the report."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(text: str) -> str:
    key = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise argparse.ArgumentTypeError(f"{text!r} is not a key or id (64 hex digits)")
    return key


def run(args: argparse.Namespace) -> int:
    """``chainfin credit <action>``: exit 0 done, 1 the ledger refused or rejected it, 2 the
    command could not be used (nothing sent)."""
    try:
        cmd = args.credit_command
        if not args.key:
            raise ChainfinError("give --key (or set $CHAINFIN_KEY): the identity that signs")
        if cmd == "report":
            out = asyncio.run(access_report(args.node, args.key, args.subject, args.ca,
                                            args.timeout, None if args.all else REPORT_LATEST))
            print(json.dumps(out))
            return 0
        if cmd == "notices":
            print(json.dumps(asyncio.run(bank_notices(
                args.node, args.key, args.ca, args.timeout,
                None if args.all else REPORT_LATEST))))
            return 0
        if cmd == "records":
            out = asyncio.run(subject_records(
                args.node, args.key, args.subject, args.ca, args.timeout,
                tuple(args.record or ()), tuple(args.bank or ())))
            print(json.dumps(out))
            if not out["records"] and not out["consents"] and not out["indexed"]["records"]:
                print("chainfin: note: nothing found; a record or consent from before decision "
                      "192 is in no index: give its id (--record, --bank)", file=sys.stderr)
            return 0
        tx: dict[str, Any]
        if cmd == "grant":
            tx = {"bank": args.bank, "purposes": sorted(set(args.purpose)), "days": args.days}
            if args.publisher:
                tx["publisher"] = args.publisher
            method = "grant_consent"
        elif cmd == "revoke":
            tx, method = {"bank": args.bank}, "revoke_consent"
        elif cmd == "request":
            tx, method = {"record_id": args.record, "purpose": args.purpose}, "request_access"
        elif cmd == "notify" and args.dispute is not None:
            tx, method = {"record_id": args.record}, "notify_dispute"
            if args.dispute:  # 0: the latest
                tx["dispute"] = args.dispute
        elif cmd == "notify":
            tx, method = {"record_id": args.record}, "notify_correction"
        elif cmd == "close":
            tx, method = {"request_id": args.request}, "close_request"
        elif cmd == "dispute":
            tx, method = {"record_id": args.record, "reason": args.reason}, "dispute"
        else:
            tx, method = {"record_id": args.record, "reason": args.reason}, "reject_dispute"
        if args.dry_run:
            return send_or_dry_run(args, "credit_sharing", method, tx)
        out = asyncio.run(submit_call(args.node, args.key, "credit_sharing", method, tx,
                                      args.ca, args.timeout))
        print(json.dumps(out))
        err = out.get("error")
        hint = _HINTS.get((str(cmd), str(err.get("code") if isinstance(err, dict) else "")))
        if hint:
            print(f"chainfin: note: {hint}", file=sys.stderr)
        return 0 if out.get("status") == "committed" else 1
    except (ChainfinError, ClientError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _days(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_CONSENT_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of days, 1 to {MAX_CONSENT_DAYS}")
    return int(text)


def _retain_days(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a number of days, 1 to {MAX_RETENTION_DAYS}")
    return int(text)


def _dispute_no(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 8:
        raise argparse.ArgumentTypeError(f"{text!r}: a dispute's number, 1 to 8")
    return int(text)


def _reason(text: str) -> str:
    s = " ".join(text.split())
    if not s or len(s) > 500:
        raise argparse.ArgumentTypeError("a reason of 1 to 500 characters")
    return s


def add_parser(sub: Any) -> None:
    """``chainfin credit ...`` (called by chainfin.cli)."""
    p = sub.add_parser("credit", help="credit sharing: consent, requests, disputes, the "
                                      "subject's access report")
    s = p.add_subparsers(dest="credit_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        q.add_argument("--node", required=True, help="REST URL of a node")
        q.add_argument("--key", default=os.environ.get("CHAINFIN_KEY"),
                       help="identity key file that signs (default: $CHAINFIN_KEY)")
        q.add_argument("--ca", default=None, help="CA certificate for an https node")
        q.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
        if signs:
            q.add_argument("--dry-run", action="store_true",
                           help="print the transaction; send nothing")
        q.set_defaults(func=run)

    g = s.add_parser("grant", help="the subject consents to a bank (purposes, days)")
    g.add_argument("--bank", type=_key, required=True, help="the bank's identity key")
    g.add_argument("--purpose", action="append", required=True,
                   choices=(*PURPOSES, "any"), help="repeatable: what the bank may ask for")
    g.add_argument("--days", type=_days, default=MAX_CONSENT_DAYS,
                   help=f"how long the consent lasts (1..{MAX_CONSENT_DAYS}, default "
                        f"{MAX_CONSENT_DAYS})")
    g.add_argument("--publisher", type=_key, default=None,
                   help="only this bank's records (default: every publisher's)")
    common(g)
    r = s.add_parser("revoke", help="the subject withdraws its consent to a bank")
    r.add_argument("--bank", type=_key, required=True, help="the bank's identity key")
    common(r)
    pb = s.add_parser("publish", help="a bank publishes a credit record about a customer "
                                      "(sealed to itself and the regulators)")
    pb.add_argument("--subject", type=_key, required=True,
                    help="the customer's identity key (an exporter or importer)")
    pb.add_argument("--file", required=True,
                    help=f"the record, any bytes up to {MAX_RECORD_BYTES} (JSON, say); only "
                         "its salted commitment is in clear")
    retain = (f"how many days the record is delivered (1..{MAX_RETENTION_DAYS}, default "
              f"{MAX_RETENTION_DAYS}: decision 201); after that it is not")
    pb.add_argument("--retain-days", type=_retain_days, default=None, help=retain)
    common(pb)
    pb.set_defaults(func=_sealed_command)
    q = s.add_parser("request", help="a bank asks for a record, stating its purpose")
    q.add_argument("--record", type=_key, required=True, help="the record id")
    q.add_argument("--purpose", required=True, choices=PURPOSES,
                   help="why it asks: a live consent of the subject must name it")
    common(q)
    o = s.add_parser("open", help="open a delivered record (the requesting bank) or a "
                                  "published one (its publisher, a regulator), checked "
                                  "against its commitment")
    o.add_argument("--request", type=_key, default=None, help="a delivered request of yours")
    o.add_argument("--record", type=_key, default=None,
                   help="a record you published (or any, as a regulator)")
    o.add_argument("--out", default=None, help="write the record here (default: stdout)")
    common(o, signs=False)
    o.set_defaults(func=_sealed_command)
    d = s.add_parser("dispute", help="the subject disputes a record about it")
    d.add_argument("--record", type=_key, required=True, help="the record id")
    d.add_argument("--reason", type=_reason, required=True,
                   help="shown with every later delivery of the record while disputed")
    common(d)
    a = s.add_parser("answer", help="the publisher rejects a dispute of its record, with a "
                                    "reason")
    a.add_argument("--record", type=_key, required=True, help="the disputed record's id")
    a.add_argument("--reason", type=_reason, required=True,
                   help="why the record stands (1..500 characters), kept with the dispute")
    common(a)
    cr = s.add_parser("correct", help="the publisher corrects its record: a new version, "
                                      "sealed as published, supersedes it (closes its dispute)")
    cr.add_argument("--record", type=_key, required=True,
                    help="the record id (the version in force)")
    cr.add_argument("--file", required=True,
                    help=f"the corrected record, up to {MAX_RECORD_BYTES} bytes")
    cr.add_argument("--retain-days", type=_retain_days, default=None,
                    help=retain + "; never later than the corrected record's end")
    common(cr)
    nt = s.add_parser("notify", help="the publisher or the subject tells the next banks a "
                                     "corrected record was delivered to (those the correction "
                                     "did not reach: 64 a transaction)")
    nt.add_argument("--record", type=_key, required=True, help="the corrected record's id")
    nt.add_argument("--dispute", type=_dispute_no, nargs="?", const=0, default=None,
                    help="tell the banks the record was delivered to marked disputed that the "
                         "dispute was rejected (decision 248): its number (default: the latest)")
    common(nt)
    cl = s.add_parser("close", help="the publisher or the subject closes a request left "
                                    "pending at its record's retention end (decision 249); "
                                    "the subject one its consent no longer covers (250)")
    cl.add_argument("--request", type=_key, required=True, help="the pending request's id")
    common(cl)
    ns = s.add_parser("notices", help="a bank's notices (records delivered to it corrected, "
                                      "disputes of them rejected) or a subject's (the results "
                                      "of its disputes); decisions 200, 248")
    ns.add_argument("--all", action="store_true",
                    help=f"every notice (default: the latest {REPORT_LATEST})")
    common(ns, signs=False)
    cr.set_defaults(func=_sealed_command)
    rp = s.add_parser("report", help="the subject's access report: who asked for its "
                                     "records, when, why, refused or delivered")
    rp.add_argument("--subject", type=_key, default=None,
                    help="whose report (a regulator; default: the key's own identity)")
    rp.add_argument("--all", action="store_true",
                    help=f"every entry (default: the latest {REPORT_LATEST})")
    common(rp, signs=False)
    rc = s.add_parser("records", help="every credit record about the subject and every "
                                      "consent it gave (the subject index, decision 192)")
    rc.add_argument("--subject", type=_key, default=None,
                    help="whose (a regulator; default: the key's own identity)")
    rc.add_argument("--record", type=_key, action="append", default=None,
                    help="repeatable: a record id to add (one published before decision 192 "
                         "is in no index)")
    rc.add_argument("--bank", type=_key, action="append", default=None,
                    help="repeatable: a bank whose consent to read (one granted before "
                         "decision 192 is in no index)")
    common(rc, signs=False)
