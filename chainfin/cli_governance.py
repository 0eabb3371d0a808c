"""``chainfin governance proposals | propose | vote | params``: the consortium's votes from the
command line (decisions 285-288; docs/operations.md "Governance from the command line").

A proposal is made and voted by validators (one key each, the node's identity); it is applied
by the vote that brings it to the quorum of the current validator set and expires after seven
days of block time (``contracts.governance``). ``propose`` has one typed form per action, so an
operator types ``--code EUR --exponent 2`` rather than the JSON of ``chainfin tx send``; the
ledger still checks everything (this layer imports nothing from contracts: the few constants it
repeats are named where they come from).

Exit codes, as the other command modules: 0 done (committed, or printed), 1 the ledger refused
or rejected it (the reason in words on stderr), 2 the command could not be used (nothing sent).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from chainfin.client import Client, ClientError, add_regulator_call_args, refusal
from chainfin.consensus.quorum import quorum
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

__all__ = ["FORMS", "TRADE_PARAMS", "add_parser", "describe", "run"]

#: ``contracts.governance.TRADE_PARAMS``: the boolean consortium parameters a vote sets
TRADE_PARAMS = ("financing_requires_attestation", "bill_of_lading_requires_containers")
#: every consortium parameter at ``governance/params`` (genesis ``GenesisParams.consortium``)
#: with its value when absent (``contracts.trade.state.DEFAULT_PARAMS``, ``risk.ALLOW``)
PARAM_DEFAULTS: dict[str, Any] = {"max_advance_rate_bps": 10_000, "document_tolerance_bps": 500,
                                  "financing_requires_attestation": False,
                                  "bill_of_lading_requires_containers": False,
                                  "watched_bank_customers": "allow"}
#: ``contracts.risk.RULE_KINDS`` and ``WATCHED_BANK_POLICIES``
RULE_KINDS = ("max_per_tx", "window_outflow", "velocity")
POLICIES = ("allow", "alert", "refuse")
_HEX_KEY = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[0-9a-f]{4,64}")


def _pubkey(text: str) -> str:
    """A public key: 64 hex digits, or an identity key file (its public key)."""
    t = text.strip().lower()
    if _HEX_KEY.fullmatch(t):
        return t
    if os.path.isfile(text):
        return load_identity(text).public_key.hex()
    raise argparse.ArgumentTypeError(f"{text!r}: a public key (64 hex digits) or a key file")


def _on_off(text: str) -> bool:
    t = text.strip().lower()
    if t in ("on", "true", "yes"):
        return True
    if t in ("off", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: on or off")


def _trade_params(a: argparse.Namespace) -> dict[str, Any]:
    out = {k: getattr(a, k) for k in TRADE_PARAMS if getattr(a, k) is not None}
    if not out:
        raise ChainfinError("name at least one parameter: --" + " | --".join(
            k.replace("_", "-") for k in TRADE_PARAMS))
    return out


def _network_limit(a: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": a.kind, "currency": a.currency, "max": a.max}
    for k in ("window_s", "rule_id"):
        if getattr(a, k) is not None:
            out[k] = getattr(a, k)
    if a.base:
        out["base"] = True
    return out


def _given(*names: str) -> Callable[[argparse.Namespace], dict[str, Any]]:
    return lambda a: {n: getattr(a, n) for n in names if getattr(a, n) is not None}


Form = tuple[str, str, Callable[[argparse.ArgumentParser], object],
             Callable[[argparse.Namespace], dict[str, Any]]]


def _key_arg(q: argparse.ArgumentParser, flag: str = "--pubkey", what: str = "identity") -> None:
    q.add_argument(flag, required=True, type=_pubkey,
                   help=f"the {what}'s public key (hex) or its key file")


def _add_validator(q: argparse.ArgumentParser) -> None:
    _key_arg(q, what="bank identity (the node's key)")
    q.add_argument("--name", required=True, help="the validator's name, e.g. the node id")
    q.add_argument("--address", default=None, help="its p2p host:port (peers dial it)")


def _set_role(q: argparse.ArgumentParser) -> None:
    _key_arg(q)
    q.add_argument("--role", required=True,
                   choices=("bank", "exporter", "importer", "auditor", "issuer", "customs"))


def _add_currency(q: argparse.ArgumentParser) -> None:
    q.add_argument("--code", required=True, help="ISO 4217 code, e.g. EUR")
    q.add_argument("--exponent", required=True, type=int, help="minor-unit digits (EUR: 2)")
    _key_arg(q, "--issuer", "issuer")


def _network_limit_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--kind", required=True, choices=RULE_KINDS)
    q.add_argument("--currency", required=True, help="ISO 4217 code ('*' for velocity)")
    q.add_argument("--max", required=True, type=int, help="integer minor units (a count for "
                                                          "velocity)")
    q.add_argument("--window-s", type=int, default=None, help="the window in seconds")
    q.add_argument("--rule-id", default=None)
    q.add_argument("--base", action="store_true", help="an amount in a base currency")


def _trade_params_args(q: argparse.ArgumentParser) -> None:
    for k in TRADE_PARAMS:
        q.add_argument("--" + k.replace("_", "-"), dest=k, type=_on_off, default=None,
                       metavar="on|off")


#: action -> (sub-command, help, its options, its params); the sub-command is the action's name
#: with dashes (``set_watched_bank_customers`` is also ``watched-bank-customers``)
FORMS: dict[str, Form] = {
    "add_validator": ("add-validator", "seat a bank's node as a validator",
                      _add_validator, _given("pubkey", "name", "address")),
    "remove_validator": ("remove-validator", "remove a validator",
                         _key_arg, _given("pubkey")),
    "set_role": ("set-role", "give an identity a role (customs, auditor: only by a vote)",
                 _set_role, _given("pubkey", "role")),
    "add_currency": ("add-currency", "add a currency and its issuer",
                     _add_currency, _given("code", "exponent", "issuer")),
    "add_regulator": ("add-regulator", "list an identity as a regulator",
                      _key_arg, _given("pubkey")),
    "remove_regulator": ("remove-regulator", "remove a regulator",
                         _key_arg, _given("pubkey")),
    "set_network_limit": ("set-network-limit", "a limit on every account of the network",
                          _network_limit_args, _network_limit),
    "remove_network_limit": ("remove-network-limit", "remove a network limit",
                             lambda q: q.add_argument("--rule-id", required=True),
                             _given("rule_id")),
    "set_seize_approvals": ("set-seize-approvals", "regulators who must sign a seizure (1-2)",
                            lambda q: q.add_argument("--count", required=True, type=int,
                                                     choices=(1, 2)),
                            _given("count")),
    "upgrade_ledger_format": ("upgrade-ledger-format", "move the chain to ledger format 2",
                              lambda q: None, lambda a: {"format": 2}),
    "set_watched_bank_customers": ("set-watched-bank-customers",
                                   "a payment of a customer of a watched bank: allow, alert or "
                                   "refuse",
                                   lambda q: q.add_argument("--policy", required=True,
                                                            choices=POLICIES),
                                   _given("policy")),
    "set_trade_params": ("set-trade-params",
                         "turn the consortium's trade-finance rules on or off",
                         _trade_params_args, _trade_params),
}
_ALIASES = {"set_watched_bank_customers": ["watched-bank-customers"],
            "set_trade_params": ["trade-params"]}
_BY_COMMAND = {f[0]: a for a, f in FORMS.items()} | {
    alias: a for a, names in _ALIASES.items() for alias in names}


# ---------------------------------------------------------------------------- words


def _short(key: Any) -> str:
    return str(key)[:16] + "…"


def _on(v: Any) -> str:
    return "on" if v is True else "off" if v is False else str(v)


def describe(action: str, p: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """What a proposal does, in one line for a person (``names``: key -> registered name)."""
    names = names or {}

    def who(k: str) -> str:
        key = p.get(k, "")
        return f"{names[key]} ({_short(key)})" if key in names else _short(key)

    if action == "add_validator":
        return (f"seat {p.get('name')} ({_short(p.get('pubkey'))}) as a validator"
                + (f" at {p['address']}" if p.get("address") else ""))
    if action == "remove_validator":
        return f"remove the validator {who('pubkey')}"
    if action == "set_role":
        return f"give {who('pubkey')} the role {p.get('role')}"
    if action == "add_currency":
        return (f"add the currency {p.get('code')} ({p.get('exponent')} decimals), "
                f"issued by {who('issuer')}")
    if action == "add_regulator":
        return f"list {who('pubkey')} as a regulator"
    if action == "remove_regulator":
        return f"remove the regulator {who('pubkey')}"
    if action == "set_network_limit":
        window = f" per {p['window_s']} s" if p.get("window_s") else ""
        unit = "payments" if p.get("kind") == "velocity" else "minor units"
        return (f"a network limit {p.get('kind')}: at most {p.get('max')} {unit} of "
                f"{p.get('currency')}{window}" + (" (base currency)" if p.get("base") else ""))
    if action == "remove_network_limit":
        return f"remove the network limit {p.get('rule_id')}"
    if action == "set_seize_approvals":
        return f"a seizure needs {p.get('count')} regulator(s)"
    if action == "upgrade_ledger_format":
        return "move the chain to ledger format 2 (from the block after the vote)"
    if action == "set_watched_bank_customers":
        return f"a payment of a customer of a watched bank: {p.get('policy')}"
    if action == "set_trade_params":
        return "set " + ", ".join(f"{k} {_on(v)}" for k, v in sorted(p.items()))
    return f"{action} {json.dumps(p, sort_keys=True)}"


def _when(ms: Any) -> str:
    return datetime.datetime.fromtimestamp(int(ms) / 1000, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M UTC")


async def _names(c: Client, keys: set[str]) -> dict[str, str]:
    out = {}
    for k in sorted(keys):
        rec = await c.state_value("governance", "id/" + k)
        if isinstance(rec, dict) and rec.get("name"):
            out[k] = str(rec["name"])
    return out


async def proposals_view(c: Client, now_ms: int) -> dict[str, Any]:
    """The open proposals (``governance/open_proposals``, decision 286), each with what it does,
    the votes of current validators so far and the votes needed, and its deadline."""
    vals = list(await c.state_value("governance", "validators") or [])
    need = quorum(len(vals))
    ids = await c.state_value("governance", "open_proposals")
    rows = []
    for pid in ids or []:
        prop = await c.state_value("governance", "proposal/" + pid)
        if not isinstance(prop, dict) or prop.get("status") != "open":
            continue
        rows.append((pid, prop))
    keys = set(vals) | {v for _, p in rows for v in p.get("votes", [])} | {
        str(v) for _, p in rows for k, v in p.get("params", {}).items()
        if k in ("pubkey", "issuer")}
    names = await _names(c, keys)
    out = []
    for pid, prop in rows:
        counted = sorted(set(prop.get("votes", [])) & set(vals))
        expires = prop.get("expires_ms")
        out.append({"proposal_id": pid, "action": prop["action"], "params": prop["params"],
                    "does": describe(prop["action"], prop["params"], names),
                    "proposer": prop.get("proposer"),
                    "votes": len(counted), "needed": need,
                    "voters": [names.get(v, _short(v)) for v in counted],
                    "waiting_for": [names.get(v, _short(v)) for v in sorted(vals)
                                    if v not in counted],
                    "height": prop.get("height"), "expires_ms": expires,
                    "expired": expires is None or now_ms > int(expires)})
    view: dict[str, Any] = {"validators": len(vals), "needed": need, "proposals": out}
    if ids is None:
        view["note"] = ("this chain keeps no list of open proposals yet (it comes with decision "
                        "286: proposals made before it are not listed)")
    return view


def _print_proposals(view: dict[str, Any]) -> None:
    if not view["proposals"]:
        print(f"no open proposals ({view['validators']} validators: a proposal needs "
              f"{view['needed']} votes)")
    for p in view["proposals"]:
        deadline = ("expired at " if p["expired"] else "open until ") + (
            _when(p["expires_ms"]) if p["expires_ms"] is not None else "(none recorded)")
        print(f"{p['proposal_id']}  {p['action']}")
        print(f"  does:   {p['does']}")
        print(f"  votes:  {p['votes']} of {p['needed']} needed ({', '.join(p['voters'])}); "
              f"not yet: {', '.join(p['waiting_for']) or 'none'}")
        print(f"  {deadline}" + (": a vote now closes it as expired" if p["expired"] else ""))
    if "note" in view:
        print("note: " + view["note"])


async def params_view(c: Client) -> dict[str, Any]:
    """The consortium parameters in force and where each came from: a vote (``params_voted``,
    decision 286), the genesis, or the default (absent from the state)."""
    stored = await c.state_value("governance", "params") or {}
    voted = await c.state_value("governance", "params_voted") or {}
    rows = []
    for k, default in PARAM_DEFAULTS.items():
        row: dict[str, Any] = {"param": k, "value": stored.get(k, default)}
        if k in voted:
            v = voted[k]
            row["source"] = "vote"
            row["from"] = (f"proposal {v['proposal_id']} applied at height {v['height']} "
                           f"({_when(v['time_ms'])})")
            row["proposal_id"] = v["proposal_id"]
        elif k == "watched_bank_customers" and k in stored:
            row["source"] = "genesis or vote"
            row["from"] = ("the genesis or a set_watched_bank_customers vote (the state does "
                           "not record which)")
        elif k in stored:
            row["source"], row["from"] = "genesis", "the genesis"
        else:
            row["source"] = "default"
            row["from"] = "not set: the contracts' default"
        rows.append(row)
    return {"params": rows}


# ---------------------------------------------------------------------------- run


def _refused_in_words(code: str, message: str, what: str) -> str:
    if code == "forbidden" and ("only validators" in message
                                or "may not call governance." in message):
        return (f"{what}: this key is not a validator's: only the validators propose and vote "
                "(a bank's node key, seated by an add_validator vote)")
    if code == "proposal_closed":
        return f"{what}: the proposal is closed ({message}): there is nothing to vote on"
    if code == "unknown_proposal":
        return f"{what}: no such proposal on this chain ({message})"
    if code == "already_voted":
        return f"{what}: this validator has already voted for it (a vote counts once)"
    if code == "unknown_param":
        return f"{what}: {message}"
    return f"{what}: refused, {code}: {message}"


async def _send(args: argparse.Namespace, method: str, tx_args: dict[str, Any]
                ) -> dict[str, Any]:
    ident = load_identity(args.key)
    async with Client(args.node, ca_file=args.ca, identity=ident, timeout=args.timeout) as c:
        try:
            return await c.call(ident, "governance", method, tx_args, wait=True)
        except ClientError as e:
            return refusal(e)


def _outcome(out: dict[str, Any], what: str) -> int:
    print(json.dumps(out))
    if out.get("status") == "committed":
        res = out.get("result") or {}
        if res.get("status") == "applied":
            print(f"{what}: applied ({res.get('votes')} of {res.get('needed')} votes)",
                  file=sys.stderr)
        elif res.get("status") == "open":
            print(f"{what}: proposal {res.get('proposal_id')} open, {res.get('votes')} of "
                  f"{res.get('needed')} votes", file=sys.stderr)
        elif res.get("status") == "failed":
            print(f"{what}: the quorum was reached but it no longer applies to the state "
                  "(proposal failed)", file=sys.stderr)
        elif res.get("status") == "expired":
            print(f"{what}: the proposal's seven days had passed: it is closed as expired, the "
                  "vote not counted", file=sys.stderr)
            return 1
        return 0
    err = out.get("error") or {}
    print("chainfin: error: " + _refused_in_words(str(err.get("code")),
                                                   str(err.get("message", "")), what),
          file=sys.stderr)
    return 1


async def _resolve_id(args: argparse.Namespace, text: str) -> str:
    """A proposal id, or a prefix of one open proposal's id (as ``proposals`` prints it)."""
    t = text.strip().lower()
    if not _ID.fullmatch(t):
        raise ChainfinError(f"{text!r}: a proposal id (hex), as `chainfin governance proposals` "
                            "prints it")
    if len(t) == 64:
        return t
    async with Client(args.node, ca_file=args.ca, identity=load_identity(args.key),
                      timeout=args.timeout) as c:
        ids = await c.state_value("governance", "open_proposals") or []
    hits = [i for i in ids if i.startswith(t)]
    if len(hits) != 1:
        raise ChainfinError(f"{text!r} is the start of {len(hits)} open proposals' ids: give "
                            "more of it" if hits else f"no open proposal's id starts {text!r}")
    return str(hits[0])


async def _read(args: argparse.Namespace, what: str) -> dict[str, Any]:
    ident = load_identity(args.key) if args.key else None
    async with Client(args.node, ca_file=args.ca, identity=ident, timeout=args.timeout) as c:
        if what == "params":
            return await params_view(c)
        return await proposals_view(c, int(time.time() * 1000))


def run(args: argparse.Namespace) -> int:
    """``chainfin governance <action>``: exit 0 done, 1 the ledger refused or rejected it, 2 the
    command could not be used (nothing sent)."""
    try:
        cmd = args.governance_command
        if cmd == "params":
            view = asyncio.run(_read(args, "params"))
            if args.json:
                print(json.dumps(view))
            else:
                for r in view["params"]:
                    print(f"{r['param']:36} {_on(r['value']):6} {r['from']}")
            return 0
        if cmd == "proposals":
            view = asyncio.run(_read(args, "proposals"))
            if args.json:
                print(json.dumps(view))
            else:
                _print_proposals(view)
            return 0
        if cmd == "vote":
            pid = asyncio.run(_resolve_id(args, args.proposal_id))
            if args.no:
                raise ChainfinError(
                    "the ledger has no vote against: a proposal passes only with a quorum of "
                    "votes for it, so a validator that opposes it does not vote, and it "
                    f"expires seven days after it was made (nothing sent for {pid[:16]}…)")
            if args.dry_run:
                print(json.dumps({"status": "dry_run", "method": "vote",
                                  "args": {"proposal_id": pid}}))
                return 0
            return _outcome(asyncio.run(_send(args, "vote", {"proposal_id": pid})),
                            f"vote on {pid[:16]}…")
        action = _BY_COMMAND[args.propose_action]
        tx_args: dict[str, Any] = {"action": action, "params": FORMS[action][3](args)}
        if args.dry_run:
            print(json.dumps({"status": "dry_run", "method": "propose", "args": tx_args,
                              "does": describe(action, tx_args["params"])}))
            return 0
        return _outcome(asyncio.run(_send(args, "propose", tx_args)), f"propose {action}")
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2


def _common(q: argparse.ArgumentParser, signs: bool = True) -> None:
    add_regulator_call_args(q, run, signs,
                            signer="the validator's identity key file (its node key)")
    if signs:
        q.add_argument("--dry-run", action="store_true",
                       help="print the transaction; send nothing")
    else:
        q.add_argument("--json", action="store_true", help="one JSON object")


def add_parser(sub: Any) -> None:
    """``chainfin governance ...`` (called by chainfin.cli)."""
    g = sub.add_parser("governance", help="the consortium's votes: open proposals, propose, "
                                          "vote, the parameters in force")
    gs = g.add_subparsers(dest="governance_command", metavar="ACTION", required=True)
    _common(gs.add_parser("proposals", help="open proposals: what each does, votes so far and "
                                            "needed, deadline"), signs=False)
    _common(gs.add_parser("params", help="the consortium parameters in force and where each "
                                         "came from (genesis, vote, default)"), signs=False)
    v = gs.add_parser("vote", help="vote for an open proposal (a validator's key)")
    v.add_argument("proposal_id", metavar="ID", help="its id, or the start of it")
    v.add_argument("--no", action="store_true",
                   help="(the ledger has no vote against: explains, sends nothing)")
    _common(v)
    pr = gs.add_parser("propose", help="propose an action (a validator's key; its own vote "
                                       "counts)")
    ps = pr.add_subparsers(dest="propose_action", metavar="ACTION", required=True)
    for action, (command, help_, options, _) in FORMS.items():
        q = ps.add_parser(command, help=help_, aliases=_ALIASES.get(action, []))
        options(q)
        _common(q)
