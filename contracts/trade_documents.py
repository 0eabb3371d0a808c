"""trade_documents: register trade documents once, finance them without double financing, and
letters of credit that pay through settlement.

Privacy: the document never goes on chain. The state keeps its content hash, a keyed fingerprint
of its normalised key fields (HMAC-SHA256 with the consortium key from genesis, which is not in
the state, so a low-entropy invoice number cannot be brute-forced from state or proofs), and only
the fields the rules need (amount and currency). The ``register`` transaction's arguments do carry
the key fields (the chain must normalise them to detect duplicates), so block bodies are
consortium-confidential; see docs/contracts.md.

State (contract ``trade_documents``):

- ``doc/<doc_id>`` -> ``{"doc_type", "owner", "content_hash", "fingerprint", "amount",
  "currency", "status", "financed", "financing": {bank: outstanding}, "verified_by": [...],
  "lc_id", "height"}``; status ``registered`` -> ``financed`` -> ``repaid`` / ``closed``.
- ``fp/<fingerprint>`` -> doc_id, ``content/<content_hash>`` -> doc_id (duplicate detection).
- ``lc/<lc_id>`` -> the letter of credit; ``lcfp/<fingerprint>`` -> lc_id.

Financing: ``financed`` is the cumulative amount financed by all banks and never exceeds the
document's amount; repayments do not free capacity (a repaid receivable is gone).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from chainfin import codec
from chainfin.errors import ContractError
from chainfin.execution import (
    MAX_AMOUNT,
    Contract,
    ContractState,
    TxContext,
    p_amount,
    p_currency,
    p_dict,
    p_hex,
    p_id,
    p_list,
    p_pubkey,
    p_text,
    p_time_ms,
)
from contracts import governance as gov
from contracts import settlement

NAME = "trade_documents"
CONTRACT = Contract(NAME, __doc__ or "")

ERROR_CODES = (
    "missing_field",
    "bad_field",
    "unknown_field",
    "unknown_currency",
    "unknown_identity",
    "not_configured",
    "duplicate_document",
    "unknown_document",
    "already_verified",
    "document_closed",
    "not_financeable",
    "currency_mismatch",
    "already_financed",
    "over_financed",
    "over_repaid",
    "outstanding_financing",
    "forbidden",
    "duplicate_lc",
    "unknown_lc",
    "lc_expired",
    "lc_not_open",
    "lc_not_presented",
    "document_mismatch",
    "document_in_use",
    "amount_exceeds_lc",
    "missing_documents",
    "insufficient_funds",
)

# ---------------------------------------------------------------------------- normalisation

_WS = re.compile(r"\s+")
_REF_SEP = re.compile(r"[\s\-/._]+")
_SCAC = re.compile(r"^[A-Z]{2,4}$")
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_DATE = re.compile(r"^(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")


def _text(v: Any, name: str) -> str:
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be a string", "bad_field")
    s = unicodedata.normalize("NFKC", v)
    s = _WS.sub(" ", s).strip()
    if not s or len(s) > 140:
        raise ContractError(f"fields.{name} must be 1..140 characters", "bad_field")
    return s


def norm_name(v: Any, name: str) -> str:
    """A party, vessel or port name: NFKC, case-folded, '.' and ',' dropped, spaces collapsed."""
    s = _text(v, name).casefold().replace(".", " ").replace(",", " ")
    return " ".join(s.split())


def norm_ref(v: Any, name: str) -> str:
    """A document number: NFKC, case-folded, spaces and - / . _ separators removed."""
    s = _REF_SEP.sub("", _text(v, name).casefold())
    if not s:
        raise ContractError(f"fields.{name} has no characters besides separators", "bad_field")
    return s


def norm_date(v: Any, name: str) -> str:
    """An ISO 8601 calendar date (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, with an optional time that
    is dropped) -> ``YYYY-MM-DD``. Day-first or month-first forms are refused as ambiguous."""
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be an ISO 8601 date string", "bad_field")
    m = _DATE.match(v.strip())
    if not m:
        raise ContractError(f"fields.{name} must be an ISO 8601 date (YYYY-MM-DD)", "bad_field")
    try:
        d = datetime.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ContractError(f"fields.{name} is not a calendar date", "bad_field") from None
    return d.isoformat()


def norm_amount(v: Any, name: str, exponent: int) -> int:
    """Integer minor units. An int is already minor units; a string is a decimal in major units
    with optional ',' thousands separators: '1,234.50' USD -> 123450. Fractions beyond the
    currency's exponent must be zeros."""
    if type(v) is int:
        return p_amount(v, f"fields.{name}")
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be integer minor units or a decimal string",
                            "bad_field")
    s = v.strip().replace(" ", "").replace("_", "")
    m = _AMOUNT.match(s)
    if not m:
        raise ContractError(f"fields.{name}: {v!r} is not a decimal amount like '1,234.50'",
                            "bad_field")
    whole, frac = m[1].replace(",", ""), m[2] or ""
    if len(frac) > exponent:
        if frac[exponent:].strip("0"):
            raise ContractError(
                f"fields.{name} has more than {exponent} decimals for its currency", "bad_field")
        frac = frac[:exponent]
    if len(whole) > 19:
        raise ContractError(f"fields.{name} is too large", "bad_field")
    minor = int(whole) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    return p_amount(minor, f"fields.{name}")


def norm_scac(v: Any, name: str) -> str:
    s = _text(v, name).upper().replace(" ", "")
    if not _SCAC.match(s):
        raise ContractError(f"fields.{name} must be a SCAC code (2-4 letters)", "bad_field")
    return s


def norm_bic(v: Any, name: str) -> str:
    """A BIC, upper-case, spaces removed; an 8-character BIC is its primary office 'XXX'."""
    s = _text(v, name).upper().replace(" ", "")
    if not _BIC.match(s):
        raise ContractError(f"fields.{name} must be a BIC (8 or 11 characters)", "bad_field")
    return s if len(s) == 11 else s + "XXX"


def norm_currency(v: Any, name: str) -> str:
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be an ISO 4217 code", "bad_field")
    return p_currency(v.strip().upper(), f"fields.{name}")


_AMOUNT_FIELD = "amount"  # normalised with the exponent of the document's currency

#: DESIGN.md's key-field table: doc_type -> {field: normaliser}
KEY_FIELDS: dict[str, dict[str, Callable[[Any, str], Any] | None]] = {
    "invoice": {"seller": norm_name, "buyer": norm_name, "number": norm_ref,
                "issue_date": norm_date, "amount": None, "currency": norm_currency},
    "bill_of_lading": {"carrier": norm_scac, "bl_number": norm_ref, "vessel": norm_name,
                       "port_of_loading": norm_name, "port_of_discharge": norm_name},
    "letter_of_credit": {"issuing_bank": norm_bic, "lc_number": norm_ref, "applicant": norm_name,
                         "beneficiary": norm_name, "amount": None, "currency": norm_currency,
                         "expiry_date": norm_date},
    "packing_list": {"exporter": norm_name, "number": norm_ref, "issue_date": norm_date},
    "certificate_of_origin": {"exporter": norm_name, "number": norm_ref,
                              "issue_date": norm_date},
    "customs_declaration": {"declaration_number": norm_ref, "exporter": norm_name,
                            "amount": None, "currency": norm_currency},
}
DOC_TYPES = tuple(sorted(KEY_FIELDS))


def normalise_fields(doc_type: str, fields: Mapping[str, Any],
                     exponent_of: Callable[[str], int]) -> dict[str, Any]:
    """Validate and normalise a document's key fields (pure; ``exponent_of(code)`` gives a
    currency's ISO 4217 exponent or raises ContractError ``unknown_currency``).

    Raises:
        ContractError: bad_field (unknown doc_type or a malformed field), missing_field,
            unknown_field, unknown_currency.
    """
    spec = KEY_FIELDS.get(doc_type)
    if spec is None:
        raise ContractError(f"doc_type must be one of {', '.join(DOC_TYPES)}", "bad_field")
    for k in sorted(spec):
        if fields.get(k) is None:
            raise ContractError(f"{doc_type} needs the key field {k!r}", "missing_field")
    extra = sorted(set(fields) - set(spec))
    if extra:
        raise ContractError(
            f"{extra[0]!r} is not a key field of {doc_type} (only key fields go on chain)",
            "unknown_field")
    out: dict[str, Any] = {}
    for k in sorted(spec):
        norm = spec[k]
        if norm is not None:
            out[k] = norm(fields[k], k)
    if "amount" in spec:
        out["amount"] = norm_amount(fields["amount"], "amount", exponent_of(out["currency"]))
    return out


def fingerprint(key: bytes, doc_type: str, normalised: Mapping[str, Any]) -> str:
    """HMAC-SHA256(key, canonical encoding of [doc_type, normalised key fields]), hex."""
    return hmac.new(key, codec.encode([doc_type, dict(normalised)]), hashlib.sha256).hexdigest()


def _key(ctx: TxContext) -> bytes:
    if len(ctx.fingerprint_key) < 16:
        raise ContractError("the network has no fingerprint key configured", "not_configured")
    return ctx.fingerprint_key


def _exponent_of(state: ContractState) -> Callable[[str], int]:
    def get(code: str) -> int:
        return int(gov.require_currency(state, code)["exponent"])

    return get


# ---------------------------------------------------------------------------- documents


def _doc(state: ContractState, doc_id: str) -> dict[str, Any]:
    d = state.get(NAME, "doc/" + doc_id)
    if d is None:
        raise ContractError(f"no document {doc_id}", "unknown_document")
    return d  # type: ignore[no-any-return]


def _open_doc(state: ContractState, doc_id: str) -> dict[str, Any]:
    d = _doc(state, doc_id)
    if d["status"] in ("repaid", "closed"):
        raise ContractError(f"document is {d['status']}", "document_closed")
    return d


@CONTRACT.method(roles=("exporter",),
                 params={"doc_type": p_text(32), "fields": p_dict, "content_hash": p_hex(32)})
def register(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Register a document by its content hash and key fields; a second document with the same
    fingerprint (or the same content hash) is a ``duplicate_document``."""
    doc_type, ch = args["doc_type"], args["content_hash"]
    norm = normalise_fields(doc_type, args["fields"], _exponent_of(state))
    fp = fingerprint(_key(ctx), doc_type, norm)
    dup = state.get(NAME, "fp/" + fp) or state.get(NAME, "content/" + ch)
    if dup is not None:
        raise ContractError(f"the same document is already registered as {dup}",
                            "duplicate_document")
    doc_id = ctx.derive_id()
    state.put(NAME, "doc/" + doc_id, {
        "doc_type": doc_type, "owner": ctx.sender_hex, "content_hash": ch, "fingerprint": fp,
        "amount": norm.get("amount"), "currency": norm.get("currency"), "status": "registered",
        "financed": 0, "financing": {}, "verified_by": [], "lc_id": None, "height": ctx.height,
    })
    state.put(NAME, "fp/" + fp, doc_id)
    state.put(NAME, "content/" + ch, doc_id)
    ctx.emit("registered", {"doc_id": doc_id, "doc_type": doc_type, "owner": ctx.sender_hex,
                            "fingerprint": fp})
    return {"doc_id": doc_id, "fingerprint": fp}


@CONTRACT.method(roles=("bank",), params={"doc_id": p_id})
def verify(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A bank attests that it checked the document against its content hash."""
    doc_id = args["doc_id"]
    d = _open_doc(state, doc_id)
    if ctx.sender_hex in d["verified_by"]:
        raise ContractError("this bank already verified the document", "already_verified")
    d["verified_by"] = sorted([*d["verified_by"], ctx.sender_hex])
    state.put(NAME, "doc/" + doc_id, d)
    ctx.emit("verified", {"doc_id": doc_id, "bank": ctx.sender_hex})
    return {"doc_id": doc_id, "verified_by": d["verified_by"]}


@CONTRACT.method(roles=("bank",),
                 params={"doc_id": p_id, "amount": p_amount, "currency": p_currency})
def request_financing(state: ContractState, ctx: TxContext, args: dict[str, Any]
                      ) -> dict[str, Any]:
    """A bank finances (part of) a document. The total financed by all banks never exceeds the
    document's amount."""
    doc_id, amount, ccy = args["doc_id"], args["amount"], args["currency"]
    d = _open_doc(state, doc_id)
    if d["amount"] is None:
        raise ContractError(f"a {d['doc_type']} has no amount to finance", "not_financeable")
    if ccy != d["currency"]:
        raise ContractError(f"the document is in {d['currency']}, not {ccy}",
                            "currency_mismatch")
    remaining = d["amount"] - d["financed"]
    if remaining <= 0:
        raise ContractError("the document is already fully financed", "already_financed")
    if amount > remaining:
        raise ContractError(f"only {remaining} {ccy} of the document remain to finance",
                            "over_financed")
    bank = ctx.sender_hex
    d["financing"][bank] = d["financing"].get(bank, 0) + amount
    d["financed"] += amount
    d["status"] = "financed"
    state.put(NAME, "doc/" + doc_id, d)
    remaining -= amount
    ctx.emit("financed", {"doc_id": doc_id, "bank": bank, "amount": amount, "currency": ccy,
                          "remaining": remaining})
    return {"doc_id": doc_id, "financed": d["financed"], "remaining": remaining}


@CONTRACT.method(roles=("bank",), params={"doc_id": p_id}, optional={"amount": p_amount})
def repay(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A financing bank records a repayment (default: all it has outstanding). When nothing is
    outstanding any more the document is ``repaid``."""
    doc_id = args["doc_id"]
    d = _doc(state, doc_id)
    bank = ctx.sender_hex
    owed = d["financing"].get(bank, 0)
    if owed <= 0:
        raise ContractError("this bank has nothing outstanding on the document", "forbidden")
    amount = args.get("amount", owed)
    if amount > owed:
        raise ContractError(f"only {owed} is outstanding", "over_repaid")
    if owed == amount:
        del d["financing"][bank]
    else:
        d["financing"][bank] = owed - amount
    if not d["financing"]:
        d["status"] = "repaid"
    state.put(NAME, "doc/" + doc_id, d)
    ctx.emit("repaid", {"doc_id": doc_id, "bank": bank, "amount": amount,
                        "status": d["status"]})
    return {"doc_id": doc_id, "outstanding": owed - amount, "status": d["status"]}


@CONTRACT.method(roles=("exporter",), params={"doc_id": p_id})
def close(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The owner closes a document with nothing outstanding. Its fingerprint stays taken."""
    doc_id = args["doc_id"]
    d = _doc(state, doc_id)
    if d["owner"] != ctx.sender_hex:
        raise ContractError("only the document's owner may close it", "forbidden")
    if d["status"] == "closed":
        raise ContractError("document is closed", "document_closed")
    if d["financing"]:
        raise ContractError("financing is still outstanding", "outstanding_financing")
    if d["lc_id"] is not None:
        lc = state.get(NAME, "lc/" + d["lc_id"])
        if lc is not None and lc["status"] == "presented":
            raise ContractError("the document is presented under a letter of credit",
                                "document_in_use")
    d["status"] = "closed"
    state.put(NAME, "doc/" + doc_id, d)
    ctx.emit("closed", {"doc_id": doc_id})
    return {"doc_id": doc_id, "status": "closed"}


# ---------------------------------------------------------------------------- letters of credit


def _doc_type(v: Any, name: str) -> str:
    if type(v) is not str or v not in KEY_FIELDS:
        raise ContractError(f"{name}: document types are {', '.join(DOC_TYPES)}", "bad_field")
    return v


@CONTRACT.method(roles=("bank",), params={
    "applicant": p_pubkey, "beneficiary": p_pubkey, "amount": p_amount, "currency": p_currency,
    "expiry": p_time_ms, "required_docs": p_list(_doc_type, 6), "lc_number": p_text(35)})
def issue_lc(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The issuing bank (the caller) opens a documentary credit for ``applicant`` in favour of
    ``beneficiary`` (an exporter). ``expiry`` is a block time in ms: presentations are accepted
    while block time < expiry."""
    ccy, expiry = args["currency"], args["expiry"]
    gov.require_identity(state, args["applicant"])
    gov.require_identity(state, args["beneficiary"], "exporter")
    gov.require_currency(state, ccy)
    if expiry <= ctx.timestamp_ms:
        raise ContractError("expiry is not after the block time", "lc_expired")
    fp = fingerprint(_key(ctx), "lc", {"issuer": ctx.sender_hex,
                                        "lc_number": norm_ref(args["lc_number"], "lc_number")})
    if state.get(NAME, "lcfp/" + fp) is not None:
        raise ContractError("this bank already issued an LC with this number", "duplicate_lc")
    lc_id = ctx.derive_id()
    lc = {"issuer": ctx.sender_hex, "applicant": args["applicant"],
          "beneficiary": args["beneficiary"], "amount": args["amount"], "currency": ccy,
          "expiry": expiry, "required_docs": sorted(set(args["required_docs"])),
          "fingerprint": fp, "status": "issued", "presentation": None, "height": ctx.height}
    state.put(NAME, "lc/" + lc_id, lc)
    state.put(NAME, "lcfp/" + fp, lc_id)
    ctx.emit("lc_issued", {"lc_id": lc_id, "issuer": ctx.sender_hex,
                           "beneficiary": args["beneficiary"], "amount": args["amount"],
                           "currency": ccy, "expiry": expiry})
    return {"lc_id": lc_id}


def _lc(state: ContractState, lc_id: str) -> dict[str, Any]:
    lc = state.get(NAME, "lc/" + lc_id)
    if lc is None:
        raise ContractError(f"no letter of credit {lc_id}", "unknown_lc")
    return lc  # type: ignore[no-any-return]


@CONTRACT.method(roles=("exporter",), params={"lc_id": p_id, "doc_ids": p_list(p_id, 16)})
def present(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The beneficiary presents its registered documents under the LC before expiry. They must
    be its own, open, not in use under another LC, in the LC's currency, not above its amount,
    and cover every required type. The claim is the sum of the presented invoices (or the LC
    amount when no invoice is required or presented)."""
    lc_id, doc_ids = args["lc_id"], args["doc_ids"]
    lc = _lc(state, lc_id)
    if lc["beneficiary"] != ctx.sender_hex:
        raise ContractError("only the LC's beneficiary may present", "forbidden")
    if lc["status"] != "issued":
        raise ContractError(f"the LC is {lc['status']}", "lc_not_open")
    if ctx.timestamp_ms >= lc["expiry"]:
        raise ContractError("the letter of credit has expired", "lc_expired")
    if len(set(doc_ids)) != len(doc_ids):
        raise ContractError("doc_ids lists a document twice", "bad_field")
    types: set[str] = set()
    invoices = 0
    docs = []
    for doc_id in doc_ids:
        d = _open_doc(state, doc_id)
        if d["owner"] != lc["beneficiary"]:
            raise ContractError(f"document {doc_id} does not belong to the beneficiary",
                                "document_mismatch")
        if d["lc_id"] is not None:
            raise ContractError(f"document {doc_id} is already presented", "document_in_use")
        if d["amount"] is not None:
            if d["currency"] != lc["currency"]:
                raise ContractError(f"document {doc_id} is in {d['currency']}",
                                    "currency_mismatch")
            if d["amount"] > lc["amount"]:
                raise ContractError(f"document {doc_id} is above the LC amount",
                                    "amount_exceeds_lc")
        if d["doc_type"] == "invoice":
            invoices += d["amount"]
        types.add(d["doc_type"])
        docs.append((doc_id, d))
    missing = sorted(set(lc["required_docs"]) - types)
    if missing:
        raise ContractError(f"required documents missing: {', '.join(missing)}",
                            "missing_documents")
    claim = invoices or lc["amount"]
    if claim > lc["amount"]:
        raise ContractError("the invoices together exceed the LC amount", "amount_exceeds_lc")
    for doc_id, d in docs:
        d["lc_id"] = lc_id
        state.put(NAME, "doc/" + doc_id, d)
    lc["status"] = "presented"
    lc["presentation"] = {"doc_ids": sorted(doc_ids), "claim": claim, "height": ctx.height}
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("presented", {"lc_id": lc_id, "doc_ids": sorted(doc_ids), "claim": claim})
    return {"lc_id": lc_id, "claim": claim, "currency": lc["currency"]}


@CONTRACT.method(roles=("bank",), params={"lc_id": p_id})
def accept_presentation(state: ContractState, ctx: TxContext, args: dict[str, Any]
                        ) -> dict[str, Any]:
    """The issuing bank accepts a (timely) presentation and pays the claim from its own
    settlement account to the beneficiary, in this same transaction: if the payment fails
    (``insufficient_funds``) nothing happens."""
    lc_id = args["lc_id"]
    lc = _lc(state, lc_id)
    if lc["issuer"] != ctx.sender_hex:
        raise ContractError("only the issuing bank may accept a presentation", "forbidden")
    if lc["status"] != "presented":
        raise ContractError(f"the LC is {lc['status']}", "lc_not_presented")
    claim = lc["presentation"]["claim"]
    assert 0 < claim <= MAX_AMOUNT
    settlement.pay(state, ctx, lc["issuer"], lc["beneficiary"], lc["currency"], claim,
                   f"lc:{lc_id}")
    lc["status"] = "paid"
    state.put(NAME, "lc/" + lc_id, lc)
    ctx.emit("presentation_accepted", {"lc_id": lc_id, "paid": claim,
                                       "currency": lc["currency"],
                                       "beneficiary": lc["beneficiary"]})
    return {"lc_id": lc_id, "paid": claim, "currency": lc["currency"]}
