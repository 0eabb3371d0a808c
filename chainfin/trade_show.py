"""``chainfin trade show --node URL --trade ID``: read one trade's records over REST and print
them as a credit officer reads them — as far as the key may read them: the node leaves out what
is not the reader's (a trade's financing is its exporter's, its financing banks' and the
supervisors'; node/access.py), and the report says "not found or not visible to you" in its
place, exactly as for a record that does not exist. An edge module like cli.py: it talks to a
node through :class:`chainfin.client.SyncClient`; cli.py hands it the contract layer's report
and renderer (:mod:`contracts.trade.view`), since chainfin imports nothing from contracts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chainfin.client import SyncClient, reader_identity
from chainfin.errors import ChainfinError


def cli_trade_show(args: argparse.Namespace,
                   trade_report: Callable[..., dict[str, Any]],
                   render: Callable[[dict[str, Any]], str]) -> int:
    """``trade_report(fetch, trade_id, now_ms, params=...)`` resolves the records;
    ``render(report)`` prints them."""
    with SyncClient(args.node, identity=reader_identity(args)) as c:
        def fetch(key: str) -> Any:
            return c.state_value("trade_documents", key)

        def fetch_gov(key: str) -> Any:
            return c.state_value("governance", key)

        # the chain's time, from the public status (blocks are the supervisors': a trade's
        # exporter or financing bank could not read the latest one)
        now_ms = int(c.get("/v1/status").get("timestamp_ms", 0))
        try:
            report = trade_report(fetch, args.trade, now_ms, params=fetch_gov("params"))
        except KeyError:
            raise ChainfinError(no_trade_message(args.trade, args.node,
                                                 getattr(args, "identity", None))) from None
        cur = fetch_gov("currency/" + report["trade"]["currency"]) or {}
        report["exponent"] = int(cur.get("exponent", 2))
        shipment = shipment_lines(report, fetch) if not args.json else []
    if args.json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print(render(report))
        if shipment:
            print("\n".join(shipment))
    return 0


def _kg(v: Any) -> str:
    return f"{int(v):,} kg"


def _where(doc_id: str, other: Any) -> str:
    """A transport document of another shipment as far as the reader reads it."""
    if not isinstance(other, dict):
        return (f"{doc_id[:16]}… (not found or not visible to you: another exporter's, or of a "
                "trade this key is no party to)")
    trade = other.get("trade_id")
    return f"{doc_id[:16]}… " + (f"in trade {trade}" if trade else "(in no trade yet)")


def shipment_lines(report: dict[str, Any], fetch: Callable[[str], Any]) -> list[str]:
    """The transport documents' shipment as a trade-finance desk checks it (decisions
    228-230): each B/L's containers, voyage and gross weight; a B/L registered although one of
    its boxes was under another trade's live shipment, with that box, that document and its
    trade (read with the reader's key: ``fetch("doc/<id>")``, None when not visible); and, on
    the first B/L, which of its boxes a copy declared distinct names and in which trade. The
    report's own ``render`` names neither the box nor the other trade. Empty when no document
    carries containers, a voyage or a weight."""
    out: list[str] = []
    for doc_id, d in report["documents"].items():
        if not isinstance(d, dict):
            continue
        fields = d.get("fields") or {}
        boxes = list(fields.get("containers") or [])
        dd = d.get("declared_distinct") or {}
        box = dd.get("container")
        if not (boxes or fields.get("voyage") or fields.get("gross_weight_kg") or box):
            continue
        said = [f"  {d['doc_type']} {doc_id[:16]}…"]
        if boxes:
            said.append("containers " + ", ".join(boxes))
        if fields.get("voyage"):
            said.append(f"voyage {fields['voyage']}")
        if fields.get("gross_weight_kg"):
            said.append("gross weight " + _kg(fields["gross_weight_kg"]))
        out.append("  ".join(said))
        if box:
            of = str(dd["container_of"])
            other = report["documents"].get(of) if of in report["documents"] else fetch("doc/" + of)
            out.append(f"    container {box} was under the live shipment of {_where(of, other)} "
                       "when this was registered (within 90 days of that document's "
                       "registration, or while its trade owed financing): declared distinct, "
                       f"{dd.get('reason')!r}; a bank finances either trade only after reading "
                       "it (acknowledge_distinct)")
        for c in d.get("distinct_copies") or [] if boxes else []:
            other = fetch("doc/" + str(c["doc_id"]))
            theirs = (other.get("fields") or {}).get("containers") if isinstance(other, dict) else None
            shared = [b for b in boxes if b in (theirs or [])]
            if shared:
                trade = other.get("trade_id") if isinstance(other, dict) else None
                out.append(f"    copy {str(c['doc_id'])[:16]}… names container "
                           f"{', '.join(shared)} of this shipment"
                           + (f", in trade {trade}" if trade else "")
                           + f": declared distinct, {c['reason']!r}")
    return ["shipment (transport documents):", *out] if out else []


def no_trade_message(trade_id: str, node: str, key: str | None) -> str:
    """What a 404 on ``trade/<id>`` means: the node answers a trade the key may not read
    exactly as one that does not exist (TRAPS 21), so the message says both, and who reads a
    trade — the importer named as buyer, or a bank that issued an LC "for" the trade, is not
    told that the trade is missing (decision 115: the issuing bank and the applicant become
    parties when the beneficiary presents under the LC or registers its copy in the trade)."""
    if not key:
        return (f"no trade {trade_id} readable without a key on {node}: reads are signed, "
                "pass --key (or set $CHAINFIN_KEY) with a key of one of the trade's parties")
    return (f"no trade {trade_id} on {node} that this key may read: it does not exist, or "
            "this key is no party of it (a trade is read by its exporter, the registrants of "
            "its documents, the banks that verified or financed it, and the supervisors; an "
            "LC's issuing bank and applicant once the beneficiary presents under the LC or "
            "registers its copy in the trade; a buyer named on the invoice is not a party by "
            "that alone)")

