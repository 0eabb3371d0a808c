"""The ``chainfin lc mt700`` argument parser (light: the handlers in :mod:`chainfin.swift.cli`
are imported when a command runs)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """``chainfin lc mt700 submit | copy | export``, ``chainfin lc mt707 submit | accept |
    export``, ``chainfin lc mt734 submit | export`` and ``chainfin lc mt756 export`` (called by
    chainfin.cli)."""
    from chainfin.cli import _lc_mt700, _lc_mt707, _reader_key

    p = sub.add_parser("lc", help="letters of credit in SWIFT MT7xx messages")
    s = p.add_subparsers(dest="lc_command", metavar="MESSAGE", required=True)
    m = s.add_parser("mt700", help="MT700 Issue of a Documentary Credit: in and out")
    ms = m.add_subparsers(dest="mt700_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--node", required=True, help="REST URL of a node")
        q.add_argument("--ca", default=None,
                       help="CA certificate for an https node (default: $SSL_CERT_FILE, the "
                            "system's)")
        q.add_argument("--timeout", type=float, default=60.0,
                       help="seconds to wait for the transaction to be final")

    a = ms.add_parser("submit", help="the issuing bank's MT700 -> trade_documents.issue_lc; "
                                     "prints the lc_id or the refusal")
    a.add_argument("file", help="the MT700 (a FIN message, or only its fields)")
    a.add_argument("--key", required=True,
                   help="the issuing bank's identity key file (signs the issue and the reads)")
    a.add_argument("--applicant", default=None,
                   help="the applicant's public key (default: the genesis identity named in :50:)")
    a.add_argument("--beneficiary", default=None,
                   help="the beneficiary's public key (default: the genesis exporter named in "
                        ":59:)")
    a.add_argument("--trade-id", default=None, help="the trade the credit is for")
    a.add_argument("--unmapped-ok", action="store_true",
                   help="issue although :46A: requires documents the ledger does not hold "
                        "(they are listed, and not checked by the ledger)")
    common(a)
    a.set_defaults(func=_lc_mt700)

    c = ms.add_parser("copy", help="the beneficiary's MT700 (from its advising bank) -> its "
                                   "letter_of_credit document")
    c.add_argument("file", help="the MT700 as received (a FIN message, or only its fields)")
    c.add_argument("--key", required=True,
                   help="the exporter's (beneficiary's) identity key file")
    c.add_argument("--trade-id", default=None, help="the trade the copy joins")
    c.add_argument("--issuing-bank", default=None,
                   help="the issuing bank's BIC, for a file without the FIN header (default: "
                        "the message's sender, from blocks 1 and 2)")
    common(c)
    c.set_defaults(func=_lc_mt700)

    e = ms.add_parser("export", help="an on-ledger LC -> MT700 (read by its issuing bank)")
    e.add_argument("--lc", required=True, help="the lc_id (hex)")
    e.add_argument("--out", default=None, help="file to write (default: stdout)")
    e.add_argument("--expiry-place", default=None,
                   help="the place of expiry for :31D: (the ledger keeps none; default "
                        "'ON CHAINFIN UTC')")
    common(e)
    _reader_key(e)
    e.set_defaults(func=_lc_mt700)

    m7 = s.add_parser("mt707", help="MT707 Amendment to a Documentary Credit: in and out")
    m7s = m7.add_subparsers(dest="mt707_command", metavar="ACTION", required=True)
    a7 = m7s.add_parser("submit", help="the issuing bank's MT707 -> trade_documents.amend_lc "
                                       "(numbered by :26E:), or cancel_lc for :23S: CANCEL")
    a7.add_argument("file", help="the MT707 (a FIN message, or only its fields)")
    a7.add_argument("--lc", required=True, help="the lc_id (hex) of the credit it amends")
    a7.add_argument("--key", required=True, help="the issuing bank's identity key file")
    common(a7)
    a7.set_defaults(func=_lc_mt707)
    c7 = m7s.add_parser("accept", help="the beneficiary accepts the amendment in the MT707 it "
                                       "received (checked against the one pending on the "
                                       "ledger), or consents to a cancellation")
    c7.add_argument("file", help="the MT707 as received (a FIN message, or only its fields)")
    c7.add_argument("--lc", required=True, help="the lc_id (hex)")
    c7.add_argument("--key", required=True, help="the beneficiary's (exporter's) key file")
    common(c7)
    c7.set_defaults(func=_lc_mt707)
    e7 = m7s.add_parser("export", help="the amendment pending on an LC -> MT707 (read by its "
                                       "issuing bank)")
    e7.add_argument("--lc", required=True, help="the lc_id (hex)")
    e7.add_argument("--out", default=None, help="file to write (default: stdout)")
    e7.add_argument("--expiry-place", default=None,
                    help="the place of expiry for :31D: when the amendment changes the expiry "
                         "(default 'ON CHAINFIN UTC')")
    common(e7)
    _reader_key(e7)
    e7.set_defaults(func=_lc_mt707)

    from chainfin.swift.commands_presentation import add_parsers
    add_parsers(s, common, _reader_key)
