"""The ``chainfin lc mt734`` and ``chainfin lc mt756`` argument parsers (light: the handlers in
:mod:`chainfin.swift.cli_mt734` are imported when a command runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from chainfin.swift.mt734 import DISPOSALS, LEDGER_CODES


def _run_mt734(args: argparse.Namespace) -> int:
    from chainfin.swift.cli_mt734 import run_mt734

    return run_mt734(args)


def _run_mt756(args: argparse.Namespace) -> int:
    from chainfin.swift.cli_mt734 import run_mt756

    return run_mt756(args)


def add_parsers(s: Any, common: Callable[[argparse.ArgumentParser], None],
                reader_key: Callable[[argparse.ArgumentParser], None]) -> None:
    """``chainfin lc mt734 submit | export`` and ``chainfin lc mt756 export`` under the ``lc``
    subcommands ``s`` (``common``: --node, --ca, --timeout; ``reader_key``: --key for reads)."""
    m = s.add_parser("mt734", help="MT734 Advice of Refusal of a presentation: in and out")
    ms = m.add_subparsers(dest="mt734_command", metavar="ACTION", required=True)
    a = ms.add_parser("submit", help="the issuing bank's MT734 -> trade_documents."
                                     "refuse_presentation of the presentation :21: names")
    a.add_argument("--file", required=True, help="the MT734 (a FIN message, or only its fields)")
    a.add_argument("--key", required=True, help="the issuing bank's identity key file")
    a.add_argument("--presentation", default=None,
                   help="the presentation id (hex); default: the presentation of --lc whose "
                        "presenter's reference is :21: (else whose id starts with :21:)")
    a.add_argument("--lc", default=None, help="the lc_id (hex) whose presentation :21: names")
    a.add_argument("--code", action="append", choices=LEDGER_CODES, default=None,
                   help="a discrepancy code to refuse with besides those :77J: maps to "
                        "(repeatable); needed when :77J: has wording the table cannot map")
    common(a)
    a.set_defaults(func=_run_mt734)
    e = ms.add_parser("export", help="a refusal on the ledger -> MT734 (read by the issuing "
                                     "bank)")
    e.add_argument("--presentation", required=True, help="the presentation id (hex)")
    e.add_argument("--out", default=None, help="file to write (default: stdout)")
    e.add_argument("--disposal", default=None, choices=tuple(DISPOSALS),
                   help=":77B: for a refusal recorded without a disposal (default RETURN: its "
                        "documents were freed); a recorded disposal is written as recorded")
    e.add_argument("--utilisation-date", default=None, metavar="YYMMDD",
                   help=":32A:'s date for a presentation recorded without its date when this "
                        "key cannot read the presenting transaction (default: the record's "
                        "date, else the presenting block's UTC date)")
    common(e)
    reader_key(e)
    e.set_defaults(func=_run_mt734)

    m6 = s.add_parser("mt756", help="MT756 Advice of Reimbursement or Payment: out")
    m6s = m6.add_subparsers(dest="mt756_command", metavar="ACTION", required=True)
    e6 = m6s.add_parser("export", help="a paid presentation -> MT756 (read by the issuing bank)")
    e6.add_argument("--presentation", required=True, help="the presentation id (hex)")
    e6.add_argument("--payment-tx", default=None,
                    help="the transaction that paid it (accept_presentation or pay_deferred), "
                         "for a presentation paid before payments were recorded (a record "
                         "with `paid` has its date; given, it must be that transaction)")
    e6.add_argument("--out", default=None, help="file to write (default: stdout)")
    common(e6)
    reader_key(e6)
    e6.set_defaults(func=_run_mt756)
