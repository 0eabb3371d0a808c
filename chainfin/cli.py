"""The ``chainfin`` command: parse, call, print. The one module that may import every layer.

Each subcommand's work lives in the layer that owns it; this module imports it lazily so
``chainfin --help`` stays fast and a missing optional piece fails with one clear sentence.
"""

from __future__ import annotations

import argparse
import importlib
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
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(func=_lazy("testnet.sim:cli_main"))

    t = sub.add_parser("testnet", help="local multi-node testnet on 127.0.0.1")
    tsub = t.add_subparsers(dest="testnet_command", metavar="ACTION", required=True)
    ti = tsub.add_parser("init", help="write keys, genesis, configs and the manifest")
    ti.add_argument("--dir", required=True)
    ti.add_argument("--nodes", type=int, default=4)
    ti.add_argument("--base-port", type=int, default=0, help="first port (0: pick free ports)")
    ti.add_argument("--plain", action="store_true",
                    help="peer links over plain TCP, no CA or certificates (for tests only; "
                         "default: mutual TLS with a testnet CA in DIR/pki)")
    ti.set_defaults(func=_lazy("testnet.launch:cli_init"))
    tu = tsub.add_parser("up", help="start the testnet's nodes; Ctrl-C stops them all")
    tu.add_argument("--dir", required=True)
    tu.set_defaults(func=_lazy("testnet.launch:cli_up"))
    td = tsub.add_parser("demo", help="init, start 4 nodes, run the trade-finance story, stop")
    td.add_argument("--dir", default=None, help="keep the testnet here instead of a temp dir")
    td.set_defaults(func=_lazy("testnet.demo:cli_demo"))
    tc = tsub.add_parser("chaos", help="start DIR's testnet, load it, inject faults, check")
    tc.add_argument("--dir", required=True)
    tc.add_argument("--duration", type=float, default=20, help="seconds of load and faults")
    tc.add_argument("--faults", default="kill,stop,pause",
                    help="comma-separated: kill, stop, pause, partition, delay, byzantine, disk")
    tc.add_argument("--rate", type=float, default=20, help="offered tx/s")
    tc.add_argument("--seed", type=int, default=1, help="seeds the choice of faults")
    tc.add_argument("--json", default=None, help="write the result here")
    tc.add_argument("--plot", default=None,
                    help="plot every node's RSS, open files, data dir and loop lag (PNG)")
    tc.add_argument("--behaviours", default=None,
                    help="with byzantine: comma-separated behaviours (equivocate, garbage, "
                         "replay, invalid, conflict, silent, flood); default picked by the seed")
    tc.set_defaults(func=_lazy("testnet.chaos:cli_chaos"))
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
    ts.set_defaults(func=_lazy("chainfin.client:cli_tx_send"))

    q = sub.add_parser("query", help="GET a REST path and pretty-print the JSON")
    q.add_argument("--node", required=True)
    q.add_argument("path")
    q.set_defaults(func=_lazy("chainfin.client:cli_query"))

    pr = sub.add_parser("proof", help="fetch a proof document")
    prsub = pr.add_subparsers(dest="proof_command", metavar="KIND", required=True)
    pt = prsub.add_parser("tx")
    pt.add_argument("--node", required=True)
    pt.add_argument("--id", required=True)
    pt.add_argument("--out", required=True)
    pt.set_defaults(func=_lazy("chainfin.client:cli_proof_tx"))
    ps = prsub.add_parser("state")
    ps.add_argument("--node", required=True)
    ps.add_argument("--contract", required=True)
    ps.add_argument("--key", required=True)
    ps.add_argument("--out", required=True)
    ps.set_defaults(func=_lazy("chainfin.client:cli_proof_state"))

    v = sub.add_parser("verify", help="verify a proof document offline against the genesis")
    v.add_argument("--genesis", required=True)
    v.add_argument("proof")
    v.set_defaults(func=_lazy("chainfin.proofs:cli_verify"))

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
    b.set_defaults(func=_lazy("testnet.bench:cli_bench"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
