"""The ``chainfin iso20022`` argument parser (light: handlers in :mod:`chainfin.iso20022.cli`
are imported when a command runs)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """``chainfin iso20022 ...`` (called by chainfin.cli)."""
    from chainfin.cli import _iso20022_submit, _lazy, _reader_key

    p = sub.add_parser("iso20022", help="ISO 20022: pain.001, pacs.008/009, camt.056, pacs.004 "
                                          "in; pain.002, pacs.002, camt.053/054, camt.029 out")
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
    a.add_argument("file", help="the pacs.008.001.08 or pacs.009.001.08 XML file (a pacs.009 "
                                "COV's UndrlygCstmrCdtTrf names the customer the bank pays for: "
                                "its R.16 data is checked)")
    a.add_argument("--key", required=True,
                   help="the debtor's identity key file (signs the transfers and the reads)")
    a.add_argument("--accounts", default=None,
                   help="JSON {IBAN or account id: public key} for accounts without Prxy/Id")
    a.add_argument("--report", default=None, help="write the pacs.002 status report here")
    a.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for finality")
    common(a, reads_key=False)
    a.set_defaults(func=_iso20022_submit)

    n = s.add_parser("pain001", help="a corporate's pain.001 payment file -> one settlement "
                                     "transfer per transaction; writes the pain.002")
    n.add_argument("file", help="the pain.001.001.09 XML file")
    n.add_argument("--key", required=True,
                   help="the debtor's identity key file (signs the transfers and the reads)")
    n.add_argument("--accounts", default=None,
                   help="JSON {IBAN or account id: public key} for accounts without Prxy/Id")
    n.add_argument("--out", default=None,
                   help="write the pain.002 here (then one JSON line per transaction on "
                        "stdout; default: the pain.002 on stdout)")
    n.add_argument("--dry-run", action="store_true",
                   help="check the file against the ledger and report (ACCP / RJCT) without "
                        "sending anything")
    n.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for finality")
    common(n, reads_key=False)
    n.set_defaults(func=_iso20022_submit)  # it hands down the contract's transfer parser

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

    def finding(q: argparse.ArgumentParser, who: str) -> None:
        q.add_argument("--key", required=True, help=f"the {who}'s identity key file (signs the "
                                                    "transactions and the reads)")
        q.add_argument("--payer", default=None,
                       help="the original payer's key, when the message names no "
                            "OrgnlTxRef/DbtrAcct" + (" (default: the transaction's with "
                                                      "--original-tx, else the signer; a bank "
                                                      "signing for its customer gives it)"
                                                      if who.startswith("payer") else ""))
        q.add_argument("--original-tx", default=None,
                       help="the original transfer's tx id (a message of one transaction), "
                            "instead of finding it by OrgnlUETR / OrgnlEndToEndId")
        q.add_argument("--accounts", default=None,
                       help="JSON {IBAN or account id: public key} for accounts without Prxy/Id")
        common(q, reads_key=False)

    e = s.add_parser("recall", help="camt.056 -> one settlement recall per transaction (the "
                                    "payer or its home bank asks for a payment back)")
    e.add_argument("file", help="the camt.056.001.12 (or .001.08) XML file")
    finding(e, "payer or its home bank")
    e.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_recall"))

    f = s.add_parser("return", help="pacs.004 -> one settlement return per transaction (the "
                                    "payee pays a payment back)")
    f.add_argument("file", help="the pacs.004.001.11 (or .001.09) XML file")
    finding(f, "payee")
    f.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_return"))

    g = s.add_parser("answer", help="camt.029 for a recall: reject it (--reject REASON), or "
                                    "report where it stands")
    g.add_argument("--recall", required=True, help="the recall's id (its tx id)")
    g.add_argument("--reject", default=None, metavar="REASON",
                   help="answer no with this camt.029 reason: ARDT, AC04, AM04, CUST, LEGL, "
                        "NOAS (signed by the payee or its home bank)")
    g.add_argument("--info", default=None, help="the rejection's free text (at most 105)")
    g.add_argument("--key", required=True, help="identity key file (signs the rejection and "
                                                "the reads)")
    g.add_argument("--out", default=None, help="write the camt.029 here (default: stdout)")
    common(g, reads_key=False)
    g.set_defaults(func=_lazy("chainfin.iso20022.cli:cli_answer"))
