"""SWIFT MT7xx for letters of credit: MT700 (Issue of a Documentary Credit) in and out.

:mod:`chainfin.swift.mt700` reads and writes the message (pure); :mod:`chainfin.swift.cli`
runs ``chainfin lc mt700 submit | copy | export`` against a node; :mod:`chainfin.swift.commands`
is their argument parser. docs/swift.md has the field mapping.
"""

from __future__ import annotations

from chainfin.swift.mt700 import (
    DOCUMENTS,
    FIELDS,
    MANDATORY,
    PLACEHOLDER_BIC,
    Header,
    LcTerms,
    Mt700,
    Mt700Error,
    amount_to_minor,
    ledger_terms,
    minor_to_amount,
    name_candidates,
    parse,
    render,
)

__all__ = ["DOCUMENTS", "FIELDS", "MANDATORY", "PLACEHOLDER_BIC", "Header", "LcTerms", "Mt700",
           "Mt700Error", "amount_to_minor", "ledger_terms", "minor_to_amount", "name_candidates",
           "parse", "render"]
