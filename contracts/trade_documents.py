"""trade_documents: one trade, one financing pool — documents registered once by what names them,
grouped into trades, cross-checked, attested by customs, financed with money that moves, and
paid under letters of credit whose proceeds repay the financing banks first.

The contract lives in :mod:`contracts.trade` (``norm``: normalisation and fingerprints;
``state``: records, parameters and the rules; ``documents``, ``financing``,
``letters_of_credit``: the methods). This module is its public face: ``CONTRACT`` and the names
tests, tools and the CLI use. Rules, error codes, state layout and a worked example:
docs/contracts.md.
"""

from __future__ import annotations

from contracts.trade import documents, financing, guarantees, letters_of_credit
from contracts.trade.letters_of_credit import DISCREPANCY_CODES, available, pay_proceeds
from contracts.trade.norm import (
    CONTENT_FIELDS,
    DOC_TYPES,
    IDENTITY_FIELDS,
    KEY_FIELDS,
    PARTY_FIELD,
    content_fingerprint,
    fingerprint,
    norm_amount,
    norm_bic,
    norm_currency,
    norm_date,
    norm_name,
    norm_ref,
    norm_scac,
    normalise_fields,
    similar_key,
    token_fingerprint,
)
from contracts.trade.state import (
    CONTRACT,
    DEFAULT_PARAMS,
    ERROR_CODES,
    NAME,
    check_attestation,
    check_document_party,
    check_pool,
    cross_check,
    end_of_day_ms,
    financing_status,
    params,
    pool_of,
    within_tolerance,
)

__all__ = [
    "CONTRACT", "NAME", "ERROR_CODES", "DEFAULT_PARAMS", "DISCREPANCY_CODES", "DOC_TYPES",
    "KEY_FIELDS", "IDENTITY_FIELDS", "PARTY_FIELD", "CONTENT_FIELDS",
    "norm_name", "norm_ref", "norm_date", "norm_amount", "norm_scac", "norm_bic",
    "norm_currency", "normalise_fields", "fingerprint", "token_fingerprint",
    "content_fingerprint", "similar_key",
    "params", "pool_of", "check_pool", "check_attestation", "check_document_party",
    "cross_check", "within_tolerance", "end_of_day_ms", "financing_status", "available",
    "pay_proceeds", "documents", "financing", "letters_of_credit", "guarantees",
]
