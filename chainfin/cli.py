"""The ``chainfin`` command: parse, call, print. The one module that may import every layer.

Each subcommand's work lives in the layer that owns it; this module imports it lazily so
``chainfin --help`` stays fast and a missing optional piece fails with one clear sentence.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chainfin import __version__
from chainfin.errors import ChainfinError

Handler = Callable[[argparse.Namespace], int]


def _lazy(target: str) -> Handler:
    """``"package.module:function"`` imported when the command runs."""

    def run(args: argparse.Namespace) -> int:
        mod_name, func = target.split(":")
        mod = importlib.import_module(mod_name)
        return int(getattr(mod, func)(args) or 0)

    return run


def _trade_show(args: argparse.Namespace) -> int:
    from chainfin.trade_show import cli_trade_show
    from contracts.trade.view import render, trade_report

    return cli_trade_show(args, trade_report, render)


def _trade_register(args: argparse.Namespace) -> int:
    """``chainfin trade register --ubl | --dcsa`` with the trade contract's own ``register``
    parser, field rules and name rule (handed down)."""
    from chainfin.cli_docs_ingest import IngestRules, run
    from contracts.names import name_skeleton
    from contracts.trade.norm import KEY_FIELDS, OPTIONAL_FIELDS, normalise_fields
    from contracts.trade_documents import CONTRACT

    accepted = {t: frozenset(KEY_FIELDS[t]) | frozenset(OPTIONAL_FIELDS.get(t, {}))
                for t in KEY_FIELDS}
    return run(args, IngestRules(register_args=CONTRACT.methods["register"].parse_args,
                                 normalise_fields=normalise_fields, name_skeleton=name_skeleton,
                                 accepted_fields=accepted))


def _iso20022_submit(args: argparse.Namespace) -> int:
    """``chainfin iso20022 submit`` with the settlement contract's own ``transfer`` parser, so a
    file the ledger would refuse in part is refused whole before anything is sent."""
    from chainfin.iso20022.cli import cli_submit
    from contracts.settlement import CONTRACT

    return cli_submit(args, CONTRACT.methods["transfer"].parse_args)


def credit_sealed(args: argparse.Namespace) -> int:
    """``chainfin credit publish | correct | open`` with the credit_sharing contract's own
    commitment and sealing (handed down)."""
    from chainfin.cli_credit import Sealing, run_sealed
    from contracts.credit_sharing import make_commitment, open_and_check, seal_record

    return run_sealed(args, Sealing(make_commitment, seal_record, open_and_check))


def _lc_mt700(args: argparse.Namespace) -> int:
    """``chainfin lc mt700 ...`` with the trade contract's own argument parsers, document types
    and name rule (chainfin imports nothing from contracts: they are handed down)."""
    from chainfin.swift.cli import LedgerRules, run
    from contracts.names import name_skeleton
    from contracts.trade.norm import normalise_fields
    from contracts.trade_documents import CONTRACT, DOC_TYPES

    return run(args, LedgerRules(
        name_skeleton=name_skeleton, doc_types=DOC_TYPES,
        issue_lc_args=CONTRACT.methods["issue_lc"].parse_args,
        register_args=CONTRACT.methods["register"].parse_args,
        normalise_fields=normalise_fields))


def _lc_mt707(args: argparse.Namespace) -> int:
    """``chainfin lc mt707 ...`` with ``amend_lc``'s own argument parser (handed down)."""
    from chainfin.swift.cli_mt707 import run
    from contracts.trade_documents import CONTRACT

    return run(args, CONTRACT.methods["amend_lc"].parse_args)


def _risk_watch(args: argparse.Namespace) -> int:
    """``chainfin risk watch ...`` with the risk contract's hashing rules (handed down)."""
    from chainfin.watchlist import WatchRules, run
    from contracts import risk

    return run(args, WatchRules(watch_key=risk.watch_key, watch_digest=risk.watch_digest,
                                watch_forms=risk.watch_forms))


def _keygen(args: argparse.Namespace) -> int:
    from chainfin.crypto import Identity, save_identity

    out = Path(args.out)
    if out.exists():
        raise ChainfinError(f"{out} exists; refusing to overwrite a key file")
    ident = Identity.generate(args.name or out.stem)
    save_identity(ident, out)
    print(f"wrote {out} (mode 0600)")
    print(f"public key: {ident.public_key.hex()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chainfin",
        description="chainfin: a permissioned BFT ledger for trade finance and settlement.",
    )
    p.add_argument("--version", action="version", version=f"chainfin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    k = sub.add_parser("keygen", help="create an identity key file (Ed25519 + X25519), mode 0600")
    k.add_argument("--out", required=True, help="key file to write (must not exist)")
    k.add_argument("--name", default="", help="a human name stored in the file")
    k.set_defaults(func=_keygen)

    s = sub.add_parser("sim", help="run one deterministic PBFT simulation")
    s.add_argument("--nodes", type=int, default=4)
    s.add_argument("--byzantine", type=int, default=0)
    s.add_argument("--crash", type=int, default=0)
    s.add_argument("--delay-ms", type=int, default=10, help="mean one-way network delay")
    s.add_argument("--txs", type=int, default=100, help="client transactions to submit")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--jitter", type=float, default=0.5,
                   help="each delay uniform in delay * [1 - J, 1 + J] (default 0.5; 0: fixed)")
    s.add_argument("--rate", type=float, default=None,
                   help="submit the txs at this many per second (spread over txs / rate s; "
                        "default: over 20 delays)")
    s.add_argument("--node-params", action="store_true",
                   help="the engine settings a node runs with (genesis defaults: window, "
                        "block pacing, block size, view timeout) instead of the simulator's")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(func=_lazy("testnet.sim:cli_main"))

    t = sub.add_parser("testnet", help="local multi-node testnet on 127.0.0.1")
    tsub = t.add_subparsers(dest="testnet_command", metavar="ACTION", required=True)
    ti = tsub.add_parser("init", help="write keys, genesis, configs and the manifest")
    ti.add_argument("--dir", required=True)
    ti.add_argument("--nodes", type=int, default=4)
    ti.add_argument("--base-port", type=int, default=0, help="first port (0: pick free ports)")
    ti.add_argument("--plain", action="store_true",
                    help="peer links over plain TCP and REST over plain HTTP, no CA or "
                         "certificates (for tests only; default: mutual TLS with a testnet CA "
                         "in DIR/pki, REST over HTTPS)")
    ti.add_argument("--extra-clients", type=int, default=0,
                    help="add this many trader identities (role exporter), e.g. the senders of "
                         "`testnet grow` (the bench at 500 tx/s uses 125)")
    ti.add_argument("--netns", action="store_true",
                    help="each node on its own address 10.77.S.(10+i) in its own network "
                         "namespace behind a bridge (built by `up`; root only)")
    _wan_flags(ti, "with --netns: ")
    ti.set_defaults(func=_lazy("testnet.launch:cli_init"))
    tg = tsub.add_parser("grow", help="commit N certified blocks' worth of the bench's load into "
                                      "one node's ledger, fast (resumable; docs/storage.md)")
    tg.add_argument("--dir", required=True, help="a testnet from `testnet init --extra-clients`")
    tg.add_argument("--txs", type=int, required=True,
                    help="load transactions the ledger should hold in all (continues from what "
                         "it holds)")
    tg.add_argument("--block-txs", type=int, default=1000, help="transactions per block")
    tg.add_argument("--node", type=int, default=0, help="the node whose ledger grows")
    tg.add_argument("--max-seconds", type=float, default=None,
                    help="stop after about this long (run again to resume)")
    tg.add_argument("--measure-at", default=None, metavar="N,M,...",
                    help="stop at each of these sizes and write DIR/measure-N.json "
                         "(python -m testnet.scale measure --compact), then go on")
    tg.add_argument("--copy", action="store_true",
                    help="when done, copy the grown database to every other node")
    tg.set_defaults(func=_lazy("testnet.scale:cli_grow"))
    tu = tsub.add_parser("up", help="start the testnet's nodes; Ctrl-C stops them all")
    tu.add_argument("--dir", required=True)
    _wan_flags(tu, "a --netns testnet: override init's ", default=None)
    tu.set_defaults(func=_lazy("testnet.launch:cli_up"))
    td = tsub.add_parser("demo", help="init, start 4 nodes, run the trade-finance story, stop")
    td.add_argument("--dir", default=None, help="keep the testnet here instead of a temp dir")
    td.set_defaults(func=_lazy("testnet.demo:cli_demo"))
    tc = tsub.add_parser("chaos", help="start DIR's testnet, load it, inject faults, check")
    tc.add_argument("--dir", required=True)
    tc.add_argument("--duration", type=float, default=20, help="seconds of load and faults")
    tc.add_argument("--faults", default="kill,stop,pause",
                    help="comma-separated: kill, stop, pause, partition, delay, oneway, gray, "
                         "byzantine, disk; or one kind of a group alone (e.g. deaf-primary, "
                         "split, gray-loss)")
    tc.add_argument("--rate", type=float, default=20, help="offered tx/s")
    tc.add_argument("--seed", type=int, default=1, help="seeds the choice of faults")
    tc.add_argument("--json", default=None, help="write the result here")
    tc.add_argument("--plot", default=None,
                    help="plot every node's RSS, open files, data dir and loop lag (PNG)")
    tc.add_argument("--behaviours", default=None,
                    help="with byzantine: comma-separated behaviours (equivocate, garbage, "
                         "replay, invalid, conflict, silent, flood); default picked by the seed")
    tc.set_defaults(func=_lazy("testnet.chaos:cli_chaos"))
    to = tsub.add_parser("outage", help="start DIR's testnet, load it, fault the whole network "
                                        "(blackout, cold start, lost quorum, rolling restart)")
    to.add_argument("--dir", required=True)
    to.add_argument("--scenario", default="blackout,coldstart,quorum,rolling",
                    help="comma-separated, run in turn: blackout, coldstart, quorum, rolling")
    to.add_argument("--rate", type=float, default=100, help="offered tx/s")
    to.add_argument("--seed", type=int, default=1, help="seeds which nodes the quorum loses")
    to.add_argument("--warm", type=float, default=8, help="seconds of load before the fault")
    to.add_argument("--hold", type=float, default=5,
                    help="seconds the blackout or the lost quorum lasts")
    to.add_argument("--gap", type=float, default=10, help="seconds between cold starts")
    to.add_argument("--after", type=float, default=8, help="seconds of load once back")
    to.add_argument("--power-loss", action="store_true",
                    help="blackout: also lose what no fsync made durable (every node's "
                         "unsynced LevelDB log tail; an LD_PRELOAD shim, needs cc)")
    to.add_argument("--json", default=None, help="write the results here")
    to.set_defaults(func=_lazy("testnet.blackout:cli_outage"))
    tj = tsub.add_parser("join", help="add one more bank node to a running testnet")
    tj.add_argument("--dir", required=True)
    tj.set_defaults(func=_lazy("testnet.membership:cli_join"))

    n = sub.add_parser("node", help="run a node")
    nsub = n.add_subparsers(dest="node_command", metavar="ACTION", required=True)
    nr = nsub.add_parser("run", help="run one node in the foreground")
    nr.add_argument("--config", required=True)
    nr.set_defaults(func=_lazy("node.main:cli_run"))
    ns = nsub.add_parser("resync", help="move a damaged data directory aside and rebuild it "
                                        "from the peers (certificates verified), then run")
    ns.add_argument("--config", required=True)
    ns.add_argument("--force", action="store_true",
                    help="rebuild even when the data directory is not damaged")
    ns.set_defaults(func=_lazy("node.main:cli_resync"))

    tx = sub.add_parser("tx", help="transactions")
    txsub = tx.add_subparsers(dest="tx_command", metavar="ACTION", required=True)
    ts = txsub.add_parser("send", help="sign and submit a transaction; prints the result as JSON")
    ts.add_argument("--node", required=True, help="REST URL of a node")
    ts.add_argument("--key", required=True, help="identity key file")
    ts.add_argument("--contract", required=True)
    ts.add_argument("--method", required=True)
    ts.add_argument("--args", default="{}", help="JSON object of method arguments")
    ts.add_argument("--nonce", type=int, default=None, help="default: next nonce from the node")
    ts.add_argument("--wait", action="store_true", help="wait until the tx is final")
    ts.add_argument("--ca", default=None,
                    help="CA file to trust for an https:// node (default: $SSL_CERT_FILE)")
    ts.set_defaults(func=_lazy("chainfin.client:cli_tx_send"))

    q = sub.add_parser("query", help="GET a REST path and pretty-print the JSON")
    q.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(q)
    q.add_argument("path", help="e.g. /v1/status, /readyz (exit 1 on 503 no_quorum), "
                                "/v1/tx/<id>, /v1/state/<contract>/<key>")
    q.set_defaults(func=_lazy("chainfin.client:cli_query"))

    tr = sub.add_parser("trade", help="trade finance records: show a trade, register documents "
                                      "from their files")
    trsub = tr.add_subparsers(dest="trade_command", metavar="COMMAND", required=True)
    tsh = trsub.add_parser("show", help="one trade: documents, checks, attestation, pool, "
                                        "financings, LC drawings")
    tsh.add_argument("--node", required=True)
    _reader_key(tsh)
    tsh.add_argument("--trade", required=True, help="trade id (hex)")
    tsh.add_argument("--json", action="store_true", help="print the resolved records as JSON")
    tsh.set_defaults(func=_trade_show)
    from chainfin.cli_docs_ingest import add_parser as add_trade_register
    add_trade_register(trsub, _trade_register)  # chainfin trade register --ubl | --dcsa

    pr = sub.add_parser("proof", help="fetch a proof document")
    prsub = pr.add_subparsers(dest="proof_command", metavar="KIND", required=True)
    pt = prsub.add_parser("tx")
    pt.add_argument("--node", required=True)
    _reader_key(pt)
    pt.add_argument("--id", required=True)
    pt.add_argument("--out", required=True)
    pt.set_defaults(func=_lazy("chainfin.client:cli_proof_tx"))
    ps = prsub.add_parser("state")
    ps.add_argument("--node", required=True)
    _reader_key(ps, flags=("--identity",))
    ps.add_argument("--contract", required=True)
    ps.add_argument("--key", required=True)
    ps.add_argument("--out", required=True)
    ps.set_defaults(func=_lazy("chainfin.client:cli_proof_state"))

    v = sub.add_parser("verify", help="verify a proof document offline against the genesis")
    v.add_argument("--genesis", required=True)
    v.add_argument("proof")
    v.add_argument("--height", type=int, default=None,
                   help="refuse the proof unless it is of the block at this height")
    v.add_argument("--report", default=None, metavar="FILE",
                   help="with a state proof of risk/review/<alert>/<n>: the report file the "
                        "bank kept (chainfin alerts str), checked against the review's seal")
    v.add_argument("--record", default=None, metavar="FILE",
                   help="with --report: the review record the bank disclosed (its `chainfin "
                        "alerts case --json` output, or the record alone)")
    v.add_argument("--verbose", action="store_true",
                   help="print long hex values (sealed boxes) whole; by default they are "
                        "shortened to their first 8 bytes and size")
    v.set_defaults(func=_lazy("chainfin.proofs:cli_verify"))

    al = sub.add_parser("alerts", help="print a node's risk alerts (recent, then as they come); "
                                       "queue, review, case: the alert review")
    al.add_argument("--node", default=None, help="REST URL of a node (required)")
    _reader_key(al)
    al.add_argument("--follow", action="store_true",
                    help="keep printing new alerts from /v1/events until interrupted")
    al.add_argument("--blocks", type=int, default=100,
                    help="first print the alerts of this many latest blocks (default 100)")
    al.add_argument("--max", type=int, default=None, help="stop after this many alerts")
    al.add_argument("--json", action="store_true", help="one JSON object per line")
    al.add_argument("--ca", default=None, help="CA file to trust for an https:// node")
    al.set_defaults(func=_lazy("chainfin.alerts:cli_alerts"))
    alsub = al.add_subparsers(dest="alerts_command", metavar="ACTION")
    alq = alsub.add_parser("queue", help="the open (unreviewed) alerts this key reviews, "
                                         "oldest first, with their age")
    alq.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(alq)
    alq.add_argument("--limit", type=int, default=100,
                     help="at most this many a page (default 100)")
    alq.add_argument("--after", default=None,
                     help="go on after this cursor (a previous page's, printed on stderr)")
    alq.add_argument("--all", action="store_true",
                     help="every page, following the cursor (--limit a page)")
    alq.add_argument("--json", action="store_true", help="one JSON object per line")
    alq.add_argument("--ca", default=None, help="CA file to trust for an https:// node")
    alq.set_defaults(func=_lazy("chainfin.cli_alerts:cli_alerts_queue"))
    alr = alsub.add_parser("review", help="record a disposition of an alert (a compliance "
                                          "officer of its home bank, a regulator)")
    alr.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(alr)
    alr.add_argument("--alert", required=True, help="the alert's id (<tx id>-<n>)")
    alr.add_argument("--disposition", required=True,
                     help="escalated, reported, false_positive, closed or reopened")
    alr.add_argument("--note", required=True,
                     help="the reviewer's note (a file): only its SHA-256 goes on chain")
    alr.add_argument("--report-ref", default=None,
                     help="with --disposition reported: the filed report's reference (only "
                          "its SHA-256 goes on chain)")
    alr.add_argument("--ca", default=None, help="CA file to trust for an https:// node")
    alr.set_defaults(func=_lazy("chainfin.cli_alerts:cli_alerts_review"))
    alc = alsub.add_parser("case", help="one alert's case: its reviews, each sealed record "
                                        "this key opens checked against its commitment")
    alc.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(alc)
    alc.add_argument("--alert", required=True, help="the alert's id (<tx id>-<n>)")
    alc.add_argument("--json", action="store_true", help="the case as one JSON object")
    alc.add_argument("--ca", default=None, help="CA file to trust for an https:// node")
    alc.set_defaults(func=_lazy("chainfin.cli_alerts:cli_alerts_case"))
    als = alsub.add_parser("str", help="a suspicious transaction report in goAML XML of "
                                       "alerts of this bank's customers (stays with the bank)")
    als.add_argument("alerts", nargs="+", metavar="ALERT_ID",
                     help="the alerts (<tx id>-<n>): one transaction each, once")
    als.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(als)
    als.add_argument("--out", required=True, help="the report file (XML, written mode 0600)")
    als.add_argument("--config", default=None,
                     help="JSON: rentity_id, rentity_branch, reporting_person, the FIU's codes")
    als.add_argument("--entity-id", type=int, default=None,
                     help="the bank's goAML reporting-entity id (rentity_id)")
    als.add_argument("--branch", default=None, help="rentity_branch")
    als.add_argument("--reporter", default=None, help="the reporting person: 'FIRST LAST'")
    als.add_argument("--reporter-email", default=None, help="the reporting person's email")
    als.add_argument("--currency-local", default=None,
                     help="currency_code_local: the bank's local currency; a payment in another "
                          "is converted at the ledger's reference rate (default: the "
                          "transactions' currency when they share one)")
    als.add_argument("--reason", default=None, help="why the transactions are suspicious")
    als.add_argument("--action", default=None, help="what the bank did about them")
    als.add_argument("--entity-reference", default=None,
                     help="the bank's own reference (default: the first alert's id)")
    als.add_argument("--submission-date", default=None,
                     help="submission_date, ISO 8601 UTC (default: now)")
    als.add_argument("--review", action="store_true",
                     help="also record a 'reported' review of each alert, the file's "
                          "SHA-256 as report reference (needs --note)")
    als.add_argument("--note", default=None, help="with --review: the reviewer's note (a file)")
    als.add_argument("--ca", default=None, help="CA file to trust for an https:// node")
    als.set_defaults(func=_lazy("chainfin.cli_alerts:cli_alerts_str"))

    au = sub.add_parser("audit", help="a node's log of reads of others' data")
    ausub = au.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ar = ausub.add_parser("reads", help="print the read log (regulators and auditors)")
    ar.add_argument("--node", required=True, help="REST URL of a node")
    _reader_key(ar)
    ar.add_argument("--after", type=int, default=0, help="entries after this sequence number")
    ar.add_argument("--json", action="store_true", help="one JSON object per line")
    ar.add_argument("--verify", action="store_true",
                    help="check the whole log's hash chain and that it matches the head the "
                         "node anchored on the chain (exit 1 if not)")
    ar.set_defaults(func=_lazy("chainfin.client:cli_audit_reads"))

    cu = sub.add_parser("curl", help="print a curl command that makes a signed request "
                                     "(RFC 9421; valid for 30 s)")
    _reader_key(cu)
    cu.add_argument("-X", "--request", dest="method", default="GET")
    cu.add_argument("-d", "--data", default="", help="request body")
    cu.add_argument("--cacert", default=None, help="CA file for an https:// node")
    cu.add_argument("url")
    cu.set_defaults(func=_lazy("chainfin.client:cli_curl"))

    b = sub.add_parser("bench", help="finality benchmark on a fresh local testnet")
    b.add_argument("--nodes", type=int, default=4)
    b.add_argument("--rate", type=int, default=100, help="offered tx/s (open loop)")
    b.add_argument("--duration", type=int, default=10, help="seconds of load")
    b.add_argument("--json", dest="json_out", default=None, help="write the result here")
    b.add_argument("--plot", default=None, help="write a PNG of finality over time")
    b.add_argument("--find-max", action="store_true",
                   help="search the highest rate with nothing failed and p99 <= 1 s")
    b.add_argument("--confirm", type=int, default=1,
                   help="with --find-max: a rate passes only if this many runs at it in a "
                        "row pass, each on a fresh testnet (default 1)")
    b.add_argument("--api", choices=("rest", "stream"), default="rest",
                   help="submit by one REST request per tx (default) or over one WebSocket "
                        "stream per node (/v1/tx/stream)")
    b.add_argument("--risk", action="store_true",
                   help="risk controls on: every sender under an outflow limit and a velocity "
                        "rule, 10,000 watch-list entries (set up before the load)")
    b.add_argument("--plain-rest", action="store_true",
                   help="serve REST over plain HTTP (peer links keep TLS): measures what HTTPS "
                        "costs against the default")
    b.add_argument("--on", default=None, metavar="DIR",
                   help="run on this existing testnet (e.g. grown with `testnet grow --copy`) "
                        "instead of a fresh one; the run adds to its ledgers")
    b.add_argument("--netns", action="store_true",
                   help="each node in its own network namespace on its own address "
                        "(root only; testnet/netns.py)")
    _wan_flags(b, "with --netns: ")
    b.add_argument("--view-timeout-ms", type=int, default=None,
                   help="the testnet's genesis view timeout (default 1000): a WAN needs more "
                        "than a few round trips")
    b.set_defaults(func=_lazy("testnet.bench:cli_bench"))

    _add_operator_commands(sub, nsub)
    return p


def _wan_flags(p: argparse.ArgumentParser, prefix: str, default: float | None = 0.0) -> None:
    p.add_argument("--rtt-ms", type=float, default=default,
                   help=prefix + "round trip added between any two nodes (half each way; "
                        "tc netem, or NFQUEUE where the kernel has no netem)")
    p.add_argument("--jitter-ms", type=float, default=default,
                   help=prefix + "+- on that round trip (uniform; packet order kept)")


# ISO 20022 and SWIFT MT700 adapters, and the bank operator's path (node init, ca sign)
def _add_operator_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                           nsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from chainfin.cli_backup import add_parser as add_backup
    from chainfin.cli_calendar import add_parser as add_calendar
    from chainfin.cli_credit import add_parser as add_credit
    from chainfin.cli_goods import add_parser as add_goods
    from chainfin.cli_governance import add_parser as add_governance
    from chainfin.cli_guarantee import add_parser as add_guarantee
    from chainfin.cli_identity import add_parser as add_identity
    from chainfin.cli_jurisdictions import add_parser as add_jurisdictions
    from chainfin.cli_limits import add_parser as add_limits
    from chainfin.iso20022.commands import add_parser as add_iso20022
    from chainfin.swift.commands import add_parser as add_swift
    from chainfin.watchlist import add_parser as add_watchlist

    add_iso20022(sub)
    add_swift(sub)
    add_watchlist(sub)
    add_jurisdictions(sub)  # under `risk`: after the watch list's parser
    add_goods(sub)  # under `risk` too
    add_limits(sub)  # `risk limits`, `risk rates` (decisions 187, 188)
    add_calendar(sub)
    add_credit(sub)
    add_guarantee(sub)
    add_identity(sub)  # `identity travel`: FATF R.16 data (decision 226)
    add_governance(sub)  # proposals, propose, vote, params (decisions 285-288)
    add_backup(nsub)

    ni = nsub.add_parser("init", help="a bank's node: keys, TLS key + CSR, config, join request")
    ni.add_argument("--bank", required=True, help="the bank's BIC, e.g. CHFNFRPP")
    ni.add_argument("--dir", required=True, help="directory to write (must not hold a node)")
    ni.add_argument("--node-id", default=None, help="default: <bic>-node")
    ni.add_argument("--host", action="append",
                    help="DNS name or IP for the TLS certificate (repeatable; default "
                         "127.0.0.1 and localhost)")
    ni.add_argument("--p2p", default="0.0.0.0:9000", help="p2p listen address (host:port)")
    ni.add_argument("--advertise", default=None,
                    help="p2p address the other validators dial (default: --p2p)")
    ni.add_argument("--rest", default="127.0.0.1:8000", help="REST listen address (host:port)")
    ni.add_argument("--genesis", default=None, help="the consortium's genesis file to copy in")
    ni.add_argument("--fingerprint-key", default=None,
                    help="the consortium's fingerprint key file (it gives it with the genesis) "
                         "to copy in as fingerprint.key (0600); checked against the genesis")
    ni.add_argument("--peer", action="append",
                    help="a validator to link to: NODE_ID=PUBLIC_KEY@HOST:PORT (repeatable)")
    ni.add_argument("--sync-url", action="append",
                    help="REST URL of a running node to follow while an observer (repeatable)")
    ni.add_argument("--sync-key", default=None,
                    help="identity key file that signs the observer's block reads from the sync "
                         "URLs: an auditor's or a regulator's (blocks are for validators, "
                         "regulators and auditors; decision 62)")
    ni.set_defaults(func=_lazy("node.bank:cli_node_init"))

    ca = sub.add_parser("ca", help="the consortium CA")
    casub = ca.add_subparsers(dest="ca_command", metavar="ACTION", required=True)
    cs = casub.add_parser("sign", help="issue a node certificate for a bank's CSR")
    cs.add_argument("--ca-dir", required=True, help="directory holding ca.pem and ca.key")
    cs.add_argument("--csr", required=True, help="the bank's tls/node.csr")
    cs.add_argument("--out", required=True, help="certificate to write (PEM)")
    cs.add_argument("--days", type=int, default=365)
    cs.add_argument("--expect-key", default=None,
                    help="refuse unless the CSR names this validator key (from join-request)")
    cs.set_defaults(func=_lazy("node.bank:cli_ca_sign"))


def _reader_key(p: argparse.ArgumentParser, flags: tuple[str, ...] = ("--key", "--identity")
                ) -> None:
    """The identity key file that signs the command's reads (default: $CHAINFIN_KEY)."""
    p.add_argument(*flags, dest="identity", default=os.environ.get("CHAINFIN_KEY"),
                   help="identity key file that signs the requests (default: $CHAINFIN_KEY)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        rc: int = args.func(args)
        return rc
    except ChainfinError as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 1
    except (ModuleNotFoundError, AttributeError) as e:
        if isinstance(e, ModuleNotFoundError) and e.name and e.name.split(".")[0] in (
            "testnet", "node", "contracts", "chainfin"
        ):
            print(f"chainfin: error: this command is not available in this build ({e.name})",
                  file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `chainfin verify ... | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # (Python flushes stdout again at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
