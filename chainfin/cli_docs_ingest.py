"""``chainfin trade register --ubl invoice.xml | --dcsa td.json``: register a trade document from
the file a back office already has (docs/documents-ingest.md).

A UBL 2.1 / Peppol BIS 3 invoice becomes an ``invoice`` (:mod:`chainfin.ubl`), a DCSA Transport
Document 3.x a ``bill_of_lading`` (:mod:`chainfin.dcsa`); the content hash is the SHA-256 of the
file's bytes. The currency's exponent comes from the node (its genesis, else governance), and the
fields are checked with the trade contract's own argument parser and normaliser, handed down by
``chainfin.cli`` as :class:`IngestRules` (this layer imports nothing from contracts), so a file
the ledger would refuse is refused before anything is signed. ``--dry-run`` prints the
``register`` arguments and sends nothing.

Exit codes: 0 registered (or the dry run's arguments printed), 1 refused or rejected by the
ledger, 2 the file or the command could not be used (nothing was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainfin.errors import ChainfinError

T = "trade_documents"


@dataclass(frozen=True, slots=True)
class IngestRules:
    """What the contract layer lends this command (``chainfin.cli`` builds it)."""

    #: ``trade_documents.register``'s ``Method.parse_args``
    register_args: Callable[[Mapping[str, Any]], Any]
    #: :func:`contracts.trade.norm.normalise_fields`
    normalise_fields: Callable[..., Any]
    #: :func:`contracts.names.name_skeleton`: how the ledger compares party names
    name_skeleton: Callable[[str], str]
    #: doc_type -> the field names the ledger takes (``KEY_FIELDS`` and ``OPTIONAL_FIELDS``)
    accepted_fields: Mapping[str, frozenset[str]]


class IngestError(ChainfinError):
    """The document cannot become this signer's registration (nothing was sent)."""


def add_parser(trsub: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    """``chainfin trade register`` under the ``trade`` group (called by chainfin.cli)."""
    r = trsub.add_parser(
        "register", help="register an invoice (UBL 2.1 / Peppol BIS 3 XML) or a bill of lading "
                         "(DCSA Transport Document 3.x JSON) from its file")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--ubl", metavar="FILE", help="a UBL 2.1 Invoice: registers an invoice, "
                                                   "which opens a trade")
    src.add_argument("--dcsa", metavar="FILE", help="a DCSA Transport Document (eBL 3.x JSON): "
                                                    "registers a bill of lading")
    r.add_argument("--node", required=True, help="REST URL of a node")
    r.add_argument("--key", default=None,
                   help="the exporter's identity key file (the invoice's seller, the B/L's "
                        "shipper); required unless --dry-run")
    r.add_argument("--trade", default=None, metavar="ID",
                   help="the trade the bill of lading joins (an invoice opens its own)")
    r.add_argument("--carrier", default=None, metavar="SCAC",
                   help="--dcsa: the carrier's SCAC, when the document's carrierCode is an "
                        "SMDG code")
    r.add_argument("--declare-distinct", default=None, metavar="REASON",
                   help="register although the ledger suspects a copy of a registered "
                        "document (suspected_duplicate): why this is another sale or shipment "
                        "(recorded on both documents; banks read it before financing)")
    r.add_argument("--dry-run", action="store_true",
                   help="print the register arguments (the fields JSON) and send nothing")
    r.add_argument("--ca", default=None,
                   help="CA certificate for an https node (default: $SSL_CERT_FILE)")
    r.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the transaction to be final")
    r.set_defaults(func=handler)


def _err(msg: str) -> int:
    print(f"chainfin: error: {msg}", file=sys.stderr)
    return 2


def _note(msg: str) -> None:
    print(f"chainfin: note: {msg}", file=sys.stderr)


def read_file(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path`` (and one more, to tell a larger file: a pipe or a file
    still being written has no size to trust).

    Raises:
        IngestError: the file is larger.
        OSError: it cannot be read.
    """
    with Path(path).open("rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise IngestError(f"{path} is more than {limit:,} bytes: refused unread")
    return raw


async def _exponent(c: Any, genesis: Mapping[str, Any], code: str, signed: bool) -> int:
    for cur in genesis.get("currencies", []):
        if cur.get("code") == code:
            return int(cur["exponent"])
    if signed:  # a currency governance added later (its record needs a signed read)
        rec = await c.state_value("governance", "currency/" + code)
        if isinstance(rec, dict) and type(rec.get("exponent")) is int:
            return int(rec["exponent"])
    known = ", ".join(str(c.get("code")) for c in genesis.get("currencies", []))
    raise IngestError(f"the ledger has no currency {code} (the invoice's "
                      f"DocumentCurrencyCode)" + ("" if signed else
                      " in its genesis (pass --key to look up currencies added since)")
                      + f": the genesis has {known or 'none'}; another is added by a "
                      "governance vote (add_currency)")


#: what to do after each refusal the ledger gives a registration
_HINTS = {
    "duplicate_document": "this document is already registered: the same {identity} or the "
                          "same file. Nothing to do if it is yours (chainfin trade show "
                          "--trade <its trade>); otherwise its owner and banks see this attempt",
    "suspected_duplicate": "the ledger reads this as a copy of the document it names. If it is "
                           "another sale or shipment, run the command again with "
                           "--declare-distinct \"<why it is another>\": the reason is recorded "
                           "on both documents, and a bank finances either trade only after "
                           "reading it",
    "not_document_party": "only the party the document names registers it (the invoice's "
                          "seller, the B/L's shipper): use that party's key",
    "document_mismatch": "the document does not match the trade it joins (parties, currency, "
                         "amount): check --trade",
    # decision 144: never that an alert was raised, nor which party matched (the ledger's
    # message to the sender is replaced for the same reason: node.access.sender_error)
    "sanctioned_party": "refused for compliance reasons (a watch-list check): your bank can "
                        "say more",
    "jurisdiction_refused": "a country the registration involves (the reason names whose: a "
                            "port's, by its UN/LOCODE, a party's, an LC issuing bank's) is one "
                            "this network's jurisdiction list refuses: the document cannot be "
                            "registered with it; chainfin risk jurisdictions list shows the "
                            "list",
    "controlled_goods": "the goods' HS code falls under a prefix this network's "
                        "controlled-goods list refuses for the destination the reason names "
                        "(the legal basis): the document cannot be registered with these goods "
                        "to that destination, nor a trade holding them financed; chainfin risk "
                        "goods list --code <prefix> shows the entry. If the code on the file is "
                        "wrong, correct it in the source system and export the file again",
}

#: how the ledger identifies each document type for duplicate_document
_IDENTITY = {"invoice": "seller and invoice number",
             "bill_of_lading": "carrier and B/L number"}


def goods_refused(fields: Mapping[str, Any], listed: Any) -> str | None:
    """The dry run's reading of the public controlled-goods list (``risk/goods_controls``,
    any identity reads it; docs/risk.md "Controlled goods") for this document alone: the
    first of its ``hs_codes`` under a prefix listed ``refuse`` for every destination, or for
    the country of its own port of discharge (``port_of_discharge_locode``), said as the
    ledger says it; else None. Only ``refuse``: a ``monitor`` entry refuses nothing (and its
    alert is not the exporter's). The ledger decides: the trade's other documents' goods and
    destinations meet at joining and financing, and the list may change before the block."""
    if not isinstance(listed, dict):
        return None
    locode = fields.get("port_of_discharge_locode")
    dest = locode[:2] if isinstance(locode, str) and len(locode) == 5 else None
    for code in fields.get("hs_codes") or ():
        for n in (2, 4, 6):
            entry = (listed.get(str(code)[:n]) or {}).get("refuse")
            if not isinstance(entry, dict):
                continue
            to = entry.get("to") or []
            if not to or dest in to:
                where = f" to {dest} (the port_of_discharge's country)" if to else ""
                return (f"the goods {code} fall under {str(code)[:n]}, which this network's "
                        f"controlled-goods list refuses{where}: {entry.get('reason')}")
    return None


async def _registered_as(c: Any, content_hash: str) -> tuple[str, str | None] | None:
    """``(doc id, trade id)`` of the document registered with this file, when the key reads it
    (its parties do: node/access.py; anyone else reads a 404, as for a missing key), else
    None."""
    doc_id = await c.state_value(T, "content/" + content_hash)
    if not isinstance(doc_id, str):
        return None
    doc = await c.state_value(T, "doc/" + doc_id)
    if not isinstance(doc, dict):
        return None
    trade = doc.get("trade_id")
    return doc_id, trade if isinstance(trade, str) else None


async def register(node: str, key: str | None, doc_type: str, raw: bytes, rules: IngestRules, *,
                   trade_id: str | None = None, carrier: str | None = None,
                   declare_distinct: str | None = None, dry_run: bool = False,
                   ca: str | None = None, timeout: float = 60.0
                   ) -> tuple[dict[str, Any], int]:
    """Read the file, build and check ``register``'s arguments, then (unless ``dry_run``) sign
    them with ``key`` and wait until final: the outcome to print and the exit code.

    Raises:
        UblError, DcsaError, IngestError: the file cannot become a registration (nothing sent).
        ClientError: the node cannot be read or reached.
    """
    from chainfin import dcsa, ubl
    from chainfin.client import Client, ClientError, refusal
    from chainfin.crypto import load_identity
    from chainfin.types import Transaction

    ident = load_identity(key) if key else None
    me = ident.public_key.hex() if ident else None
    accepted = rules.accepted_fields.get(doc_type, frozenset())
    # the file is read whole before the node is asked anything
    inv = ubl.parse_invoice(raw) if doc_type == "invoice" else None
    bl = dcsa.parse_transport_document(raw) if doc_type == "bill_of_lading" else None
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g = dict(await c.get("/v1/genesis"))
        if inv is not None:
            notes = list(inv.notes)
            exponent = await _exponent(c, g, inv.currency, ident is not None)
            fields, not_sent = ubl.invoice_fields(inv, exponent, accepted)
            party_field = "seller"
        else:
            assert bl is not None
            notes = list(bl.notes)
            fields, not_sent = dcsa.bl_fields(bl, accepted, carrier)
            exponent = 0
            party_field = "shipper"
        args: dict[str, Any] = {"doc_type": doc_type, "fields": fields,
                                "content_hash": ubl.content_hash(raw)}
        if trade_id:
            args["trade_id"] = trade_id
        if declare_distinct:
            args["declare_distinct"] = declare_distinct
        try:
            rules.register_args(args)
            rules.normalise_fields(doc_type, fields, lambda code: exponent)
        except ChainfinError as e:
            raise IngestError(f"the ledger would refuse it: {e}") from None
        if ident is not None and me is not None:
            mine = await c.identity_record(me)
            if mine is None:
                raise IngestError("--key is no identity on this ledger")
            rec = mine[1]
            names = [n for n in (rec.get("legal_name"), rec.get("name")) if n]
            if rules.name_skeleton(str(fields[party_field])) not in {
                    rules.name_skeleton(str(n)) for n in names}:
                raise IngestError(
                    f"the {doc_type}'s {party_field} is {fields[party_field]!r}; this key is "
                    f"{names[0] if names else '?'!r}: only the {party_field} registers it "
                    "(not_document_party); nothing was sent")
        if doc_type == "bill_of_lading" and not trade_id:
            notes.append("no --trade: the bill of lading is registered in no trade, and no "
                         "trade is financed or paid on it until it joins its invoice's trade "
                         "(trade_documents.link {trade_id, doc_id}, by the shipper); pass "
                         "--trade <the invoice's trade id> to register it there")
        for n in notes:
            _note(n)
        refused_boxes = not_sent.pop("equipment", None) if isinstance(not_sent, dict) else None
        if refused_boxes:
            # not a missing field: references the ledger refuses (bad_container), left off the
            # B/L so the rest registers — said apart, as the bank must ask the carrier
            _note("equipment not sent as containers, each with why (ask the carrier for a "
                  "corrected eBL): " + json.dumps(refused_boxes))
        if not_sent:
            _note("read but not sent (the ledger's " + doc_type + " has no such field): "
                  + json.dumps(not_sent))
        if refused_boxes:
            not_sent["equipment"] = refused_boxes
        if dry_run:
            out_dry: dict[str, Any] = {"status": "dry_run", "contract": T, "method": "register",
                                       "args": args, "not_sent": not_sent}
            listed = await c.state_value("risk", "goods_controls") if fields.get(
                "hs_codes") else None
            refused = goods_refused(fields, listed)
            if refused:
                out_dry["would_be_refused"] = {"error": "controlled_goods", "reason": refused}
                _note(f"the ledger would refuse it (controlled_goods): {refused}")
            return out_dry, 0
        if ident is None or me is None:
            raise IngestError("--key is required to register (or pass --dry-run)")
        nonce = await c.next_nonce(me)
        tx = Transaction.create(ident, g["chain_id"], nonce, T, "register", args)
        try:
            out = await c.submit(tx, wait=True)
        except ClientError as e:
            out = refusal(e, tx.tx_id.hex())
        err = out.get("error") or {}
        registered: tuple[str, str | None] | None = None
        if out.get("status") != "committed" and err.get("code") == "duplicate_document":
            try:
                registered = await _registered_as(c, args["content_hash"])
            except ClientError:
                registered = None
    number = fields.get("number") or fields.get("bl_number")
    if out.get("status") == "committed":
        res = out.get("result") or {}
        return {"status": "committed", "doc_type": doc_type, "number": number,
                "doc_id": res.get("doc_id"), "trade_id": res.get("trade_id"),
                "tx_id": out.get("tx_id"), "height": out.get("height")}, 0
    err = out.get("error") or {}
    line = {"status": out.get("status"), "doc_type": doc_type, "number": number,
            "tx_id": out.get("tx_id"), "error": err.get("code"), "reason": err.get("message")}
    hint = _HINTS.get(str(err.get("code")))
    if hint:
        hint = hint.replace("{identity}", _IDENTITY.get(doc_type, "identity"))
    if registered is not None:
        # this very file is registered, and the key is a party of it: say where
        doc_id, trade = registered
        line["registered_as"] = {"doc_id": doc_id, "trade_id": trade}
        hint = (f"this file is already registered as {doc_type} {doc_id}"
                + (f" in trade {trade}: chainfin trade show --trade {trade}" if trade else
                   ", in no trade (it joins its invoice's trade by trade_documents.link "
                   "{trade_id, doc_id})") + "; nothing to do if that is this document")
    if hint:
        line["what_to_do"] = hint
    return line, 1


def run(args: argparse.Namespace, rules: IngestRules) -> int:
    """``chainfin trade register``."""
    from chainfin.dcsa import MAX_DCSA_BYTES
    from chainfin.ubl import MAX_UBL_BYTES

    doc_type = "invoice" if args.ubl else "bill_of_lading"
    if doc_type == "invoice" and args.trade:
        return _err("an invoice opens its own trade: --trade goes with --dcsa (the bill of "
                    "lading joins the invoice's trade)")
    if doc_type == "invoice" and args.carrier:
        return _err("--carrier goes with --dcsa")
    if not args.key and not args.dry_run:
        return _err("--key is required to register (or pass --dry-run)")
    try:
        raw = read_file(args.ubl or args.dcsa, MAX_UBL_BYTES if args.ubl else MAX_DCSA_BYTES)
        out, rc = asyncio.run(register(
            args.node, args.key, doc_type, raw, rules, trade_id=args.trade,
            carrier=args.carrier, declare_distinct=args.declare_distinct, dry_run=args.dry_run,
            ca=args.ca, timeout=args.timeout))
    except (ChainfinError, OSError, ValueError) as e:
        return _err(str(e))
    print(json.dumps(out, indent=2 if args.dry_run else None))
    if rc and out.get("what_to_do"):
        print(f"chainfin: {out['error']}: {out['what_to_do']}", file=sys.stderr)
    return rc
