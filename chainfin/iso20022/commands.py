"""The ``chainfin iso20022`` argument parser (light: handlers in :mod:`chainfin.iso20022.cli`
are imported when a command runs)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """``chainfin iso20022 ...`` (called by chainfin.cli)."""
    from chainfin.cli import _iso20022_submit, _lazy, _reader_key

    p = sub.add_parser("iso20022", help="ISO 20022: pacs.008/009 in; pacs.002, camt.053/054 out")
    s = p.add_subparsers(dest="iso_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, reads_key: bool = True) -> None:
        q.add_argument("--node", required=True, help="REST URL of a node")
        q.add_argument("--ca", default=None,
                       help="CA certificate for an https node (default: $SSL_CERT_FILE, the "
                            "system's)")
        if reads_key:
            _reader_key(q)

    a = s.add_parser("submit", help="pacs.008 / pacs.009 -> one settlement transfer per "
                                    "transaction; prints each outcome")
    a.add_argument("file", help="the pacs.008.001.08 or pacs.009.001.08 XML file")
    a.add_argument("--key", required=True,
                   help="the debtor's identity key file (signs the transfers and the reads)")
    a.add_argument("--accounts", default=None,
                   help="JSON {IBAN or account id: public key} for accounts without Prxy/Id")
    a.add_argument("--report", default=None, help="write the pacs.002 status report here")
    a.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for finality")
    common(a, reads_key=False)
    a.set_defaults(func=_iso20022_submit)

    b = s.add_parser("status", help="pacs.002 for transactions by id")
    b.add_argument("--tx", required=True, action="append", help="tx id (repeatable)")
    common(b)
    b.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_status"))

    c = s.add_parser("statement", help="camt.053 statement of an account from the ledger")
    c.add_argument("--account", required=True, help="public key (hex)")
    c.add_argument("--currency", required=True)
    c.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD (UTC)")
    c.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD (UTC), inclusive")
    c.add_argument("--out", default=None, help="file to write (default: stdout)")
    common(c)
    c.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_statement"))

    d = s.add_parser("notify", help="camt.054 per block that credits or debits an account")
    d.add_argument("--account", required=True, help="public key (hex)")
    d.add_argument("--currency", default=None, help="only this currency")
    d.add_argument("--from-height", type=int, default=None,
                   help="start at this block (default: the next one)")
    d.add_argument("--follow", action="store_true", help="keep going as blocks commit")
    d.add_argument("--max", type=int, default=None, help="stop after this many notifications")
    d.add_argument("--out-dir", default=None, help="one file per notification here")
    common(d)
    d.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_notify"))
