"""``chainfin alerts queue`` and ``chainfin alerts review``: the alert review of a compliance
officer or a supervisor (docs/risk.md "Reviewing alerts"; contract method
``risk.review_alert``).

``queue`` prints the open (unreviewed) alerts the key reviews, oldest first, with their age:
a bank's key its customers', a regulator's or an auditor's every one. ``review`` records a
disposition of one alert: the note file stays with the reviewer, the chain gets its SHA-256;
a filed report is named by the SHA-256 of its reference, never its content.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from chainfin.client import ClientError, SyncClient, reader_identity
from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError

#: ``risk_cases.DISPOSITIONS`` (the client does not import contracts)
DISPOSITIONS = ("escalated", "reported", "false_positive", "closed", "reopened")


def _age(ms: int) -> str:
    s = ms // 1000
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, _ = divmod(s, 60)
    return f"{d}d{h:02d}h" if d else f"{h}h{m:02d}m"


def format_case(a: dict[str, Any]) -> str:
    """``age 2h05m  height 12  structuring  accounts 1a2b3c4d…  alert 9f8e…-0  amount=950``."""
    accounts = ",".join(x[:8] + "…" for x in a.get("accounts", [])) or "-"
    detail = " ".join(f"{k}={v}" for k, v in sorted((a.get("detail") or {}).items()))
    return (f"age {_age(int(a.get('age_ms', 0)))}  height {a.get('height')}  {a.get('rule')}  "
            f"accounts {accounts}  alert {a.get('alert')}  {detail}").rstrip()


def cli_alerts_queue(args: argparse.Namespace) -> int:
    """``chainfin alerts queue --node URL --key FILE [--limit N] [--json]``."""
    identity = reader_identity(args)
    if identity is None:
        raise ChainfinError("the alert queue needs --key (a bank's, a regulator's or an "
                            "auditor's)")
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        try:
            doc = c.get("/v1/risk/alerts/queue", params={"limit": str(args.limit)})
        except ClientError as e:
            if e.status == 404:
                raise ChainfinError("this key reviews no alerts (a bank's, a regulator's or "
                                    "an auditor's does)") from e
            raise
    for a in doc["alerts"]:
        print(json.dumps(a, sort_keys=True) if args.json else format_case(a), flush=True)
    if "open" in doc:
        print(f"chainfin: {doc['open']} open alerts on the chain at height {doc['height']}",
              file=sys.stderr)
    return 0


def review_args(alert: str, disposition: str, note: bytes,
                report_ref: str | None) -> dict[str, Any]:
    """The arguments of ``risk.review_alert``: the note and the report's reference hashed."""
    if disposition not in DISPOSITIONS:
        raise ChainfinError(f"--disposition must be one of {', '.join(DISPOSITIONS)}")
    out: dict[str, Any] = {"alert": alert, "disposition": disposition,
                           "note_sha256": hashlib.sha256(note).hexdigest()}
    if report_ref is not None:
        out["report_sha256"] = hashlib.sha256(report_ref.encode()).hexdigest()
    return out


def cli_alerts_review(args: argparse.Namespace) -> int:
    """``chainfin alerts review --node URL --key FILE --alert REF --disposition D --note FILE
    [--report-ref TEXT]``: exit 1 when the ledger refuses the review."""
    if not args.identity:
        raise ChainfinError("a review is signed: --key (a bank's or a regulator's)")
    identity = load_identity(args.identity)
    call = review_args(args.alert, args.disposition, Path(args.note).read_bytes(),
                       args.report_ref)
    with SyncClient(args.node, identity=identity, ca_file=args.ca) as c:
        result = c.call(identity, "risk", "review_alert", call, wait=True)
    print(json.dumps(result, sort_keys=True))
    if result.get("status") != "committed":
        err = result.get("error") or {}
        print(f"chainfin: error: review not recorded: {err.get('code')}: {err.get('message')}",
              file=sys.stderr)
        return 1
    return 0
