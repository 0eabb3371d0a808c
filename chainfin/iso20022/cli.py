"""``chainfin iso20022 submit | status | statement | notify | recall | return | answer``: the
ledger in ISO 20022 terms.

Each command talks to one node's REST API (``--node``; ``--ca`` for an https node, else
``$SSL_CERT_FILE``). Reads are signed (RFC 9421, docs/api.md "Authentication"): ``submit`` with
the debtor's ``--key`` (a sender may read its own nonce and transactions); ``status``,
``statement`` and ``notify`` with ``--key`` (default ``$CHAINFIN_KEY``). ``statement`` and
``notify`` scan blocks, which only validators (a bank's node key), regulators and auditors may
read; ``status`` reads a transaction's own proof when the key may not read its block. Amounts use
each currency's exponent from the node's genesis (``/v1/genesis``, public).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from chainfin import iso20022 as iso
from chainfin.client import Client, ClientError, reader_identity, signed_headers
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.iso20022 import pain001 as p1
from chainfin.types import Transaction

#: blocks fetched at once while scanning the chain
_SCAN_CONCURRENCY = 8


def _err(msg: str) -> int:
    print(f"chainfin: error: {msg}", file=sys.stderr)
    return 2


async def _genesis(c: Client) -> dict[str, Any]:
    return dict(await c.get("/v1/genesis"))


def _exponents(g: dict[str, Any]) -> dict[str, int]:
    return {cur["code"]: int(cur["exponent"]) for cur in g.get("currencies", [])}


def _names(g: dict[str, Any]) -> dict[str, str]:
    names = {v["public_key"]: v["name"] for v in g.get("validators", [])}
    for i in g.get("identities", []):
        names.setdefault(i["public_key"], i["name"])
    return names


def _accounts(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    d = json.loads(Path(path).read_text())
    if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
        raise iso.Iso20022Error(f"{path}: an account table is a JSON object {{account id: key}}")
    return d


async def _wait_outcomes(c: Client, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        for i in ids:
            if i in out:
                continue
            try:
                o = await c.tx(i)
            except ClientError:
                continue
            if o.get("status") in ("committed", "rejected"):
                out[i] = o
        if len(out) == len(ids) or time.monotonic() > deadline:
            return out
        await asyncio.sleep(0.1)


#: the settlement contract's ``transfer`` argument parser (``Method.parse_args``)
TransferParser = Callable[[Mapping[str, Any]], Any]


def check_transfers(msg: iso.PaymentMessage, me: str, exponents: dict[str, int],
                    parse_args: TransferParser) -> list[dict[str, Any]]:
    """Each transaction's settlement ``transfer`` arguments, checked as the ledger will check
    them: the debtor account is the signer's, the currency is the ledger's, and the arguments
    pass ``parse_args``, the settlement contract's own ``transfer`` parser (handed down by
    ``chainfin.cli``: this layer imports nothing from contracts, and a copy of the contract's
    rules here would drift from them). Run on the whole
    message before anything is sent, so that a file the ledger would refuse in part is refused
    whole instead.

    Raises:
        Iso20022Error: listing every transaction that cannot become a transfer.
    """
    calls, problems = [], []
    for t in msg.transfers:
        w = f"CdtTrfTxInf[{t.index}]"
        try:
            if t.debtor is not None and t.debtor != me:
                raise iso.Iso20022Error(f"{w}/DbtrAcct is {t.debtor[:16]}…, not the signing key "
                                        f"{me[:16]}…: a transfer debits its signer")
            if t.currency not in exponents:
                raise iso.Iso20022Error(f"{w}: the ledger has no currency {t.currency}")
            args = t.transfer_args(exponents[t.currency])
            parse_args(args)
            calls.append(args)
        except iso.Iso20022Error as e:
            problems.append(str(e))
        except ChainfinError as e:  # the contract's ContractError
            problems.append(f"{w}: the ledger would refuse it: {e}")
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise iso.Iso20022Error("; ".join(problems[:20]) + more + "; nothing was sent")
    return calls


async def _block_time(c: Client, tx_id: str, height: int,
                      cache: dict[int, datetime | None]) -> datetime | None:
    """The timestamp of the block at ``height`` (which holds ``tx_id``): from the block when
    the key may read it, else from the transaction's inclusion proof; None if neither answers."""
    if height not in cache:
        try:
            try:
                ts = (await c.block(height))["header"]["timestamp_ms"]
            except ClientError as e:
                if e.status != 404:  # blocks are for validators, regulators, auditors
                    raise
                ts = (await c.proof_tx(tx_id))["block"]["header"]["timestamp_ms"]
            cache[height] = datetime.fromtimestamp(ts / 1000, tz=UTC)
        except (ClientError, KeyError, TypeError):
            cache[height] = None
    return cache[height]


async def submit(node: str, key: str, xml: bytes, *, accounts: dict[str, str] | None = None,
                 ca: str | None = None, timeout: float = 60.0,
                 parse_args: TransferParser) -> tuple[iso.PaymentMessage, list[iso.TxStatus]]:
    """Read a pacs.008 / pacs.009, sign one settlement ``transfer`` per transaction with
    ``key`` (consecutive nonces), submit them in order, wait until each is final.

    The whole message is checked before anything is sent (:func:`check_transfers`, with
    ``parse_args``). Once
    sending has begun nothing is raised: every transaction gets a status. If the node refuses
    one, it is ``rejected`` with the node's code and the ones after it are not sent (status
    ``not_sent``: their nonces would follow a nonce the ledger never saw); if the node cannot be
    reached, that one is ``pending`` (it may have been admitted) and the rest are not sent.

    Raises:
        Iso20022Error: the message cannot be turned into transfers (nothing was sent).
        ClientError: the node cannot be read before sending (nothing was sent).
    """
    ident = load_identity(key)
    me = ident.public_key.hex()
    msg = iso.parse_payment(xml, accounts, today=datetime.now(UTC).date())
    async with Client(node, ca_file=ca, identity=ident) as c:
        g = await _genesis(c)
        calls = check_transfers(msg, me, _exponents(g), parse_args)
        statuses = await send_transfers(
            c, ident, g["chain_id"],
            [(f"CdtTrfTxInf[{t.index}]", args) for t, args in zip(msg.transfers, calls,
                                                                   strict=True)], timeout)
    return msg, statuses


async def send_transfers(c: Client, ident: Identity, chain_id: str,
                         calls: list[tuple[str, dict[str, Any]]],
                         timeout: float) -> list[iso.TxStatus]:
    """Sign one settlement ``transfer`` per ``(label, args)`` with consecutive nonces, submit
    them in order and wait until each is final: one status per call, in order, carrying the
    call's ``end_to_end_id`` and ``uetr``.

    Nothing is raised once sending has begun. If the node refuses one, it is ``rejected``
    with the node's code and the ones after it are not sent (status ``not_sent``: their nonces
    would follow a nonce the ledger never saw); if the node cannot be reached, that one is
    ``pending`` (it may have been admitted) and the rest are not sent.

    Raises:
        ClientError: the signer's nonce cannot be read (nothing was sent).
    """
    me = ident.public_key.hex()
    sent: list[iso.TxStatus | None] = [None] * len(calls)
    nonce = await c.next_nonce(me) if calls else 0
    ids: list[str] = []
    stopped: str | None = None
    for i, (label, args) in enumerate(calls):
        if stopped is not None:
            sent[i] = iso.TxStatus("", "not_sent", args.get("end_to_end_id"), args.get("uetr"),
                                   error_code="not_sent", error_message=stopped)
            continue
        tx = Transaction.create(ident, chain_id, nonce + i, "settlement", "transfer", args)
        tx_id = tx.tx_id.hex()
        try:
            await c.submit(tx)
            ids.append(tx_id)
        except ClientError as e:
            if 400 <= e.status < 500:
                sent[i] = iso.TxStatus(tx_id, "rejected", args.get("end_to_end_id"),
                                       args.get("uetr"), error_code=e.code,
                                       error_message=e.message)
                stopped = f"not sent: the node refused {label} ({e.code})"
            else:  # unreachable or failing: it may or may not have been admitted
                ids.append(tx_id)
                stopped = (f"not sent: the node failed on {label} ({e.code}); its outcome is "
                           "unknown")
    outcomes = await _wait_outcomes(c, ids, timeout)
    times: dict[int, datetime | None] = {}
    id_iter = iter(ids)
    statuses = []
    for (_, args), done in zip(calls, sent, strict=True):
        if done is not None:
            statuses.append(done)
            continue
        tx_id = next(id_iter)
        o = outcomes.get(tx_id, {"status": "pending"})
        err = o.get("error") or {}
        when = None
        if o["status"] == "committed" and o.get("height") is not None:
            when = await _block_time(c, tx_id, int(o["height"]), times)
        statuses.append(iso.TxStatus(
            tx_id=tx_id, status=o["status"], end_to_end_id=args.get("end_to_end_id"),
            uetr=args.get("uetr"), height=o.get("height"), error_code=err.get("code"),
            error_message=err.get("message"), time=when))
    return statuses


def _writable(path: str) -> bool:
    """Whether a file can be written at ``path`` (checked before sending: the report is written
    after the transfers are final, when a failure could no longer stop them)."""
    p = Path(path)
    if p.exists():
        return p.is_file() and os.access(p, os.W_OK)
    return p.parent.is_dir() and os.access(p.parent, os.W_OK)


def cli_submit(args: argparse.Namespace, parse_args: TransferParser) -> int:
    """``chainfin iso20022 submit`` and ``pain001``; ``parse_args``: the settlement contract's
    ``transfer`` parser (``chainfin.cli`` passes it to both: this layer imports nothing from
    contracts)."""
    if getattr(args, "iso_command", None) == "pain001":
        return cli_pain001(args, parse_args)
    if args.report and not _writable(args.report):
        return _err(f"--report {args.report}: cannot write there; nothing was sent")
    try:
        with Path(args.file).open("rb") as f:  # at most the limit and one byte: a pipe or a
            xml = f.read(iso.MAX_MESSAGE_BYTES + 1)  # growing file has no size to trust
        if len(xml) > iso.MAX_MESSAGE_BYTES:
            return _err(f"{args.file} is more than {iso.MAX_MESSAGE_BYTES:,} bytes; a larger "
                        "message is refused unparsed")
        msg, statuses = asyncio.run(submit(args.node, args.key, xml,
                                           accounts=_accounts(args.accounts), ca=args.ca,
                                           timeout=args.timeout, parse_args=parse_args))
    except (OSError, iso.Iso20022Error, ClientError, ValueError) as e:
        return _err(str(e))
    report = iso.build_pacs002(statuses, original_msg_id=msg.msg_id,
                               original_kind=f"{msg.kind}.001.08")
    report_error = None
    if args.report:
        try:
            Path(args.report).write_bytes(report)
        except OSError as e:  # the transfers are sent: say so, and still print each outcome
            report_error = f"the pacs.002 could not be written to {args.report}: {e}"
    for s in statuses:
        print(json.dumps({"end_to_end_id": s.end_to_end_id, "tx_id": s.tx_id or None,
                          "status": s.status, "height": s.height, "error": s.error_code,
                          **({"reason": s.error_message} if s.status != "committed" and
                             s.error_message else {})}))
    bad = sum(s.status != "committed" for s in statuses)
    unsent = sum(s.status == "not_sent" for s in statuses)
    print(f"{msg.kind} {msg.msg_id}: {len(statuses) - bad} of {len(statuses)} transfers "
          f"committed" + (f", {unsent} not sent" if unsent else "")
          + (f"; pacs.002 written to {args.report}" if args.report and not report_error
             else ""), file=sys.stderr)
    if report_error:
        print(f"chainfin: error: {report_error}", file=sys.stderr)
        return 1
    return 0 if bad == 0 else 1


async def pain001(node: str, key: str, xml: bytes, *, parse_args: TransferParser,
                  accounts: dict[str, str] | None = None, ca: str | None = None,
                  timeout: float = 60.0, dry_run: bool = False) -> p1.Report:
    """Read a pain.001 for the debtor ``key``, refuse it if this debtor already had it booked
    (:func:`_booked_before`), then, unless ``dry_run``, sign and send one settlement
    ``transfer`` per transaction not refused and wait until each is final: the report's
    content (:func:`chainfin.iso20022.pain001.build_pain002`). A refused file or transaction
    is in the report, not raised.

    Raises:
        ClientError: the node cannot be read before sending (nothing was sent).
    """
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident) as c:
        g = await _genesis(c)
        try:
            ini = p1.parse_pain001(xml, signer=me, exponents=_exponents(g),
                                   parse_args=parse_args, accounts=accounts,
                                   today=datetime.now(UTC).date())
            ini = await _booked_before(c, me, ini)
        except p1.FileRefused as e:
            return p1.Report(None, e)
        notes = {b.index: "BtchBookg true: booked per transaction, each its own ledger entry "
                          "(the ledger has no batch booking)"
                 for b in ini.blocks if b.batch_booking and b.refusal is None}
        if dry_run:
            return p1.Report(ini, dry_run=True, notes=notes)
        todo = [t for t in ini.transfers if t.args is not None]
        sent = await send_transfers(
            c, ident, g["chain_id"],
            [(f"PmtInf[{t.block}] EndToEndId {t.end_to_end_id}", dict(t.args or {}))
             for t in todo], timeout)
    return p1.Report(ini, statuses={t.index: s for t, s in zip(todo, sent, strict=True)},
                     notes=notes)


async def _booked_before(c: Client, me: str, ini: p1.Initiation) -> p1.Initiation:
    """The ledger is the pain.001 journal. A transaction without a UETR of its own is booked
    under one derived from the debtor, the ``MsgId`` and its place in the message
    (:func:`~chainfin.iso20022.pain001.derived_uetr`), and the debtor reads its payment index
    ``settlement/uetr/<debtor>/<uetr>``: if the UETR of any place this file has (booked by
    any earlier file under this ``MsgId``) is there, the ``MsgId`` was processed and the file
    is refused (``DU01``). A UETR of the file's own found there is that transaction's
    duplicate (``AM05``), not sent.

    Raises:
        FileRefused: ``DU01``.
        ClientError: the node cannot be read.
    """
    sem = asyncio.Semaphore(_SCAN_CONCURRENCY)

    async def booked(uetr: str) -> Any:
        async with sem:
            return await c.state_value("settlement", f"uetr/{me}/{uetr}")

    places = [p1.derived_uetr(me, ini.msg_id, i) for i in range(len(ini.transfers))]
    given = [t for t in ini.transfers if t.args is not None and t.uetr_given]
    found = await asyncio.gather(*(booked(u) for u in places + [t.uetr or "" for t in given]))
    for i, f in enumerate(found[:len(places)]):
        if isinstance(f, dict):
            raise p1.FileRefused(p1.Refusal(
                "DU01", f"MsgId {ini.msg_id!r} was already booked by this debtor (its "
                        f"transaction {i} in chainfin tx {str(f.get('tx_id'))[:16]}…, block "
                        f"{f.get('height')}); nothing was sent"),
                ini.msg_id, ini.created, ini.nb_of_txs, ini.ctrl_sum)
    hits = {t.index: f for t, f in zip(given, found[len(places):], strict=True)
            if isinstance(f, dict)}
    if not hits:
        return ini
    blocks = []
    for b in ini.blocks:
        txs = tuple(replace(t, args=None, refusal=p1.Refusal(
            "AM05", f"UETR {t.uetr} was already paid by this debtor in chainfin tx "
                    f"{str(hits[t.index].get('tx_id'))[:16]}…; not sent"))
                    if t.index in hits else t for t in b.transfers)
        blocks.append(replace(b, transfers=txs))
    return replace(ini, blocks=tuple(blocks))


def _report_status(r: p1.Report) -> dict[int, str]:
    """Each transaction's ISO status as the report gives it (index -> code)."""
    if r.initiation is None:
        return {}
    return {t.index: p1.tx_status(t, r)[0] for t in r.initiation.transfers}


def cli_pain001(args: argparse.Namespace, parse_args: TransferParser) -> int:
    """``chainfin iso20022 pain001 FILE [--dry-run]``: the pain.002 to ``--out`` (then one JSON
    line per transaction on stdout) or to stdout. Exit 0 when every transaction is booked
    (accepted, with ``--dry-run``), 1 when the file or any transaction is not, 2 when nothing
    could be read or sent (no file, no node, no key)."""
    if args.out and not _writable(args.out):
        return _err(f"--out {args.out}: cannot write there; nothing was sent")
    try:
        with Path(args.file).open("rb") as f:
            xml = f.read(iso.MAX_MESSAGE_BYTES + 1)
        r = asyncio.run(pain001(args.node, args.key, xml, parse_args=parse_args,
                                accounts=_accounts(args.accounts), ca=args.ca,
                                timeout=args.timeout, dry_run=args.dry_run))
    except (OSError, iso.Iso20022Error, ClientError, ValueError) as e:
        return _err(str(e))
    try:
        report = p1.build_pain002(r)
    except iso.Iso20022Error as e:  # a bug: say what was booked all the same
        print(f"chainfin: error: the pain.002 could not be written: {e}", file=sys.stderr)
        report = b""
    group = p1.group_status(r) if report else "not written"
    if args.out or not report:
        try:
            if report:
                Path(args.out).write_bytes(report)
        except OSError as e:  # the transfers are sent: say so, and still print each outcome
            print(f"chainfin: error: the pain.002 could not be written to {args.out}: {e}",
                  file=sys.stderr)
            group = "not written"
        sts = _report_status(r)
        for t in r.initiation.transfers if r.initiation else ():
            s = r.statuses.get(t.index)
            print(json.dumps({"end_to_end_id": t.end_to_end_id, "uetr": t.uetr,
                              "status": sts[t.index], "tx_id": s.tx_id if s else None,
                              "height": s.height if s else None,
                              "reason": (t.refusal.code or t.refusal.prtry) if t.refusal
                              else (s.error_code if s and s.status != "committed" else None)}))
    else:
        sys.stdout.buffer.write(report)
    ini = r.initiation
    sts = _report_status(r)
    what = (f"{sum(v in ('ACSC', 'ACCP') for v in sts.values())} of {len(sts)} transactions "
            f"{'accepted' if args.dry_run else 'booked'}" if ini else
            f"refused whole: {r.refused}" if r.refused else "")
    print(f"pain.001 {(ini.msg_id if ini else r.refused.msg_id if r.refused else None) or '?'}:"
          f" group status {group}; {what}" + (" (dry run: nothing sent)" if args.dry_run
                                                else "")
          + (f"; pain.002 written to {args.out}" if args.out and group != "not written"
             else ""), file=sys.stderr)
    return 0 if group == ("ACCP" if args.dry_run else "ACSC") else 1


async def tx_statuses(node: str, tx_ids: list[str], ca: str | None = None,
                      identity: Identity | None = None) -> list[iso.TxStatus]:
    """What the ledger says of each transaction, with the transfer's ISO references; reads
    signed by ``identity``. The references and the block's time come with the transaction
    (``GET /v1/tx/{id}?tx=1``) for whoever reads it whole (its sender, the sender's home bank,
    supervisors), else from its block or its proof; a party that may read none of these (a
    payee) gets the status and height without the references and the time."""
    out = []
    async with Client(node, ca_file=ca, identity=identity) as c:
        for i in tx_ids:
            try:
                o = await c.tx(i, envelope=True)
            except ClientError as e:
                if e.status != 404:
                    raise
                out.append(iso.TxStatus(i, "unknown"))
                continue
            args: dict[str, Any] = dict((o.get("tx") or {}).get("args") or {})
            when = None
            if o.get("timestamp_ms") is not None:  # the sender, its home bank, supervisors
                when = datetime.fromtimestamp(o["timestamp_ms"] / 1000, tz=UTC)
            elif o.get("height"):
                try:
                    b = await c.block(o["height"])
                    args = b["txs"][o["index"]].get("args", {})
                    ts = b["header"]["timestamp_ms"]
                except ClientError as e:
                    if e.status != 404:  # blocks are for validators, regulators, auditors
                        raise
                    try:
                        p = await c.proof_tx(i)
                        args, ts = p["tx"].get("args", {}), p["block"]["header"]["timestamp_ms"]
                    except ClientError as e2:  # a party reads the status, not the whole tx
                        if e2.status != 404:
                            raise
                        ts = None
                when = None if ts is None else datetime.fromtimestamp(ts / 1000, tz=UTC)
            err = o.get("error") or {}
            note = await _payment_note(c, i, args) if o["status"] == "committed" else None
            out.append(iso.TxStatus(i, o["status"], args.get("end_to_end_id"), args.get("uetr"),
                                    o.get("height"), err.get("code"), err.get("message"), when,
                                    note))
    return out


async def _payment_note(c: Client, tx_id: str, args: Mapping[str, Any]) -> str | None:
    """What happened to a payment since it settled, for its pacs.002: a return says what it
    paid back; a transfer under a UETR, how much of it came back and where its recall stands
    (from ``settlement/recall/<tx id>``, when this key may read it)."""
    if isinstance(args.get("original_tx"), str) and isinstance(args.get("reason"), str) \
            and "amount" in args:
        return f"pacs.004 return of chainfin tx {args['original_tx']}, reason {args['reason']}"
    if not args.get("uetr"):
        return None
    rec = await c.state_value("settlement", f"recall/{tx_id}")
    if not isinstance(rec, dict):
        return None
    parts = []
    if rec.get("returned"):
        parts.append(f"returned {rec['returned']} of {rec['amount']} minor units "
                     f"({rec['returns']} pacs.004)")
    r = rec.get("recall")
    if isinstance(r, dict):
        parts.append(f"recall {r.get('reason')} {r.get('status')}")
    return "; ".join(parts) or None


def cli_status(args: argparse.Namespace) -> int:
    bad = [t for t in args.tx if not re.fullmatch(r"[0-9a-fA-F]{64}", t)]
    if bad:  # an id is a path segment of the read and a reference of the report
        return _err(f"--tx {bad[0][:80]!r} is not a transaction id (64 hex digits)")
    try:
        st = asyncio.run(tx_statuses(args.node, [t.lower() for t in args.tx], args.ca,
                                     reader_identity(args)))
        report = iso.build_pacs002(st)
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    sys.stdout.buffer.write(report)
    return 0


async def _blocks(c: Client, lo: int, hi: int) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(_SCAN_CONCURRENCY)

    async def one(h: int) -> dict[str, Any]:
        async with sem:
            try:
                return dict(await c.block(h))
            except ClientError as e:
                if e.status != 404:
                    raise
                # a committed height answers 404 to a key that may not read blocks
                raise ChainfinError(
                    f"this key may not read block {h}: statements and notifications are built "
                    "from every block, which validators (a bank's node key), regulators and "
                    "auditors read (docs/iso20022.md, 'Signed reads')") from None

    tasks = [asyncio.ensure_future(one(h)) for h in range(lo, hi + 1)]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        # the first refusal ends the scan: the other reads must not outlive the client (a read
        # still running would open a session after it closed: "Unclosed client session")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _cancelled_offers(c: Client, blocks: list[dict[str, Any]],
                            account: str) -> dict[str, Any]:
    """The ``pvp/<id>`` state of each offer of ``account`` whose ``pvp_cancelled`` event in
    ``blocks`` does not carry the refunded ``give`` leg (events written before it did)."""
    offers: dict[str, Any] = {}
    for b in blocks:
        for rc in b.get("receipts", []):
            for ev in rc.get("events", []):
                d = ev.get("data") or {}
                if (ev.get("name") == "pvp_cancelled" and d.get("offerer") == account
                        and "give" not in d):
                    oid = d["offer_id"]
                    offers[oid] = (await c.state("settlement", f"pvp/{oid}"))["value"]
    return offers


async def statement(node: str, account: str, currency: str, start: date, end: date,
                    ca: str | None = None, identity: Identity | None = None
                    ) -> tuple[iso.StatementInput, int | None]:
    """The statement's content from the chain, and the account's balance in ``/v1/state`` now
    (0 when it holds none; None when this key may not read it). Reads signed by ``identity``:
    one that may read blocks (a validator's node key, a regulator, an auditor)."""
    async with Client(node, ca_file=ca, identity=identity) as c:
        g = await _genesis(c)
        exps = _exponents(g)
        if currency not in exps:
            raise iso.Iso20022Error(f"the ledger has no currency {currency}")
        tip = int((await c.status())["height"])
        blocks = await _blocks(c, 1, tip) if tip else []
        offers = await _cancelled_offers(c, blocks, account)
        try:
            now_balance: int | None = int((await c.state(
                "settlement", f"bal/{account}/{currency}"))["value"])
        except ClientError as e:
            if e.status != 404:
                raise
            # a 404 is no balance (0) to a key that reads every balance; to another — a
            # validator's node key reads blocks, not accounts — it says nothing: not checked
            now_balance = 0 if await _reads_every_balance(c, identity) else None
    moves = iso.movements(blocks, account, currency, offers=offers)
    opening = sum((m.amount if m.credit else -m.amount) for m in moves if m.time.date() < start)
    entries = [m for m in moves if start <= m.time.date() <= end]
    names = _names(g)
    return iso.StatementInput(account, currency, exps[currency], start, end, opening, entries,
                              names.get(account), names, g["chain_id"]), now_balance


async def _reads_every_balance(c: Client, identity: Identity | None) -> bool:
    """Whether ``identity`` reads every account's balance: a regulator (the public
    ``governance/regulators``) or an auditor (docs/api.md, who may read what)."""
    if identity is None:
        return False
    me = identity.public_key.hex()
    if me in (await c.state_value("governance", "regulators") or []):
        return True
    rec = await c.identity_record(me)
    return rec is not None and rec[1].get("role") == "auditor"


def cli_statement(args: argparse.Namespace) -> int:
    try:
        start, end = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
        if end < start:
            return _err("--to is before --from")
        s, now_balance = asyncio.run(statement(args.node, args.account, args.currency, start, end,
                                               args.ca, reader_identity(args)))
        xml = iso.build_camt053(s)
        if args.out:
            Path(args.out).write_bytes(xml)
        else:
            sys.stdout.buffer.write(xml)
    except (ValueError, OSError, iso.Iso20022Error, ChainfinError) as e:
        return _err(str(e))
    if end < datetime.now(UTC).date():
        return 0
    if now_balance is None:
        if s.closing:
            print("chainfin: note: the closing balance is not checked against /v1/state: this "
                  "key does not read the account's balance there (a regulator's or an "
                  "auditor's does)", file=sys.stderr)
        return 0
    if now_balance != s.closing:
        print(f"chainfin: warning: the closing balance {s.closing} is not the ledger's balance "
              f"{now_balance} in /v1/state (a movement this adapter does not read)",
              file=sys.stderr)
        return 1
    return 0


async def notify(node: str, account: str, currency: str | None, *, start_height: int | None,
                 follow: bool, limit: int | None, ca: str | None = None,
                 out_dir: Path | None = None, identity: Identity | None = None) -> int:
    """camt.054 for each block that moves the account's money: blocks from ``start_height`` to
    the tip, then (``follow``) each new block as /v1/events announces it. Returns how many
    notifications were written. Reads signed by ``identity``: one that may read blocks (a
    validator's node key, a regulator, an auditor)."""
    written = 0
    async with Client(node, ca_file=ca, identity=identity) as c:
        g = await _genesis(c)
        exps = _exponents(g)
        names = _names(g)

        async def emit(block: dict[str, Any]) -> bool:
            nonlocal written
            offers = await _cancelled_offers(c, [block], account)
            moves = iso.movements([block], account, currency, offers=offers)
            for ccy in sorted({m.currency for m in moves}):
                try:
                    xml = iso.build_camt054(account, ccy, exps[ccy],
                                            [m for m in moves if m.currency == ccy],
                                            account_name=names.get(account), names=names,
                                            notification_id=f"{block['height']}-{ccy}")
                except iso.Iso20022Error as e:  # one block's; the blocks after it still notify
                    print(f"chainfin: error: block {block['height']}, {ccy}: no camt.054: {e}",
                          file=sys.stderr)
                    continue
                if out_dir is not None:
                    (out_dir / f"camt054-{block['height']}-{ccy}.xml").write_bytes(xml)
                else:
                    sys.stdout.buffer.write(xml + b"\n")
                    sys.stdout.flush()
                written += 1
                if limit is not None and written >= limit:
                    return False
            return True

        tip = int((await c.status())["height"])
        nxt = tip + 1 if start_height is None else start_height
        if nxt <= tip:
            for b in await _blocks(c, nxt, tip):
                if not await emit(b):
                    return written
            nxt = tip + 1
        if not follow:
            return written
        if start_height is None and tip >= 1:
            # nothing read yet: a key that may not read blocks learns it now, not at the first
            # block that moves the account (the tip's block, one read)
            await _blocks(c, tip, tip)
        sess = c._sess()
        url = node.rstrip("/") + "/v1/events"
        headers = signed_headers(identity, "GET", url) if identity is not None else {}
        async with sess.get(url, headers=headers,
                            ssl=c._ssl if c._ssl is not None else True) as r:
            if r.status != 200:
                text = (await r.text())[:400]
                try:  # the node's own words, as every other read reports them
                    err = json.loads(text)["error"]
                    code, message = str(err["code"]), str(err["message"])
                except (ValueError, KeyError, TypeError):
                    code, message = "events", f"/v1/events answered {r.status}: {text[:200]}"
                if r.status == 401 and identity is None:
                    message += (" (reads are signed: pass your identity key file, --key FILE, "
                                "or set $CHAINFIN_KEY)")
                raise ClientError(code, message, r.status)
            async for raw in r.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                ev = json.loads(line[5:])
                h = int(ev.get("height", 0))
                while nxt <= h:
                    if not await emit((await _blocks(c, nxt, nxt))[0]):
                        return written
                    nxt += 1
    return written


def cli_notify(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir) if args.out_dir else None
    try:
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        n = asyncio.run(notify(args.node, args.account, args.currency,
                               start_height=args.from_height, follow=args.follow,
                               limit=args.max, ca=args.ca, out_dir=out_dir,
                               identity=reader_identity(args)))
    except KeyboardInterrupt:
        return 0
    except (iso.Iso20022Error, ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    print(f"{n} camt.054 notification(s)", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- recalls and returns


def _read_message(path: str) -> bytes:
    """A message file, at most :data:`iso.MAX_MESSAGE_BYTES` (a larger one is refused unread).

    Raises:
        OSError: it cannot be read. Iso20022Error: it is too large.
    """
    with Path(path).open("rb") as f:  # a pipe or a growing file has no size to trust
        xml = f.read(iso.MAX_MESSAGE_BYTES + 1)
    if len(xml) > iso.MAX_MESSAGE_BYTES:
        raise iso.Iso20022Error(f"{path} is more than {iso.MAX_MESSAGE_BYTES:,} bytes; a larger "
                                "message is refused unparsed")
    return xml


def _tx_id_arg(v: str | None, flag: str) -> str | None:
    if v is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", v):
        raise iso.Iso20022Error(f"{flag} {v[:80]!r} is not a transaction id (64 hex digits)")
    return v.lower()


async def _by_tx_id(c: Client, tx_id: str, payer: str | None) -> tuple[str, str]:
    """(payer, UETR) of the transfer ``tx_id``: from its envelope for a reader of the whole
    transaction (its sender, the sender's home bank, supervisors), else from the
    ``transferred`` event a party (its payee) reads.

    Raises:
        Iso20022Error: no such transfer for this reader, or one without a UETR.
    """
    try:
        o = await c.tx(tx_id, envelope=True)
    except ClientError as e:
        if e.status != 404:
            raise
        raise iso.Iso20022Error(f"no transaction {tx_id} that this key may read") from None
    env = o.get("tx") or {}
    if env:
        args = env.get("args") or {}
        if (env.get("contract"), env.get("method")) != ("settlement", "transfer"):
            raise iso.Iso20022Error(f"transaction {tx_id} is no settlement transfer")
        sender = await c.identity_record(str(env.get("sender")))
        who = sender[0] if sender else str(env.get("sender"))
        uetr = args.get("uetr")
    else:
        evs = [e.get("data") or {} for e in o.get("events") or []
               if e.get("name") == "transferred" and not (e.get("data") or {}).get("original_tx")]
        if not evs:
            raise iso.Iso20022Error(f"transaction {tx_id} is no transfer this key may read")
        who, uetr = str(evs[0].get("from")), evs[0].get("uetr")
    if payer is not None and who != payer:
        raise iso.Iso20022Error(f"transaction {tx_id} was paid by {str(who)[:16]}…, not by the "
                                f"payer {payer[:16]}… the message names")
    if not uetr:
        raise iso.Iso20022Error(f"transfer {tx_id} has no UETR: only transfers booked under a "
                                "UETR are recalled or returned on the ledger")
    return str(who), str(uetr)


async def _by_end_to_end(c: Client, payer: str, e2e: str) -> str:
    """The UETR of the one transfer by ``payer`` with EndToEndId ``e2e``, found in the blocks
    (a key that reads blocks: a bank's node key, a regulator, an auditor).

    Raises:
        Iso20022Error: none, or several (give the UETR or --original-tx).
        ChainfinError: the key may not read blocks.
    """
    tip = int((await c.status())["height"])
    found: list[str | None] = []
    try:
        blocks = await _blocks(c, 1, tip) if tip else []
    except ChainfinError as e:
        if isinstance(e, ClientError):
            raise
        # a payment's own parties cannot read blocks: say so for this command, not statements'
        raise iso.Iso20022Error(
            f"finding a payment by its EndToEndId {e2e!r} alone reads every block, which this "
            "key may not (a bank's node key, a regulator and an auditor read them): give "
            "OrgnlUETR (with OrgnlTxRef/DbtrAcct or --payer when the signer is not the payer) "
            "or --original-tx") from None
    for b in blocks:
        for rc in b.get("receipts", []):
            if rc.get("status") != "committed":
                continue
            for ev in rc.get("events", []):
                d = ev.get("data") or {}
                if (ev.get("contract"), ev.get("name")) == ("settlement", "transferred") and \
                        d.get("from") == payer and d.get("end_to_end_id") == e2e and \
                        not d.get("original_tx"):
                    found.append(d.get("uetr"))
    if len(found) != 1:
        raise iso.Iso20022Error(
            f"EndToEndId {e2e!r} names {len(found)} transfers by {payer[:16]}… (the payer: "
            "OrgnlTxRef/DbtrAcct, else --payer; a recall's, else the signer): give OrgnlUETR or "
            "--original-tx" + ("" if found else ", or name the payer"))
    if not found[0]:
        raise iso.Iso20022Error(f"the transfer with EndToEndId {e2e!r} has no UETR: only "
                                "transfers booked under a UETR are recalled or returned")
    return found[0]


async def find_original(c: Client, *, payer: str | None, uetr: str | None = None,
                        end_to_end_id: str | None = None, tx_id: str | None = None
                        ) -> dict[str, Any]:
    """The transfer a recall or a return names, as the ledger booked it: ``{"original_tx",
    "payer", "uetr", "payee", "currency", "amount", "time_ms"}``, from the payment index
    ``settlement/uetr/<payer>/<uetr>`` (its debtor, its payee, their home banks and the
    supervisors read it). Found by the transaction id, else the UETR, else the EndToEndId.

    Raises:
        Iso20022Error: the payment cannot be found or was not booked as the message says.
    """
    if tx_id is not None:
        payer, found_uetr = await _by_tx_id(c, tx_id, payer)
        if uetr is not None and uetr != found_uetr:
            raise iso.Iso20022Error(f"transfer {tx_id} was booked under UETR {found_uetr}, not "
                                    f"{uetr}")
        uetr = found_uetr
    if payer is None:
        raise iso.Iso20022Error("the payer is not known: give OrgnlTxRef/DbtrAcct, --payer or "
                                "--original-tx")
    if uetr is None:
        if end_to_end_id is None:
            raise iso.Iso20022Error("give OrgnlUETR, OrgnlEndToEndId or --original-tx")
        uetr = await _by_end_to_end(c, payer, end_to_end_id)
    rec = await c.state_value("settlement", f"uetr/{payer}/{uetr}")
    if not isinstance(rec, dict) or "amount" not in rec:
        raise iso.Iso20022Error(
            f"no transfer by {payer[:16]}… under UETR {uetr} that this key may read (its debtor, "
            "its payee, their home banks and the supervisors read it), or one booked before "
            "the ledger kept recalls")
    if tx_id is not None and rec["tx_id"] != tx_id:
        raise iso.Iso20022Error(f"UETR {uetr} of {payer[:16]}… was booked by transaction "
                                f"{rec['tx_id']}, not {tx_id}")
    return {"original_tx": rec["tx_id"], "payer": payer, "uetr": uetr, "payee": rec["to"],
            "currency": rec["currency"], "amount": int(rec["amount"]),
            "time_ms": rec.get("time_ms")}


def _check_amount(where: str, amount: Any, ccy: str | None, orig: Mapping[str, Any],
                  exponents: Mapping[str, int]) -> None:
    """A message's statement of the original amount must be the ledger's."""
    if amount is None:
        return
    if ccy != orig["currency"] or iso.to_minor(amount, exponents[orig["currency"]], where) != \
            orig["amount"]:
        raise iso.Iso20022Error(
            f"{where} is {amount} {ccy}, but the payment booked {orig['original_tx'][:16]}… is "
            f"{iso.from_minor(orig['amount'], exponents[orig['currency']])} {orig['currency']}")


async def _send(c: Client, ident: Identity, method: str, args: dict[str, Any]
                ) -> dict[str, Any]:
    """Sign ``settlement.<method>(args)``, submit it and wait until it is final: its outcome, or
    ``{"status": "refused", "error"}`` when the node refuses it (4xx)."""
    try:
        return await c.call(ident, "settlement", method, args, wait=True)
    except ClientError as e:
        if e.status == 0 or e.status >= 500:
            raise
        return {"status": "refused", "error": {"code": e.code, "message": e.message}}


def _outcome_line(index: int, out: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    err = out.get("error") or {}
    return {"index": index, **more, "tx_id": out.get("tx_id"), "status": out.get("status"),
            "height": out.get("height"), "result": out.get("result"),
            "error": err.get("code"), **({"reason": err["message"]} if err.get("message")
                                          else {})}


async def recall(node: str, key: str, msg: iso.RecallMessage, *, payer: str | None = None,
                 original_tx: str | None = None, ca: str | None = None
                 ) -> list[dict[str, Any]]:
    """One ``settlement.recall`` per camt.056 transaction, each found on the ledger first (all
    of them before anything is sent), then signed with ``key`` and sent in order, each waited
    for: one outcome line per transaction.

    Raises:
        Iso20022Error: a transaction's payment cannot be found (nothing was sent).
        ClientError: the node cannot be read.
    """
    ident = load_identity(key)
    me = ident.public_key.hex()
    if original_tx is not None and len(msg.requests) != 1:
        raise iso.Iso20022Error("--original-tx names one payment; the camt.056 holds "
                                f"{len(msg.requests)} transactions")
    async with Client(node, ca_file=ca, identity=ident) as c:
        exps = _exponents(await _genesis(c))
        calls, problems = [], []
        for r in msg.requests:
            w = f"TxInf[{r.index}]"
            try:
                # the payer: the message's, else --payer, else the transaction's (with
                # --original-tx: a home bank recalls its customer's), else the signer
                who = r.debtor or payer or (None if original_tx else me)
                orig = await find_original(c, payer=who, uetr=r.uetr,
                                           end_to_end_id=r.end_to_end_id, tx_id=original_tx)
                _check_amount(f"{w}/OrgnlIntrBkSttlmAmt", r.amount, r.currency, orig, exps)
                if r.creditor is not None and r.creditor != orig["payee"]:
                    raise iso.Iso20022Error(f"{w}/OrgnlTxRef/CdtrAcct is not the payee of "
                                            f"payment {orig['original_tx'][:16]}…")
            except iso.Iso20022Error as e:
                problems.append(f"{w}: {e}")
                continue
            args = {"original_tx": orig["original_tx"], "uetr": orig["uetr"],
                    "payer": orig["payer"], "reason": r.reason}
            for k, v in (("info", r.info), ("case_id", r.case_id)):
                if v:
                    args[k] = v
            calls.append((r.index, args))
        return await _send_checked(c, ident, "recall", calls, problems)


async def _send_checked(c: Client, ident: Identity, method: str,
                        calls: list[tuple[int, dict[str, Any]]], problems: list[str]
                        ) -> list[dict[str, Any]]:
    """Nothing sent if any transaction of the file had a problem; else each call of
    ``settlement.method`` sent in order and waited for: one outcome line per transaction."""
    if problems:
        raise iso.Iso20022Error("; ".join(problems[:20]) + "; nothing was sent")
    lines = []
    for index, args in calls:
        out = await _send(c, ident, method, args)
        lines.append(_outcome_line(index, out, original_tx=args["original_tx"]))
    return lines


async def payment_return(node: str, key: str, msg: iso.ReturnMessage, *,
                         payer: str | None = None, original_tx: str | None = None,
                         ca: str | None = None) -> list[dict[str, Any]]:
    """One ``settlement.return_payment`` per pacs.004 transaction, signed by the payee
    (``key``): each payment found on the ledger and checked (the signer is its payee, the
    currency is its, the amount has the currency's decimals) before anything is sent, then
    sent in order, each waited for: one outcome line per transaction.

    Raises:
        Iso20022Error: a transaction cannot become a return (nothing was sent).
        ClientError: the node cannot be read.
    """
    ident = load_identity(key)
    me = ident.public_key.hex()
    if original_tx is not None and len(msg.returns) != 1:
        raise iso.Iso20022Error("--original-tx names one payment; the pacs.004 holds "
                                f"{len(msg.returns)} transactions")
    async with Client(node, ca_file=ca, identity=ident) as c:
        exps = _exponents(await _genesis(c))
        mine = await c.identity_record(me)
        my_id = mine[0] if mine else me
        calls, problems = [], []
        for r in msg.returns:
            w = f"TxInf[{r.index}]"
            try:
                orig = await find_original(c, payer=r.debtor or payer, uetr=r.uetr,
                                           end_to_end_id=r.end_to_end_id, tx_id=original_tx)
                if orig["payee"] != my_id or (r.creditor is not None and r.creditor != my_id):
                    raise iso.Iso20022Error(f"the payment {orig['original_tx'][:16]}… was paid "
                                            f"to {orig['payee'][:16]}…, not to the signing key: "
                                            "a return is signed by the payee")
                if r.currency != orig["currency"]:
                    raise iso.Iso20022Error(f"{w}/RtrdIntrBkSttlmAmt is in {r.currency}; the "
                                            f"payment was in {orig['currency']}")
                _check_amount(f"{w}/OrgnlIntrBkSttlmAmt", r.original_amount,
                              r.original_currency, orig, exps)
                amount = iso.to_minor(r.amount, exps[orig["currency"]],
                                      f"{w}/RtrdIntrBkSttlmAmt")
            except iso.Iso20022Error as e:
                problems.append(f"{w}: {e}")
                continue
            args: dict[str, Any] = {
                "original_tx": orig["original_tx"], "payer": orig["payer"],
                "uetr": orig["uetr"], "currency": orig["currency"], "amount": amount,
                "reason": r.reason}
            if r.return_id:
                args["return_id"] = r.return_id
            calls.append((r.index, args))
        return await _send_checked(c, ident, "return_payment", calls, problems)


def _run_lines(lines: list[dict[str, Any]], what: str) -> int:
    for line in lines:
        print(json.dumps(line))
    done = sum(line["status"] == "committed" for line in lines)
    print(f"{done} of {len(lines)} {what} committed", file=sys.stderr)
    return 0 if done == len(lines) else 1


def cli_recall(args: argparse.Namespace) -> int:
    """``chainfin iso20022 recall camt056.xml``."""
    try:
        msg = iso.parse_camt056(_read_message(args.file), _accounts(args.accounts))
        lines = asyncio.run(recall(args.node, args.key, msg, payer=args.payer,
                                   original_tx=_tx_id_arg(args.original_tx, "--original-tx"),
                                   ca=args.ca))
    except (OSError, ValueError, ChainfinError) as e:
        return _err(str(e))
    return _run_lines(lines, "recalls")


def cli_return(args: argparse.Namespace) -> int:
    """``chainfin iso20022 return pacs004.xml``."""
    try:
        msg = iso.parse_pacs004(_read_message(args.file), _accounts(args.accounts),
                                today=datetime.now(UTC).date())
        lines = asyncio.run(payment_return(
            args.node, args.key, msg, payer=args.payer,
            original_tx=_tx_id_arg(args.original_tx, "--original-tx"), ca=args.ca))
    except (OSError, ValueError, ChainfinError) as e:
        return _err(str(e))
    return _run_lines(lines, "returns")


async def _party(c: Client, key: str, names: Mapping[str, str]) -> iso.Party:
    found = await c.identity_record(key)
    rec = found[1] if found else {}
    return iso.Party(key=key, name=rec.get("name") or names.get(key),
                     bic=rec.get("bank"), bank=rec.get("role") == "bank")


def _not_a_recall(recall_id: str, o: Mapping[str, Any], env: Mapping[str, Any]) -> str:
    """Why ``--recall ID`` names no recall this key may read, with the way out when the id is
    another settlement transaction's (the payment's, a return's, a rejection's)."""
    what = (env.get("contract"), env.get("method")) if o.get("status") == "committed" else None
    named = {("settlement", "transfer"): "a payment", ("settlement", "return_payment"):
             "a return (pacs.004)", ("settlement", "reject_recall"): "a rejection (camt.029)"}
    if what in named:
        return (f"transaction {recall_id} is {named[what]}, not a recall: --recall takes the "
                "recall's id (the tx_id `chainfin iso20022 recall` printed, the recall_id of "
                "the payment_recalled event)")
    return f"no recall {recall_id} that this key may read"


async def answer(node: str, key: str, recall_id: str, *, reject: str | None = None,
                 info: str | None = None, ca: str | None = None
                 ) -> tuple[iso.RecallAnswer | None, dict[str, Any] | None]:
    """Answer recall ``recall_id`` no (``reject``: a camt.029 reason code; signed by ``key``,
    the payee or its home bank), or, without ``reject``, read where it stands; either way the
    camt.029 content, and the rejection's outcome (None without ``reject``). A rejection the
    ledger refuses gives no camt.029 (None) and its outcome.

    Raises:
        Iso20022Error: no such recall for this reader, or its record cannot be read (without
            ``reject``).
        ClientError: the node cannot be read.
    """
    ident = load_identity(key)
    me = ident.public_key.hex()
    async with Client(node, ca_file=ca, identity=ident) as c:
        g = await _genesis(c)
        exps, names = _exponents(g), _names(g)
        try:
            o = await c.tx(recall_id, envelope=True)
        except ClientError as e:
            if e.status != 404:
                raise
            o = {}
        ev = next((e.get("data") or {} for e in o.get("events") or []
                   if e.get("name") == "payment_recalled"), {})
        env = o.get("tx") or {}
        # a recall is a settlement.recall: a return or a rejection carries original_tx too
        is_recall = ((env.get("contract"), env.get("method")) == ("settlement", "recall")
                     if env else ev.get("recall_id") == recall_id)
        original = (env.get("args") or {}).get("original_tx") or ev.get("original_tx")
        if o.get("status") != "committed" or not is_recall or not isinstance(original, str):
            why = _not_a_recall(recall_id, o, env)
            if (env.get("contract"), env.get("method")) == ("settlement", "transfer"):
                prec = await c.state_value("settlement", f"recall/{recall_id}")
                pr = prec.get("recall") if isinstance(prec, dict) else None
                if isinstance(pr, dict):
                    why += (f"; this payment's latest recall is {pr.get('recall_id')} "
                            f"({pr.get('status')})")
            raise iso.Iso20022Error(why)
        rec = await c.state_value("settlement", f"recall/{original}")
        r = rec.get("recall") if isinstance(rec, dict) else None
        if r is not None and r.get("recall_id") != recall_id:
            if reject is not None:
                # reject_recall answers the payment's open recall, whichever it is: rejecting
                # an old one would reject the newer recall it never named
                raise iso.Iso20022Error(
                    f"recall {recall_id} is not the payment's latest: recall "
                    f"{r.get('recall_id')} ({r.get('status')}) followed it; answer that one "
                    "(--recall " + str(r.get("recall_id")) + "); nothing was sent")
            later = r
            r = None  # a later recall of the same payment: this one is history
        else:
            later = None
        outcome = None
        status: str
        reason: str | None
        answer_tx: str | None
        answerer: str
        if reject is not None:
            # the recall named: the ledger refuses it if another is open (a key that cannot
            # read the record, as a customer payee's bank's, is checked there, not here)
            a: dict[str, Any] = {"original_tx": original, "reason": reject,
                                 "recall_id": recall_id}
            if info:
                a["info"] = info
            outcome = await _send(c, ident, "reject_recall", a)
            if outcome.get("status") != "committed":
                return None, outcome
            status, reason, answer_tx, answerer = "rejected", reject, outcome["tx_id"], me
        elif r is not None:
            status, reason = r["status"], (r.get("answer") or {}).get("reason")
            info = (r.get("answer") or {}).get("info")
            answer_tx = (r.get("answer") or {}).get("tx_id")
            answerer = str((r.get("answer") or {}).get("by") or rec["payee"])
        elif later is not None:
            raise iso.Iso20022Error(
                f"recall {recall_id} is history: recall {later.get('recall_id')} of the same "
                f"payment followed it ({later.get('status')}), and the ledger keeps the latest "
                f"recall's standing; its answer: --recall {later.get('recall_id')}")
        else:
            raise iso.Iso20022Error(
                f"this key may not read the record of recall {recall_id} (the payer, the "
                "payee's and the payer's home banks and the supervisors read it): answer it "
                "with --reject, or use its bank's key")
        src = rec if isinstance(rec, dict) else {}
        ccy = src.get("currency") or ev.get("currency")
        requester = (r or {}).get("by") or ev.get("by")
        if not isinstance(ccy, str) or ccy not in exps or not isinstance(requester, str):
            raise iso.Iso20022Error(f"recall {recall_id} cannot be read in full by this key")
        e2e = None
        try:  # the payment's EndToEndId, where this key may read the payment
            po = await c.tx(original, envelope=True)
            e2e = ((po.get("tx") or {}).get("args") or {}).get("end_to_end_id") or next(
                ((e.get("data") or {}).get("end_to_end_id") for e in po.get("events") or []
                 if e.get("name") == "transferred"), None)
        except ClientError as e:
            if e.status != 404:
                raise
        return iso.RecallAnswer(
            recall_id=recall_id, original_tx=original, status=status,
            answerer=await _party(c, answerer, names),
            requester=await _party(c, requester, names), currency=ccy, exponent=exps[ccy],
            amount=int(src.get("amount") or ev.get("amount") or 0), reason=reason, info=info,
            returned=int(src.get("returned") or 0), uetr=src.get("uetr") or ev.get("uetr"),
            end_to_end_id=e2e, case_id=(r or {}).get("case_id"),
            answer_tx=answer_tx), outcome


def cli_answer(args: argparse.Namespace) -> int:
    """``chainfin iso20022 answer --recall ID [--reject REASON]``: camt.029 out."""
    try:
        rid = _tx_id_arg(args.recall, "--recall")
        assert rid is not None
        if args.reject is not None and not re.fullmatch(r"[A-Z0-9]{4}", args.reject):
            return _err(f"--reject {args.reject[:20]!r} is not a camt.029 reason code (ARDT, "
                        "AC04, AM04, CUST, LEGL, NOAS)")
        if args.info is not None and args.reject is None:
            return _err("--info goes with --reject")
        a, outcome = asyncio.run(answer(args.node, args.key, rid, reject=args.reject,
                                        info=args.info, ca=args.ca))
        if a is None:  # the ledger refused the rejection: no camt.029
            print(json.dumps(_outcome_line(0, outcome or {}, recall_id=rid)))
            return 1
        xml = iso.build_camt029(a)
        if args.out:
            Path(args.out).write_bytes(xml)
        else:
            sys.stdout.buffer.write(xml)
    except (OSError, ValueError, ChainfinError) as e:
        return _err(str(e))
    if outcome is not None:
        print(json.dumps(_outcome_line(0, outcome, recall_id=rid)), file=sys.stderr)
    print(f"recall {rid[:16]}…: {a.status}" + (f"; camt.029 written to {args.out}"
                                                if args.out else ""), file=sys.stderr)
    return 0
