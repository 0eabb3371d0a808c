"""``chainfin alerts queue`` and ``chainfin alerts review``: the alert review of a compliance
officer or a supervisor (docs/risk.md "Reviewing alerts"; contract method
``risk.review_alert``).

``queue`` prints the open (unreviewed) alerts the key reviews, oldest first, with their age:
a bank's key its customers', a regulator's or an auditor's every one; a page at a time (or
every page, ``--all``) and the counts open and reviewed. ``review`` records a
disposition of one alert: the note file stays with the reviewer, a filed report is named by
the SHA-256 of its reference, never its content; and the disposition with both hashes is
sealed (X25519 sealed box, padded to one size) to the regulators and the reviewer, the chain
holding in clear only that the case was reviewed and a commitment (decision 151). ``case``
prints a case and opens and checks the reviews sealed to the key. ``str`` writes the goAML
suspicious transaction report of alerts of the bank's customers (chainfin.goaml, decision 208):
the file stays with the bank, its SHA-256 is the report reference of a ``reported`` review.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chainfin import codec, crypto, goaml
from chainfin.client import ClientError, SyncClient, reader_identity
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.money import money

#: ``risk_cases.DISPOSITIONS`` (the client does not import contracts)
DISPOSITIONS = ("escalated", "reported", "false_positive", "closed", "reopened")


def _age(ms: int) -> str:
    s = ms // 1000
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, _ = divmod(s, 60)
    return f"{d}d{h:02d}h" if d else f"{h}h{m:02d}m"


def _value(detail: Mapping[str, Any], k: str, v: Any, exps: Mapping[str, int],
           paid: Mapping[str, str]) -> str:
    """A detail's value as the queue prints it: an amount of money also as its currency's
    decimals (``990000 (USD 9,900.00)``: the ledger's minor units, then what a person reads, as
    the ledger's messages and the explorer write it); a list of transactions
    (``near_limit_txs``) as their first 16 hex digits, each with what it paid when ``paid``
    has it (:func:`pattern_payments`): ``82d25ba5… (USD 9,500.00 to Thames Goods)``."""
    ccy = goaml.money_currency(detail, k)
    if ccy is not None and ccy in exps:
        return f"{v} ({money(int(v), ccy, exps[ccy])})"
    if isinstance(v, list) and any(paid.get(t) for t in v):  # ", ": an amount has commas
        return ", ".join(str(t)[:16] + "…" + (f" ({paid[t]})" if paid.get(t) else "")
                         for t in v)
    if isinstance(v, list):
        return ",".join(str(t)[:16] + "…" for t in v) or "-"
    return str(v)


def format_case(a: dict[str, Any], exps: Mapping[str, int] | None = None,
                paid: Mapping[str, str] | None = None) -> str:
    """``age 2h05m  height 12  structuring  accounts 1a2b3c4d… (ACME Exports Ltd)  alert
    9f8e…-0  amount=950 (USD 9.50)``: each account with the registered name the queue sends
    (``names``), the detail without its empty fields (a controlled-goods entry for every
    destination has no ``destination`` nor ``party``: not ``destination=None``), each amount
    also in the decimals of its currency when ``exps`` (currency -> ISO 4217 exponent) has it
    (:func:`exponents`), each payment of a structuring pattern with what it paid when
    ``paid`` (transaction id -> words) has it (:func:`pattern_payments`)."""
    names = a.get("names") or {}
    accounts = ",".join(x[:8] + "…" + (f" ({names[x]})" if names.get(x) else "")
                        for x in a.get("accounts", [])) or "-"
    raw = a.get("detail") or {}
    detail = " ".join(f"{k}={_value(raw, k, v, exps or {}, paid or {})}"
                      for k, v in sorted(raw.items()) if v is not None)
    return (f"age {_age(int(a.get('age_ms', 0)))}  height {a.get('height')}  {a.get('rule')}  "
            f"accounts {accounts}  alert {a.get('alert')}  {detail}").rstrip()


def exponents(c: SyncClient, alerts: list[dict[str, Any]], known: dict[str, int]
              ) -> dict[str, int]:
    """``known`` with the exponent of every currency an amount of ``alerts`` is in (network
    data, read once each: a currency the ledger does not name is left out, its amounts printed
    in minor units only)."""
    get = _reads(c)
    for a in alerts:
        detail = a.get("detail") or {}
        for k in detail:
            ccy = goaml.money_currency(detail, k)
            if ccy is not None and ccy not in known:
                try:
                    known[ccy] = goaml.exponent_of(get, ccy)
                except ChainfinError:
                    continue
    return known


def pattern_payments(get: goaml.Get, tx_ids: list[str], paid: dict[str, str],
                     exps: dict[str, int]) -> dict[str, str]:
    """``paid`` with what each of ``tx_ids`` (payments of structuring patterns, decision 217)
    paid, in words: ``USD 9,500.00 to Thames Goods`` (the amount in its currency's decimals, the
    payee by its registered name), read with the reader's own signed reads as the explorer's
    case page reads them (the payer's home bank and the supervisors read them whole); ``""``
    for one the key does not read as a transfer, which is then named by its id alone. Each
    transaction read once (``paid`` is the cache), each currency's exponent once (``exps``)."""
    names: dict[str, str] = {}
    for tx in tx_ids:
        if tx in paid:
            continue
        doc = get(f"/v1/tx/{tx}?tx=1")
        env = doc.get("tx") if isinstance(doc, dict) else None
        args = env.get("args") if isinstance(env, dict) else None
        paid[tx] = ""
        if not (isinstance(env, dict) and env.get("contract") == "settlement"
                and isinstance(args, dict) and isinstance(args.get("currency"), str)
                and isinstance(args.get("amount"), int) and isinstance(args.get("to"), str)):
            continue
        ccy, to = args["currency"], args["to"]
        if to not in names:
            names[to] = goaml.party_name(get, to)
        if ccy not in exps:
            try:
                exps[ccy] = goaml.exponent_of(get, ccy)
            except ChainfinError:  # a currency the ledger does not name: minor units only
                paid[tx] = f"{args['amount']} minor units of {ccy} to {names[to]}"
                continue
        paid[tx] = f"{money(args['amount'], ccy, exps[ccy])} to {names[to]}"
    return paid


def _pattern_of(a: Mapping[str, Any]) -> list[str]:
    """The earlier payments a structuring alert names (``near_limit_txs``), as ids."""
    named = (a.get("detail") or {}).get("near_limit_txs")
    return [str(t) for t in named if isinstance(t, str)] if isinstance(named, list) else []


def queue_summary(doc: dict[str, Any]) -> str:
    """The counts line of a queue answer: ``12 open alerts of this bank's customers (30
    reviewed) at height 90`` (a bank's), ``… on the chain …`` (a supervisor's). A node before
    decision 165 sends a bank no counts: the alerts shown are said instead."""
    whose = "on the chain" if doc.get("queue", "all" if "open" in doc else "bank") == "all" \
        else "of this bank's customers"
    counts = doc.get("counts") or ({"open": doc["open"]} if "open" in doc else None)
    if counts is None:
        return f"{len(doc['alerts'])} open alerts {whose} shown at height {doc['height']}"
    reviewed = f" ({counts['reviewed']} reviewed)" if "reviewed" in counts else ""
    noun = "alert" if counts["open"] == 1 else "alerts"
    return f"{counts['open']} open {noun} {whose}{reviewed} at height {doc['height']}"


def cli_alerts_queue(args: argparse.Namespace) -> int:
    """``chainfin alerts queue --node URL --key FILE [--limit N] [--after CURSOR] [--all]
    [--json]``: a page of ``--limit`` open alerts (after ``--after``, a previous page's
    cursor), or with ``--all`` every page, following the route's cursor; the counts (open,
    reviewed) and the cursor of the next page on stderr."""
    identity = reader_identity(args)
    if identity is None:
        raise ChainfinError("the alert queue needs --key (a bank's, a regulator's or an "
                            "auditor's)")
    every = bool(getattr(args, "all", False))
    after: Any = getattr(args, "after", None)  # (a supervisor's next is a number)
    first: dict[str, Any] | None = None
    exps: dict[str, int] = {}
    paid: dict[str, str] = {}  # a pattern's payment, read once however many alerts name it
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        get = _reads(c)
        while True:
            params = {"limit": str(args.limit)} | (
                {"after": str(after)} if after is not None else {})
            try:
                doc = c.get("/v1/risk/alerts/queue", params=params)
            except ClientError as e:
                if e.status == 404:
                    raise ChainfinError("this key reviews no alerts (a bank's, a regulator's "
                                        "or an auditor's does)") from e
                raise
            first = first or doc
            if not args.json:
                exponents(c, doc["alerts"], exps)
                pattern_payments(get, [t for a in doc["alerts"] for t in _pattern_of(a)], paid,
                                 exps)
            for a in doc["alerts"]:
                print(json.dumps(a, sort_keys=True) if args.json
                      else format_case(a, exps, paid), flush=True)
            after = doc.get("next")
            if not every or after is None or (
                    not doc["alerts"] and str(after) == params.get("after")):
                break
    assert first is not None
    print(f"chainfin: {queue_summary(first)}", file=sys.stderr)
    if after is not None:
        print(f"chainfin: more: --after {after} (or --all)", file=sys.stderr)
    return 0


#: ``risk_cases.SEALED_PLAIN_SIZE``: every sealed record is padded to it (same box sizes)
SEALED_PLAIN_SIZE = 512
_COMMIT_TAG = b"chainfin/alert-review/1\0"


class ReviewCheckError(ChainfinError):
    """A sealed review does not open with this key, or does not match its commitment."""


def review_record(alert: str, disposition: str, note: bytes, report_ref: str | None,
                  nonce: bytes | None = None) -> dict[str, Any]:
    """The record a review seals: the disposition, the note's SHA-256, the report reference's
    SHA-256 (``reported`` only, else None) and a random 32-byte nonce."""
    if disposition not in DISPOSITIONS:
        raise ChainfinError(f"--disposition must be one of {', '.join(DISPOSITIONS)}")
    if (disposition == "reported") != (report_ref is not None):
        raise ChainfinError("--report-ref goes with --disposition reported, and it needs one")
    return {"alert": alert, "disposition": disposition,
            "note_sha256": hashlib.sha256(note).hexdigest(),
            "report_sha256": (None if report_ref is None
                              else hashlib.sha256(report_ref.encode()).hexdigest()),
            "nonce": (nonce if nonce is not None else os.urandom(32)).hex()}


def commitment(record: dict[str, Any]) -> str:
    """``SHA-256(tag || canonical {alert, disposition, note_sha256, report_sha256, nonce})``."""
    fields = {k: record[k] for k in ("alert", "disposition", "note_sha256", "report_sha256",
                                     "nonce")}
    return hashlib.sha256(_COMMIT_TAG + codec.encode(fields)).hexdigest()


def pad(plain: bytes) -> bytes:
    """2-byte length, the bytes, zeros up to :data:`SEALED_PLAIN_SIZE`."""
    if len(plain) > SEALED_PLAIN_SIZE - 2:
        raise ChainfinError("the review record is too long to seal")
    return len(plain).to_bytes(2, "big") + plain + bytes(SEALED_PLAIN_SIZE - 2 - len(plain))


def unpad(padded: bytes) -> bytes:
    n = int.from_bytes(padded[:2], "big")
    if len(padded) != SEALED_PLAIN_SIZE or n > SEALED_PLAIN_SIZE - 2 or any(padded[2 + n:]):
        raise ReviewCheckError("the sealed record is not padded as a review's")
    return padded[2:2 + n]


def review_args(record: dict[str, Any], recipients: list[str]) -> dict[str, Any]:
    """The arguments of ``risk.review_alert``: the public state, the commitment and the record
    sealed (padded) to each of ``recipients`` (Ed25519 keys, hex; the X25519 sealed box
    ``credit_sharing`` uses)."""
    plain = pad(codec.encode(record))
    return {"alert": record["alert"],
            "state": "open" if record["disposition"] == "reopened" else "reviewed",
            "commitment": commitment(record),
            "sealed": {r: crypto.seal(crypto.box_public_from_ed25519(bytes.fromhex(r)),
                                      plain).hex() for r in sorted(set(recipients))}}


def open_review(identity: crypto.Identity, alert: str, review: dict[str, Any]
                ) -> dict[str, Any] | None:
    """The record of ``review`` sealed to ``identity``, checked: None when no box is sealed
    to its key.

    Raises:
        ReviewCheckError: the box does not open, or its record does not match the review's
            commitment, its alert or its public state (a dishonest reviewer, or tampering).
    """
    ct = (review.get("sealed") or {}).get(identity.public_key.hex())
    if ct is None:
        return None
    try:
        record = codec.decode(unpad(identity.unseal(bytes.fromhex(ct))))
        assert isinstance(record, dict)
    except ReviewCheckError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to open or decode is the same finding
        raise ReviewCheckError("the box sealed to this key does not open or decode") from e
    return check_record(alert, review, record)


def check_record(alert: str, review: dict[str, Any], record: Any) -> dict[str, Any]:
    """``record`` (an opened review record: ``alert``, ``disposition``, ``note_sha256``,
    ``report_sha256``, ``nonce``), checked against ``review`` of ``alert`` as the case shows
    it: its commitment, its alert and its public state. What a bank's own auditor runs on the
    record the bank discloses from its box (an auditor is not among the recipients: docs/risk.md
    "Who reads a disposition"): the commitment on chain makes the disclosure verifiable.

    Raises:
        ReviewCheckError: it does not match (a wrong or altered record)."""
    try:
        if not isinstance(record, dict):
            raise TypeError("not a record")
        got = commitment(record)
    except Exception as e:  # noqa: BLE001 - a record without the fields is the same finding
        raise ReviewCheckError("the record is not a review record") from e
    if not hmac.compare_digest(got, str(review.get("commitment", "")).lower()):
        raise ReviewCheckError("the sealed record does not match the review's commitment")
    if record["alert"] != alert:
        raise ReviewCheckError(f"the sealed record is of alert {record['alert']}")
    if record["disposition"] not in DISPOSITIONS or (
            (record["disposition"] == "reopened") != (review.get("state") == "open")):
        raise ReviewCheckError(f"the sealed disposition {record['disposition']} does not "
                               f"match the public state {review.get('state')}")
    return record


def _fetch_case(c: SyncClient, alert: str) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = c.get(f"/v1/risk/alerts/{alert}")
    except ClientError as e:
        if e.status == 404:
            raise ChainfinError(f"no alert {alert} this key reads") from e
        raise
    return doc


def cli_alerts_review(args: argparse.Namespace) -> int:
    """``chainfin alerts review --node URL --key FILE --alert REF --disposition D --note FILE
    [--report-ref TEXT]``: exit 1 when the ledger refuses the review. The disposition is
    sealed to the regulators and the reviewer (the case route's ``seal_to``)."""
    if not args.identity:
        raise ChainfinError("a review is signed: --key (a bank's or a regulator's)")
    identity = load_identity(args.identity)
    record = review_record(args.alert, args.disposition, Path(args.note).read_bytes(),
                           args.report_ref)
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        case = _fetch_case(c, args.alert)
        call = review_args(record, list(case.get("seal_to") or []))
        result = c.call(identity, "risk", "review_alert", call, wait=True)
    print(json.dumps(result, sort_keys=True))
    if result.get("status") != "committed":
        err = result.get("error") or {}
        print(f"chainfin: error: review not recorded: {err.get('code')}: {err.get('message')}",
              file=sys.stderr)
        return 1
    return 0


def cli_alerts_case(args: argparse.Namespace) -> int:
    """``chainfin alerts case --node URL --key FILE --alert REF [--json]``: the case and its
    reviews; each review sealed to this key opened and checked against its commitment. Exit
    1 when a box sealed to this key fails the check (tampered, or a dishonest reviewer)."""
    if not args.identity:
        raise ChainfinError("a case is read with --key (the home bank's, a supervisor's)")
    identity = load_identity(args.identity)
    paid: dict[str, str] = {}
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        case = _fetch_case(c, args.alert)
        exps = {} if args.json else exponents(c, [case], {})
        named = _pattern_of(case)
        if named and not args.json:  # each payment of the pattern with what it paid
            pattern_payments(_reads(c), [*named, str(case.get("tx_id"))], paid, exps)
    bad = 0
    out_reviews = []
    for i, rv in enumerate(case.get("reviews") or []):
        row: dict[str, Any] = {"review": i, "by": rv.get("by"), "state": rv.get("state"),
                               "height": rv.get("height"), "time_ms": rv.get("time_ms")}
        try:
            rec = open_review(identity, args.alert, rv)
        except ReviewCheckError as e:
            bad += 1
            row["check"] = f"FAILED: {e}"
        else:
            if rec is None:
                row["check"] = "sealed: not to this key"
            else:
                row["check"] = "ok: matches the commitment"
                row.update({k: rec[k] for k in ("disposition", "note_sha256",
                                                "report_sha256")})
                # the whole record, nonce included: what the bank discloses to its auditor,
                # who checks it with `chainfin verify --report FILE --record FILE`
                row["record"] = dict(rec)
        out_reviews.append(row)
    if args.json:
        doc = {k: v for k, v in case.items() if k not in ("reviews", "seal_to")}
        print(json.dumps(doc | {"reviews": out_reviews}, sort_keys=True))
    else:
        print(format_case(case | {"alert": args.alert}, exps)
              + f"  status {case.get('status')}")
        for tx in named:  # the earlier payments it counted, oldest first (decision 217)
            print(f"payment of the pattern  transaction {tx}"
                  + (f"  {paid[tx]}" if paid.get(tx) else ""))
        if named:
            own = str(case.get("tx_id"))
            print(f"payment of the pattern  transaction {own}"
                  + (f"  {paid[own]}" if paid.get(own) else "") + "  (raised the alert)")
        for row in out_reviews:
            extra = "".join(f"  {k} {row[k]}" for k in ("disposition", "note_sha256",
                                                        "report_sha256") if row.get(k))
            print(f"review {row['review']}  height {row['height']}  by "
                  f"{str(row['by'])[:16]}…  {row['state']}{extra}  {row['check']}")
    if bad:
        print(f"chainfin: error: {bad} sealed review(s) fail their check", file=sys.stderr)
        return 1
    return 0


def _reads(c: SyncClient) -> goaml.Get:
    """The bank's signed GETs, a 404 as None (the route's "you may not see this" too)."""
    def get(path: str) -> Any:
        route, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&")) if query else None
        try:
            return c.get(route, params=params)
        except ClientError as e:
            if e.status == 404:
                return None
            raise
    return get


def cli_alerts_str(args: argparse.Namespace) -> int:
    """``chainfin alerts str ALERT_ID... --node URL --key FILE --out FILE.xml [--config FILE]
    [--entity-id N] [--branch B] [--reporter 'FIRST LAST'] [--reporter-email E]
    [--currency-local CCY] [--reason TEXT] [--action TEXT] [--entity-reference REF]
    [--review --note FILE]``: the goAML STR of the alerts' transactions (chainfin.goaml),
    checked, written (mode 0600) and its SHA-256 printed: the report reference of a
    ``reported`` review; with ``--review`` that review is recorded here, of each alert (only
    the hash is sealed, never the XML). Nothing is written when a check fails."""
    if not args.identity:
        raise ChainfinError("an STR is read with the filing bank's key: --key")
    if args.review and not args.note:
        raise ChainfinError("--review records a review, which needs --note FILE")
    identity = load_identity(args.identity)
    alerts = list(dict.fromkeys(args.alerts))  # each alert once, in the order named
    person = None
    if args.reporter:
        first, _, last = args.reporter.strip().partition(" ")
        person = {"first_name": first, "last_name": last.strip()} | (
            {"email": args.reporter_email} if args.reporter_email else {})
    filer = goaml.load_filer(args.config, {
        "rentity_id": args.entity_id, "rentity_branch": args.branch,
        "reporting_person": person, "currency_code_local": args.currency_local})
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        get = _reads(c)
        _, me = goaml.reader_record(get, identity.public_key.hex())
        txs = goaml.gather(get, identity.public_key.hex(), alerts)
        exps = {t.currency: goaml.exponent_of(get, t.currency) for t in txs}
        now_ms = int(time.time() * 1000)
        local = filer.currency_code_local
        rates: dict[str, goaml.Rate] = {}
        if local and any(t.currency != local for t in txs):
            # several currencies: each converted at the ledger's reference rate against the
            # bank's local currency (decisions 252-255), refused naming one it has none of
            rates = goaml.reference_rates(get, local, [t.currency for t in txs], now_ms)
            if local not in exps:
                exps[local] = goaml.exponent_of(get, local)
        reason = args.reason or goaml.default_reason(get, alerts, exps)
        home = filer.country or goaml.country_of_bic(me.get("bank"))
        if home is None:
            raise ChainfinError("the bank's country is needed (its identity carries no BIC): "
                                "country in --config")
        submitted = goaml.submission_ms(args.submission_date, now_ms)
        xml = goaml.build_report(
            filer, txs, exps, reason=reason, action=args.action, submission_ms=submitted,
            entity_reference=args.entity_reference or alerts[0],
            home_country=home, rates=rates)
        problems = goaml.check_report(xml)
        if problems:
            raise ChainfinError("the report fails the goAML checks: " + "; ".join(problems))
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(xml)
        os.replace(tmp, out)
        ref = goaml.sha256_hex(xml)
        print(f"{ref}  {out}")
        for r in rates.values():
            print(f"chainfin: {r.currency} converted to {r.base} at the ledger's reference "
                  f"rate {r.currency} {r.per} = {r.base} {r.base_units} (minor units) as of "
                  f"{goaml.goaml_datetime(r.time_ms)} UTC, rounded half up", file=sys.stderr)
        if not args.review:
            print(f"chainfin: the report stays with the bank; record it with `chainfin alerts "
                  f"review --disposition reported --report-ref {ref}`", file=sys.stderr)
            return 0
        note = Path(args.note).read_bytes()
        print(f"chainfin: the review seals the hash of this reference, not the file's hash "
              f"itself: `alerts case` shows report_sha256 "
              f"{hashlib.sha256(ref.encode()).hexdigest()} (= `printf %s {ref} | sha256sum`); "
              f"an auditor given the file and `alerts case --json` checks it against the chain "
              f"with `chainfin verify --report FILE --record CASE.json` (docs/proofs.md)",
              file=sys.stderr)
        status = 0
        for alert in alerts:
            record = review_record(alert, "reported", note, ref)
            call = review_args(record, list(_fetch_case(c, alert).get("seal_to") or []))
            result = c.call(identity, "risk", "review_alert", call, wait=True)
            print(json.dumps(result, sort_keys=True))
            if result.get("status") != "committed":
                err = result.get("error") or {}
                print(f"chainfin: error: review of {alert} not recorded: {err.get('code')}: "
                      f"{err.get('message')}", file=sys.stderr)
                status = 1
    return status
