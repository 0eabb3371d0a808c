"""``chainfin risk limits set | remove | show`` and ``chainfin risk rates publish | show``: an
identity's outflow limits (its home bank or a regulator sets them), in one currency or in a
base currency that counts every currency (``--base``, decision 187), and the regulator's
reference rates that convert them (decision 188; docs/risk.md "Limits in a base currency").

A rate is an exact ratio of minor units, written ``CCY=PER:BASE_UNITS``: ``JPY=1000000:670000``
says 1,000,000 JPY (minor units) are worth 670,000 minor units of the base (USD 6,700.00). No
decimal point is accepted anywhere: what the ledger stores is what was typed. The ledger rounds
a converted payment up (against the customer) and refuses the payment of an account under a
base-currency limit when the rate is missing or more than 6 days old (``rate_unavailable``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from typing import Any

from chainfin.cli_jurisdictions import _risk_subparsers
from chainfin.client import Client, add_regulator_call_args, send_or_dry_run
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

__all__ = ["KINDS", "parse_rate", "add_parser", "run"]

#: ``contracts.risk.RULE_KINDS`` (this layer imports nothing from contracts)
KINDS = ("max_per_tx", "window_outflow", "velocity")
#: ``contracts.risk_rates.MAX_RATE_AGE_MS``
MAX_RATE_AGE_MS = 6 * 24 * 3600 * 1000
_RATE = re.compile(r"([A-Z]{3})=([0-9]{1,16}):([0-9]{1,16})")
_CCY = re.compile(r"[A-Z]{3}")


def parse_rate(text: str) -> dict[str, Any]:
    """``--rate CCY=PER:BASE_UNITS`` (integers of minor units) as the ledger takes it.

    Raises:
        ChainfinError: another form (a decimal point, a lower-case code, a zero term).
    """
    m = _RATE.fullmatch(text.strip())
    if m is None:
        raise ChainfinError(f"--rate {text!r}: write CCY=PER:BASE_UNITS in integer minor units, "
                            "e.g. JPY=1000000:670000 (1,000,000 JPY = 670,000 US cents)")
    per, base_units = int(m.group(2)), int(m.group(3))
    if not per or not base_units:
        raise ChainfinError(f"--rate {text!r}: both terms must be at least 1")
    return {"currency": m.group(1), "per": per, "base_units": base_units}


def _ccy(text: str, opt: str) -> str:
    code = text.strip()
    if code != "*" and not _CCY.fullmatch(code):
        raise ChainfinError(f"{opt} {text!r}: an ISO 4217 code in capitals, e.g. USD")
    return code


async def _read(node: str, key: str | None, ca: str | None, timeout: float,
                contract: str, state_key: str) -> Any:
    ident = load_identity(key) if key else None
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        return await c.state_value(contract, state_key)


def rates_view(base: str, record: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """The published rates against ``base``, each with its age and whether the ledger would
    still count a payment with it (``stale``: more than 6 days old)."""
    rows = []
    for ccy in sorted(record or {}):
        r = record[ccy] if record else {}
        age = now_ms - int(r["time_ms"])
        rows.append({"currency": ccy, "per": r["per"], "base_units": r["base_units"],
                     "as_of_ms": r["time_ms"], "age_h": age // 3_600_000,
                     "stale": age > MAX_RATE_AGE_MS, "by": r.get("by"),
                     "height": r.get("height")})
    out: dict[str, Any] = {"base": base, "rates": rows, "count": len(rows)}
    if not rows:
        out["note"] = f"no rate published against {base}"
    return out


def run(args: argparse.Namespace) -> int:
    """``chainfin risk limits|rates <action>``: exit 0 done, 1 the ledger refused or rejected
    it, 2 the command could not be used (nothing sent)."""
    try:
        group = "limits" if hasattr(args, "limits_command") else "rates"
        action = args.limits_command if group == "limits" else args.rates_command
        if group == "rates" and action == "show":
            base = _ccy(args.base, "--base")
            rec = asyncio.run(_read(args.node, args.key, args.ca, args.timeout, "risk",
                                    "rates/" + base))
            print(json.dumps(rates_view(base, rec, int(time.time() * 1000))))
            return 0
        if group == "rates":
            tx_args: dict[str, Any] = {"base": _ccy(args.base, "--base"),
                                       "rates": [parse_rate(r) for r in args.rate]}
            if args.as_of_ms is not None:
                tx_args["as_of_ms"] = args.as_of_ms
            if args.order_ref is not None:
                tx_args["order_ref"] = args.order_ref
            return send_or_dry_run(args, "risk", "publish_rates", tx_args)
        if action == "show":
            prof = asyncio.run(_read(args.node, args.key, args.ca, args.timeout, "risk",
                                     "profile/" + args.subject))
            print(json.dumps({"subject": args.subject,
                              "rules": (prof or {}).get("rules", [])}))
            return 0
        if action == "remove":
            return send_or_dry_run(args, "risk", "remove_limit",
                                   {"subject": args.subject, "rule_id": args.rule_id})
        if action == "exposure":  # a bank's financing per exporter or buyer (decision 194)
            tx_args = {"side": args.side, "party": args.party,
                       "currency": _ccy(args.currency, "--currency"), "max": args.max}
            if args.bank:
                tx_args["bank"] = args.bank
            if args.base:
                tx_args["base"] = True
            return send_or_dry_run(args, "risk", "set_exposure_limit", tx_args)
        tx_args = {"subject": args.subject, "kind": args.kind,
                   "currency": _ccy(args.currency, "--currency"), "max": args.max}
        if args.kind != "max_per_tx":
            if args.window_s is None:
                raise ChainfinError(f"--window-s is needed for {args.kind}")
            tx_args["window_s"] = args.window_s
        elif args.window_s is not None:
            raise ChainfinError("--window-s: a per-payment limit has no window")
        if args.rule_id:
            tx_args["rule_id"] = args.rule_id
        if args.base:
            if args.kind == "velocity":
                raise ChainfinError("--base: a velocity rule counts payments (--currency '*' "
                                    "counts every currency)")
            tx_args["base"] = True
        return send_or_dry_run(args, "risk", "set_limit", tx_args)
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def add_parser(sub: Any) -> None:
    """``chainfin risk limits ...`` and ``chainfin risk rates ...`` (called by chainfin.cli,
    after the watch list's parser)."""
    risk = _risk_subparsers(sub)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        if signs:
            q.add_argument("--dry-run", action="store_true",
                           help="print the transaction; send nothing")
        add_regulator_call_args(q, run, signs)

    lim = risk.add_parser("limits", help="an identity's outflow limits: per currency, or in a "
                                         "base currency counting every currency (--base)")
    ls = lim.add_subparsers(dest="limits_command", metavar="ACTION", required=True)
    st = ls.add_parser("set", help="set (or replace, same --rule-id) a limit; signed by the "
                                   "identity's home bank or a regulator")
    st.add_argument("--subject", required=True, help="the limited identity's key (hex)")
    st.add_argument("--kind", required=True, choices=KINDS,
                    help="max_per_tx: one payment; window_outflow: the amount paid within "
                         "--window-s; velocity: the number of payments within --window-s")
    st.add_argument("--currency", required=True,
                    help="ISO 4217 code (with --base: the base currency); '*' for velocity in "
                         "every currency")
    st.add_argument("--max", required=True, type=int, help="integer minor units (a count for "
                                                           "velocity)")
    st.add_argument("--window-s", type=int, default=None, help="the window in seconds "
                                                               "(86400: a day)")
    st.add_argument("--rule-id", default=None, help="the rule's name (default: from the tx id)")
    st.add_argument("--base", action="store_true",
                    help="a limit in a base currency: payments in every currency count, "
                         "converted at the regulator's reference rates (rounded up); a payment "
                         "in a currency without a rate under 6 days old is refused")
    common(st)
    rm = ls.add_parser("remove", help="remove a limit (who may: as for set)")
    rm.add_argument("--subject", required=True, help="the limited identity's key (hex)")
    rm.add_argument("--rule-id", required=True)
    common(rm)
    ex = ls.add_parser("exposure", help="cap a bank's financing outstanding per exporter or "
                                        "per buyer; signed by the bank, or a regulator (--bank)")
    ex.add_argument("--side", required=True, choices=("exporter", "buyer"))
    ex.add_argument("--party", required=True,
                    help="the exporter's identity key (hex), or the buyer's name")
    ex.add_argument("--currency", required=True, help="ISO 4217 code (with --base: the base)")
    ex.add_argument("--max", required=True, type=int, help="integer minor units")
    ex.add_argument("--bank", default=None,
                    help="the capped bank's key (a regulator capping another bank)")
    ex.add_argument("--base", action="store_true",
                    help="a cap in a base currency: the financing outstanding in every "
                         "currency counts at the reference rates (rounded up); a currency "
                         "outstanding without a rate under 6 days old refuses new financing")
    common(ex)
    sh = ls.add_parser("show", help="an identity's limits (its own, its home bank's or a "
                                    "supervisor's key reads them)")
    sh.add_argument("--subject", required=True, help="the identity's id (hex)")
    common(sh, signs=False)

    rat = risk.add_parser("rates", help="reference rates against a base currency (regulators "
                                        "publish, anyone reads)")
    rs = rat.add_subparsers(dest="rates_command", metavar="ACTION", required=True)
    pb = rs.add_parser("publish", help="publish rates against --base (each replaces that "
                                       "currency's rate)")
    pb.add_argument("--base", required=True, help="the base currency, e.g. USD")
    pb.add_argument("--rate", required=True, action="append",
                    help="CCY=PER:BASE_UNITS in minor units, e.g. JPY=1000000:670000 "
                         "(repeatable, at most 64)")
    pb.add_argument("--as-of-ms", type=int, default=None,
                    help="the time the rates are of (ms; default the block's time; not in the "
                         "future, not older than 6 days)")
    pb.add_argument("--order-ref", default=None,
                    help="approve a pending publication: the order_ref its first regulator's "
                         "answer gave (where seizures need two regulators, a first rate or a "
                         "move of more than a fifth waits for a second: decision 191)")
    common(pb)
    rsh = rs.add_parser("show", help="the rates against --base, their age and whether stale")
    rsh.add_argument("--base", required=True)
    common(rsh, signs=False)
