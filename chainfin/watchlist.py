"""``chainfin risk watch add | remove | check``: a regulator's watch list from the command line.

The list on the ledger holds keyed hashes only (``risk.add_watch``; decisions 51, 124, 132):
a name is watched by its exact forms (``name``, ``joined``: screening refuses on them) and its
sound forms (``sound``, ``consonants``, ``abjad``: screening raises a ``possible_watch_match``
alert), and its near forms (``near-token:…``, the index of its tokens, and ``near:…``, the forms
a name containing it may take: an alert too; decision 184). This client computes them with the consortium's fingerprint key (its file, which the
genesis commits to: decision 133), checks the key against the node's genesis before anything is
signed (entries hashed with another key would watch nothing, silently), and sends them in
transactions of at most :data:`ENTRIES_PER_TX`, showing progress.

The hashing rules are the contract layer's (``contracts.risk``), handed down as
:class:`WatchRules` by ``chainfin.cli`` (this layer imports nothing from contracts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chainfin.client import Client, ClientError, refusal
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError, ConfigError
from chainfin.genesis import Genesis, read_fingerprint_key
from chainfin.types import Transaction

__all__ = ["ENTRIES_PER_TX", "MAX_NAME_CHARS", "WatchRules", "Subject", "read_names",
           "subjects", "run"]

#: ``risk.add_watch`` / ``remove_watch`` take at most this many entries per transaction.
ENTRIES_PER_TX = 256
#: A party name on a document is at most this long (the contract refuses longer fields).
MAX_NAME_CHARS = 560
#: Names files larger than this are not read (a consolidated sanctions list is ~10^4 names).
MAX_FILE_BYTES = 16 * 1024 * 1024
_EXACT = ("name", "joined")


def _exact(kind: str) -> bool:
    """A kind screening refuses on: ``name``, ``joined`` and their bare forms (``bare:name``,
    ``bare:joined``: risk.exact_kind, decision 177); the others are sound forms."""
    return kind.rpartition(":")[2] in _EXACT


@dataclass(frozen=True, slots=True)
class WatchRules:
    """What the contract layer lends this client."""

    #: ``risk.watch_key``: the watch list's HMAC key from the fingerprint key
    watch_key: Callable[[bytes], bytes]
    #: ``risk.watch_digest(key, kind, value)``
    watch_digest: Callable[[bytes, str, str], str]
    #: ``risk.watch_forms(name)``: the kinds a watched name is stored under, and those
    #: screening looks a name up by (its exact and its sound forms)
    watch_forms: Callable[[str], tuple[tuple[str, ...], tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class Subject:
    """One thing to watch: a party name or an identity id (hex)."""

    kind: str  # "name" or "identity"
    value: str

    def label(self) -> str:
        return self.value if self.kind == "name" else f"identity {self.value}"


def read_names(path: str) -> list[str]:
    """A names file: UTF-8, one party name per line; blank lines and lines starting with ``#``
    skipped; surrounding spaces dropped.

    Raises:
        ChainfinError: too large, not UTF-8, or a name longer than :data:`MAX_NAME_CHARS` (each
            such line listed).
    """
    with open(path, "rb") as f:  # at most the limit: a pipe or a growing file has no size
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ChainfinError(f"{path} is over {MAX_FILE_BYTES:,} bytes, the most a names file "
                            "may be")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ChainfinError(f"{path} is not UTF-8 (byte {e.start})") from None
    names, bad = [], []
    for n, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if len(name) > MAX_NAME_CHARS:
            bad.append(f"line {n}: {len(name)} characters (at most {MAX_NAME_CHARS})")
        names.append(name)
    if bad:
        raise ChainfinError(f"{path}: " + "; ".join(bad))
    return names


def subjects(names: Iterable[str], identities: Iterable[str]) -> list[Subject]:
    """The subjects of a command, each once, names before identities.

    Raises:
        ChainfinError: an identity that is not 32 bytes of hex, or nothing at all.
    """
    out: list[Subject] = []
    seen: set[tuple[str, str]] = set()
    for kind, values in (("name", names), ("identity", identities)):
        for v in values:
            v = v.strip().lower() if kind == "identity" else v.strip()
            if kind == "identity":
                try:
                    ok = len(bytes.fromhex(v)) == 32
                except ValueError:
                    ok = False
                if not ok:
                    raise ChainfinError(f"--identity {v!r} is not a public key (64 hex digits)")
            if v and (kind, v) not in seen:
                seen.add((kind, v))
                out.append(Subject(kind, v))
    if not out:
        raise ChainfinError("nothing to do: give --name, --identity or --file")
    return out


def entries_of(s: Subject, key: bytes, rules: WatchRules, *, exact_only: bool = False
               ) -> list[str]:
    """The watch-list entries (digests) of a subject: an identity's one, a name's exact forms
    and (unless ``exact_only``) its sound forms, as ``risk.watch_entries`` stores them."""
    if s.kind == "identity":
        return [rules.watch_digest(key, "id", s.value)]
    stored, _ = rules.watch_forms(s.value)
    kinds = [k for k in stored if not exact_only or _exact(k)]
    return [rules.watch_digest(key, k, s.value) for k in kinds]


def _batches(entries: Sequence[str]) -> list[list[str]]:
    return [list(entries[i:i + ENTRIES_PER_TX]) for i in range(0, len(entries), ENTRIES_PER_TX)]


def _fingerprint_key(g: Genesis, key_file: str | None) -> bytes:
    """The fingerprint key to hash with: the file's, checked against the node's genesis; an
    older-form genesis's own key when no file is given.

    Raises:
        ConfigError: no key, or not the genesis's.
    """
    if key_file:
        return read_fingerprint_key(key_file, g)
    if g.fingerprint_key is not None:
        return bytes.fromhex(g.fingerprint_key)
    raise ConfigError("--fingerprint-key FILE (or $CHAINFIN_FINGERPRINT_KEY): the consortium's "
                      "fingerprint key, which the node's genesis commits to")


def _progress(done: int, total: int, what: str) -> None:
    print(f"chainfin: [{done}/{total}] {what}", file=sys.stderr, flush=True)


async def _send(c: Client, ident: Any, chain_id: str, method: str, batches: list[list[str]],
                extra: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Each batch as one ``risk.<method>`` transaction, waited for, in order; stops at the
    first that is refused or rejected. Returns the outcomes and the count done."""
    me = ident.public_key.hex()
    nonce = await c.next_nonce(me)
    outcomes: list[dict[str, Any]] = []
    total = 0
    for i, batch in enumerate(batches, 1):
        tx = Transaction.create(ident, chain_id, nonce, "risk", method,
                                {"entries": batch, **extra})
        try:
            out = await c.submit(tx, wait=True)
        except ClientError as e:
            out = refusal(e, tx.tx_id.hex())
        outcomes.append(out)
        if out.get("status") != "committed":
            break
        nonce += 1
        n = int((out.get("result") or {}).get("added" if method == "add_watch" else "removed", 0))
        total += n
        _progress(i, len(batches), f"{len(batch)} entries, {n} "
                  f"{'new' if method == 'add_watch' else 'removed'}, height {out.get('height')}")
    return outcomes, total


async def change(node: str, key: str, method: str, items: list[Subject], rules: WatchRules, *,
                 fingerprint_key: str | None, reason: str | None = None,
                 exact_only: bool = False, dry_run: bool = False, ca: str | None = None,
                 timeout: float = 60.0) -> tuple[dict[str, Any], int]:
    """``add_watch`` or ``remove_watch`` the subjects' entries, signed with ``key`` (a
    regulator's); the summary to print and the exit code (0 all committed, 1 a transaction
    refused or rejected: the summary says which and how far it got)."""
    ident = load_identity(key)
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g = Genesis.model_validate(await c.get("/v1/genesis"))
        fk = _fingerprint_key(g, fingerprint_key)
        wk = rules.watch_key(fk)
        entries = sorted({e for s in items for e in entries_of(s, wk, rules,
                                                               exact_only=exact_only)})
        batches = _batches(entries)
        summary: dict[str, Any] = {"subjects": len(items), "entries": len(entries),
                                   "transactions": len(batches)}
        if dry_run:
            return {**summary, "status": "dry_run", "digests": entries}, 0
        if ident.public_key.hex() not in g.regulators:
            # a regulator voted in later is in governance, not the genesis: the ledger decides
            print("chainfin: note: the key is no genesis regulator; the ledger refuses it unless "
                  "governance made it one", file=sys.stderr)
        extra = {"reason": reason} if method == "remove_watch" else {}
        outcomes, done = await _send(c, ident, g.chain_id, method, batches, extra)
    last = outcomes[-1] if outcomes else {}
    ok = all(o.get("status") == "committed" for o in outcomes) and len(outcomes) == len(batches)
    summary.update({"status": "committed" if ok else last.get("status"),
                    "added" if method == "add_watch" else "removed": done,
                    "tx_ids": [o.get("tx_id") for o in outcomes]})
    if not ok:
        err = last.get("error") or {}
        summary.update({"error": err.get("code"), "reason": err.get("message"),
                        "committed_transactions": len(outcomes) - 1})
    return summary, 0 if ok else 1


async def _check_supervisor(c: Client, pk: str, key_file: str | None) -> None:
    """Refuse a reader that may not read the watch list: the node answers its reads of
    ``risk/watch/…`` 404 like a missing entry (node/access.py: regulators and auditors only), so
    ``check`` would say ``clear`` of a watched name. Governance records are network data.

    Raises:
        ConfigError: the key is neither a regulator's nor an auditor's.
    """
    found = await c.identity_record(pk)  # a rotated key maps to its identity
    ident_id, rec = found if found is not None else (pk, None)
    regulators = await c.state_value("governance", "regulators") or []
    role = rec.get("role") if rec is not None else None
    if ident_id in regulators or role == "auditor":
        return
    raise ConfigError(f"{key_file}: only a regulator's or an auditor's key reads the watch list "
                      f"(this key is {'role ' + repr(role) if role else 'no identity'}): the node "
                      "answers any other key as if nothing were watched, so check would say "
                      "'clear'")


async def check(node: str, key: str | None, items: list[Subject], rules: WatchRules, *,
                fingerprint_key: str | None, ca: str | None = None, timeout: float = 60.0
                ) -> list[dict[str, Any]]:
    """How screening would treat each subject now: ``refused`` (an exact entry: a document or
    payment naming it is refused), ``possible_match`` (a sound entry, or a near form: the name
    contains a watched one, decision 184; an alert for the supervisors) or ``clear``, with the
    forms found. Reads ``risk`` state (supervisors)."""
    ident = load_identity(key) if key else None
    out = []
    async with Client(node, ca_file=ca, identity=ident, timeout=timeout) as c:
        g = Genesis.model_validate(await c.get("/v1/genesis"))
        wk = rules.watch_key(_fingerprint_key(g, fingerprint_key))
        if ident is not None:
            await _check_supervisor(c, ident.public_key.hex(), key)
        for s in items:
            exact: tuple[str, ...]
            fuzzy: tuple[str, ...]
            if s.kind == "identity":
                exact, fuzzy = ("id",), ()
            else:
                _, looked = rules.watch_forms(s.value)
                exact = tuple(k for k in looked if _exact(k))
                fuzzy = tuple(k for k in looked if not _exact(k))
            found = []
            for kind in (*exact, *fuzzy):
                if await c.state_value("risk", "watch/" + rules.watch_digest(
                        wk, kind, s.value)) is not None:
                    found.append(kind)
            verdict = ("refused" if set(found) & set(exact) else
                       "possible_match" if found else "clear")
            out.append({s.kind: s.value, "screening": verdict, "forms": found})
    return out


def run(args: argparse.Namespace, rules: WatchRules) -> int:
    """``chainfin risk watch <action>``: exit 0 done (``check``: every subject clear), 1 a
    transaction refused or rejected (``check``: some subject watched), 2 the command could not
    be used (nothing was sent)."""
    try:
        names = list(args.name or [])
        if getattr(args, "file", None):
            names += read_names(args.file)
        items = subjects(names, args.identity_id or [])
        fk = args.fingerprint_key or os.environ.get("CHAINFIN_FINGERPRINT_KEY") or None
        if args.watch_command == "check":
            res = asyncio.run(check(args.node, args.key, items, rules, fingerprint_key=fk,
                                    ca=args.ca, timeout=args.timeout))
            for r in res:
                print(json.dumps(r, ensure_ascii=False))
            return 0 if all(r["screening"] == "clear" for r in res) else 1
        method = "add_watch" if args.watch_command == "add" else "remove_watch"
        summary, rc = asyncio.run(change(
            args.node, args.key, method, items, rules, fingerprint_key=fk,
            reason=getattr(args, "reason", None),
            exact_only=args.watch_command == "remove" and not args.all_forms,
            dry_run=args.dry_run, ca=args.ca, timeout=args.timeout))
    except (ChainfinError, OSError, ValueError) as e:
        print(f"chainfin: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return rc


def add_parser(sub: Any) -> None:
    """``chainfin risk watch add | remove | check`` (called by chainfin.cli)."""
    from chainfin.cli import _risk_watch

    p = sub.add_parser("risk", help="risk controls: the regulator's watch list")
    s = p.add_subparsers(dest="risk_command", metavar="WHAT", required=True)
    w = s.add_parser("watch", help="watch-list entries: add, remove, check (regulators)")
    ws = w.add_subparsers(dest="watch_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, signs: bool = True) -> None:
        q.add_argument("--name", action="append", help="a party name (repeatable)")
        q.add_argument("--identity", dest="identity_id", action="append",
                       help="an identity's public key, hex (repeatable)")
        q.add_argument("--node", required=True, help="REST URL of a node")
        q.add_argument("--key", required=signs, default=os.environ.get("CHAINFIN_KEY"),
                       help="the regulator's identity key file (signs the transactions and "
                            "reads)" if signs else "identity key file that signs the reads "
                            "(a regulator's or an auditor's; default: $CHAINFIN_KEY)")
        q.add_argument("--fingerprint-key", default=None,
                       help="the consortium's fingerprint key file (default: "
                            "$CHAINFIN_FINGERPRINT_KEY); checked against the node's genesis")
        q.add_argument("--ca", default=None, help="CA certificate for an https node")
        q.add_argument("--timeout", type=float, default=60.0,
                       help="seconds to wait for each transaction to be final" if signs else
                            "seconds to wait for the node's answers")
        q.set_defaults(func=_risk_watch)

    a = ws.add_parser("add", help="watch names (exact and sound forms) and identities")
    a.add_argument("--file", default=None,
                   help="a names file: UTF-8, one name per line, '#' comments")
    a.add_argument("--dry-run", action="store_true",
                   help="print the entries and the transaction count; send nothing")
    common(a)
    r = ws.add_parser("remove", help="stop watching names and identities (reason recorded)")
    r.add_argument("--file", default=None, help="a names file, as for add")
    r.add_argument("--reason", required=True, help="why (recorded on the ledger with each "
                                                   "removal; at most 256 characters)")
    r.add_argument("--all-forms", action="store_true",
                   help="remove the names' sound and near forms too (by default only the "
                        "exact forms: a sound form or a near token may be shared with another "
                        "watched name, and removing it would silence that name's possible "
                        "matches)")
    r.add_argument("--dry-run", action="store_true", help="print the entries; send nothing")
    common(r)
    ch = ws.add_parser("check", help="how screening treats a name or identity now: refused, "
                                     "possible_match or clear")
    ch.add_argument("--file", default=None, help="a names file, as for add")
    common(ch, signs=False)
