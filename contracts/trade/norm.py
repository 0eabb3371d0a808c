"""Normalisation and fingerprints of trade documents (pure functions, no state).

Names are their :func:`contracts.names.name_skeleton`; references their
:func:`contracts.names.ref_tokens`; dates are ISO 8601; amounts are integer minor units of the
document's currency (TRAPS #17, #23).
"""

from __future__ import annotations

import bisect
import datetime
import hmac
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chainfin import codec
from chainfin.errors import ContractError
from chainfin.execution import MAX_AMOUNT, p_amount, p_currency
from contracts.names import (
    has_control,
    name_skeleton,
    ref_keys,
    ref_tokens,
    ref_tokens_before_153,
    skeleton_before_153,
)
from contracts.risk_jurisdictions import ASSIGNED

# ---------------------------------------------------------------------------- normalisation

_WS = re.compile(r"\s+")
_SCAC = re.compile(r"^[A-Z]{2,4}$")
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_DATE = re.compile(r"^(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")


def _text(v: Any, name: str) -> str:
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be a string", "bad_field")
    if len(v) > 4 * 140:  # refused before NFKC, which can make a string 18 times longer
        raise ContractError(f"fields.{name} must be 1..140 characters", "bad_field")
    if has_control(v):
        raise ContractError(f"fields.{name} contains a control character", "bad_field")
    s = unicodedata.normalize("NFKC", v)
    s = _WS.sub(" ", s).strip()
    if not s or len(s) > 140:
        raise ContractError(f"fields.{name} must be 1..140 characters", "bad_field")
    return s


def norm_name(v: Any, name: str) -> str:
    """A party, vessel or port name: its :func:`contracts.names.name_skeleton` (the form
    screening hashes, so the names compared here are the names screened)."""
    s = name_skeleton(_text(v, name))
    if not s:
        raise ContractError(f"fields.{name} has no letter or digit", "bad_field")
    return s


def norm_ref(v: Any, name: str) -> str:
    """A document number: its :func:`contracts.names.ref_tokens`, one space between (the
    fingerprints take both :func:`contracts.names.ref_keys` from it)."""
    tokens = ref_tokens(_text(v, name))
    if not tokens:
        raise ContractError(f"fields.{name} has no characters besides separators", "bad_field")
    return " ".join(tokens)


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


_LOCODE_FIELD = re.compile(r"([A-Z]{2})[ -]?([A-Z2-9]{3})")


def norm_locode(v: Any, name: str) -> str:
    """A coded port field (``port_of_loading_locode``, ``port_of_discharge_locode``): a UN/LOCODE
    (UNECE Recommendation 16) as written: the ISO 3166-1 alpha-2 code of an assigned country
    (XK included), then three capital letters or digits 2-9, together or apart by one space or
    hyphen -> ``CNSHA``. Lower case is refused ("Genoa" would read as Georgia here too). The
    port's country when given: it is authoritative, and the port's name is then never read as a
    code (decision 153)."""
    s = _text(v, name)
    m = _LOCODE_FIELD.fullmatch(s)
    if not m or m[1] not in ASSIGNED:
        raise ContractError(
            f"fields.{name} must be a UN/LOCODE like CNSHA or IT GOA: an assigned ISO 3166 "
            "country code and three capital letters or digits 2-9", "bad_field")
    return m[1] + m[2]


def norm_currency(v: Any, name: str) -> str:
    if type(v) is not str:
        raise ContractError(f"fields.{name} must be an ISO 4217 code", "bad_field")
    return p_currency(v.strip().upper(), f"fields.{name}")


_AMOUNT_FIELD = "amount"  # normalised with the exponent of the document's currency

#: DESIGN.md's key-field table: doc_type -> {field: normaliser}
KEY_FIELDS: dict[str, dict[str, Callable[[Any, str], Any] | None]] = {
    "invoice": {"seller": norm_name, "buyer": norm_name, "number": norm_ref,
                "issue_date": norm_date, "amount": None, "currency": norm_currency},
    "bill_of_lading": {"carrier": norm_scac, "bl_number": norm_ref, "shipper": norm_name,
                       "consignee": norm_name, "vessel": norm_name,
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

#: An HS / CN / HTS commodity code as a document carries it: the Harmonized System's six digits
#: (subheading), or a national extension of them up to ten (EU CN eight, TARIC and US HTS ten).
HS_CODE = re.compile(r"[0-9]{6,10}")
#: goods codes one document may carry (``hs_codes``)
MAX_HS_CODES = 64


def norm_hs_codes(v: Any, name: str) -> list[str]:
    """``hs_codes``: a list of 1 to :data:`MAX_HS_CODES` commodity codes, each a string of 6 to
    10 ASCII digits exactly as written (``"854231"``, ``"84713000"``; no dots or spaces: a
    ``"8471.30"`` is refused, not guessed), at which the goods are screened against the
    regulator's list of controlled goods (``contracts.risk_goods``); chapter ``00`` does not
    exist and is refused. Sorted, duplicates dropped."""
    if type(v) is not list or not v:
        raise ContractError(f"fields.{name} must be a list of 1..{MAX_HS_CODES} HS codes",
                            "bad_field")
    if len(v) > MAX_HS_CODES:
        raise ContractError(f"fields.{name} holds more than {MAX_HS_CODES} HS codes",
                            "bad_field")
    for i, code in enumerate(v):
        if type(code) is not str or not HS_CODE.fullmatch(code):
            raise ContractError(
                f"fields.{name}[{i}] must be an HS code of 6 to 10 digits written as a string, "
                "without dots or spaces (\"854231\", \"84713000\")", "bad_field")
        if code.startswith("00"):
            # no chapter 00: a code padded with leading zeros ("0085423100") names no goods
            # and falls under no listed prefix (red-team round 8)
            raise ContractError(f"fields.{name}[{i}]: HS chapter 00 does not exist (a code is "
                                "written without leading zeros: \"854231\")", "bad_field")
    return sorted(set(v))


#: ISO 6346 freight container identification: the owner code (three letters), the equipment
#: category (U freight container, J detachable equipment, Z trailer or chassis), six digits
#: of serial and the check digit.
_CONTAINER = re.compile(r"[A-Z]{3}[UJZ][0-9]{6}[0-9]")
#: ISO 6346's letter values: A is 10 and the multiples of 11 are skipped (K is 21, L 23).
_CONTAINER_LETTER = {c: v for c, v in zip(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    [v for v in range(10, 39) if v % 11], strict=True)}
#: containers one transport document may carry (``containers``): one read and one write each
MAX_CONTAINERS = 100
#: ``gross_weight_kg`` at most (a large bulk carrier's cargo, and then some)
MAX_WEIGHT_KG = 10**9


def container_check_digit(code: str) -> int:
    """ISO 6346's check digit of the first ten characters of a container number: each
    character's value (digits as themselves, letters by :data:`_CONTAINER_LETTER`) times 2 to
    the power of its position, summed, modulo 11, and a remainder of 10 read as 0."""
    total = sum((int(c) if c.isdigit() else _CONTAINER_LETTER[c]) << i
                for i, c in enumerate(code[:10]))
    return total % 11 % 10


def norm_container(v: Any, name: str) -> str:
    """One container number (ISO 6346) as a B/L or packing list writes it ("CSQU 305438-3",
    "csqu3054383", "CSQU.305438.3"): upper case, spaces, hyphens, dots and slashes dropped ->
    ``CSQU3054383``. A number whose check digit is wrong is refused naming it, as
    ``bad_container`` (a typo here would let the shipment's boxes pass unmatched: decision
    228)."""
    s = re.sub(r"[\s./-]", "", _text(v, name).upper())
    if not _CONTAINER.fullmatch(s):
        raise ContractError(
            f"fields.{name}: {v!r} is not an ISO 6346 container number (owner code and "
            "category U, J or Z, six digits and the check digit: CSQU3054383)",
            "bad_container")
    if container_check_digit(s) != int(s[10]):
        raise ContractError(
            f"fields.{name}: the check digit of container {s[:10]}-{s[10]} is wrong (ISO 6346 "
            f"gives {s[:10]}-{container_check_digit(s)}): a container number is refused, not "
            "guessed", "bad_container")
    return s


def norm_containers(v: Any, name: str) -> list[str]:
    """``containers``: a list of 1 to :data:`MAX_CONTAINERS` container numbers
    (:func:`norm_container`), sorted, duplicates dropped (the same box written twice is one)."""
    if type(v) is not list or not v:
        raise ContractError(f"fields.{name} must be a list of 1..{MAX_CONTAINERS} container "
                            "numbers", "bad_field")
    if len(v) > MAX_CONTAINERS:
        raise ContractError(f"fields.{name} holds more than {MAX_CONTAINERS} container numbers "
                            "(register the shipment as several bills of lading)", "bad_field")
    return sorted({norm_container(c, f"{name}[{i}]") for i, c in enumerate(v)})


def norm_voyage(v: Any, name: str) -> str:
    """A voyage (or flight) number as the carrier writes it ("0123W", "MK-512 E"): upper case,
    separators dropped -> ``0123W``, ``MK512E``."""
    s = re.sub(r"[\s./-]", "", _text(v, name).upper())
    if not s or len(s) > 32 or not s.isalnum() or not s.isascii():
        raise ContractError(f"fields.{name} must be a voyage or flight number of 1..32 letters "
                            "and digits", "bad_field")
    return s


def norm_weight_kg(v: Any, name: str) -> int:
    """A gross weight in whole kilograms: an integer 1..:data:`MAX_WEIGHT_KG` (no floats, no
    units in a string: "24,000 kg" is refused, not read)."""
    if type(v) is not int or not 1 <= v <= MAX_WEIGHT_KG:
        raise ContractError(f"fields.{name} must be whole kilograms, an integer 1.."
                            f"{MAX_WEIGHT_KG}", "bad_field")
    return v


#: A bill of lading's cargo that travels in no container (``cargo_type``; decision 266): loose
#: in the holds (grain, ore, oil: ``bulk``) or stowed piece by piece (steel, machinery, vehicles
#: rolled on: ``break_bulk``). Absent: containerised.
CARGO_TYPES = ("break_bulk", "bulk")


def norm_cargo_type(v: Any, name: str) -> str:
    """``cargo_type``: ``"bulk"`` or ``"break_bulk"`` (any case; a hyphen or space for the
    underscore: ``"Break-Bulk"``)."""
    s = re.sub(r"[\s-]+", "_", _text(v, name).strip().lower())
    if s not in CARGO_TYPES:
        raise ContractError(f"fields.{name} must be one of {', '.join(CARGO_TYPES)} (a cargo "
                            "in containers lists them in containers instead)", "bad_field")
    return s


#: ``register``'s own arguments, which a client may put inside ``fields`` by mistake (the
#: refusal then says where they go)
REGISTER_ARGS = frozenset({"trade_id", "declare_distinct", "on_behalf_of"})

#: Key fields a document may carry but need not (decision 153): a bill of lading's ports as
#: UN/LOCODEs, beside their names; an invoice's, a declaration's or a B/L's goods as HS codes
#: (``hs_codes``, screened against the controlled-goods list: docs/risk.md "Controlled
#: goods"); a B/L's ``containers`` (ISO 6346, each remembered for the shipment:
#: :func:`container_keys`, decision 228), ``voyage`` and ``gross_weight_kg`` (decision 229),
#: ``cargo_type`` (a cargo in no container, with its ``voyage`` and without ``containers``:
#: decision 266). Stored with the other fields when given.
OPTIONAL_FIELDS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "bill_of_lading": {"port_of_loading_locode": norm_locode,
                       "port_of_discharge_locode": norm_locode,
                       "hs_codes": norm_hs_codes,
                       "containers": norm_containers, "voyage": norm_voyage,
                       "gross_weight_kg": norm_weight_kg, "cargo_type": norm_cargo_type},
    "invoice": {"hs_codes": norm_hs_codes},
    "customs_declaration": {"hs_codes": norm_hs_codes},
}


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
    optional = OPTIONAL_FIELDS.get(doc_type, {})
    extra = sorted(set(fields) - set(spec) - set(optional))
    if extra:
        where = (f"; {extra[0]!r} is an argument of register, beside fields"
                 if extra[0] in REGISTER_ARGS else "")
        raise ContractError(
            f"{extra[0]!r} is not a key field of {doc_type} (only key fields go on chain)"
            f"{where}", "unknown_field")
    out: dict[str, Any] = {}
    for k in sorted(spec):
        norm = spec[k]
        if norm is not None:
            out[k] = norm(fields[k], k)
    for k in sorted(optional):
        if fields.get(k) is not None:
            out[k] = optional[k](fields[k], k)
    if "amount" in spec:
        out["amount"] = norm_amount(fields["amount"], "amount", exponent_of(out["currency"]))
    if "cargo_type" in out:  # decision 266: a shipment with no box is known by its voyage
        if "containers" in out:
            raise ContractError("a bill of lading listing its containers is a container B/L: "
                                "leave cargo_type out (it is for a cargo in no container)",
                                "bad_field")
        if "voyage" not in out:
            raise ContractError(f"a {out['cargo_type']} bill of lading needs its voyage: the "
                                "vessel and voyage are what name a shipment with no container",
                                "missing_field")
    return out


#: What names a document in the real world (DESIGN.md, "what identifies one"): only these
#: fields go into its identity fingerprint, never amounts or dates.
IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "invoice": ("seller", "number"),
    "customs_declaration": ("declaration_number",),
    "bill_of_lading": ("carrier", "bl_number"),
    "letter_of_credit": ("issuing_bank", "lc_number"),
    "packing_list": ("exporter", "number"),
    "certificate_of_origin": ("exporter", "number"),
}

#: The fields of a document that name a party, a vessel or a port; each is screened against the
#: watch list at registration and again at financing.
PARTY_ROLES = ("seller", "buyer", "exporter", "shipper", "consignee", "applicant", "beneficiary",
               "vessel", "port_of_loading", "port_of_discharge")

#: The field naming the party who must register the document (or have its agent bank do it).
PARTY_FIELD: dict[str, str] = {
    "invoice": "seller",
    "customs_declaration": "exporter",
    "bill_of_lading": "shipper",
    "letter_of_credit": "beneficiary",
    "packing_list": "exporter",
    "certificate_of_origin": "exporter",
}

#: A re-numbered copy of an invoice has the same content fingerprint over these fields.
CONTENT_FIELDS = ("seller", "buyer", "amount", "currency", "issue_date")


#: The identity fields that are document numbers (the others are names or a BIC).
REF_FIELDS = frozenset({"number", "declaration_number", "bl_number", "lc_number"})


def _identity(doc_type: str, normalised: Mapping[str, Any], key_of: int,
              drop: int = 0) -> dict[str, Any] | None:
    """The identity fields of a document with each number as its ``ref_keys(...)[key_of]``,
    less its last ``drop`` tokens (None if that leaves none)."""
    ident = {}
    for k in IDENTITY_FIELDS[doc_type]:
        v = normalised[k]
        if k in REF_FIELDS:
            tokens = v.split(" ")
            if drop:
                if len(tokens) <= drop:
                    return None
                tokens = tokens[:-drop]
            v = ref_keys(tokens)[key_of]
        ident[k] = v
    return ident


def fingerprint(key: bytes, doc_type: str, normalised: Mapping[str, Any]) -> str:
    """HMAC-SHA256(key, canonical encoding of [doc_type, the identity fields]), hex, with each
    number as its separator-insensitive key (:func:`contracts.names.ref_keys` (a)).

    Only :data:`IDENTITY_FIELDS` of ``doc_type`` are hashed: the same seller and invoice number
    with one cent more, or another date, is the same invoice.
    """
    ident = _identity(doc_type, normalised, 0)
    return hmac.digest(key, codec.encode([doc_type, ident]), "sha256").hex()


def token_fingerprint(key: bytes, doc_type: str, normalised: Mapping[str, Any],
                      drop: int = 0) -> str | None:
    """The second identity fingerprint: each number as its token-aware key with leading zeros
    stripped (:func:`contracts.names.ref_keys` (b)); with ``drop``, of the number less its last
    ``drop`` tokens (the invoice a part invoice "INV-1/2" belongs to), None if nothing is left."""
    ident = _identity(doc_type, normalised, 1, drop)
    if ident is None:
        return None
    return hmac.digest(key, codec.encode([doc_type, ident, "tokens"]), "sha256").hex()


def content_fingerprint(key: bytes, doc_type: str, normalised: Mapping[str, Any]) -> str | None:
    """HMAC over (seller, buyer, amount, currency, issue_date) of an invoice, else None: the same
    goods invoiced under another number."""
    if doc_type != "invoice":
        return None
    content = {k: normalised[k] for k in CONTENT_FIELDS}
    return hmac.digest(key, codec.encode(["invoice-content", content]), "sha256").hex()


def _growth_thresholds() -> tuple[int, ...]:
    """floor(100 x 1.01^k) for k = 0, 1, ... up to the largest amount, in integers (fixed
    point with 30 decimals, truncated each step: the same table on every validator)."""
    scale = 10**30
    v, out = 100 * scale, []
    while v // scale <= MAX_AMOUNT:
        out.append(v // scale)
        v = v * 101 // 100
    return tuple(out)


_AMOUNT_THRESHOLDS = _growth_thresholds()

#: An invoice is similar to a registered one whose date is this many days either side ...
SIMILAR_DAYS = 3
#: ... and whose amount is in the same 1 % band or the next one either side (so within 1 % at
#: least, 2 % at most).
SIMILAR_BANDS = 1


def amount_band(amount: int) -> int:
    """The 1 % band of an amount: how many of 1.00, 1.01, 1.0201, ... (in minor units x 100,
    each 1 % above the last) it reaches. Amounts below 100 minor units share band 0."""
    return bisect.bisect_right(_AMOUNT_THRESHOLDS, amount)


#: invoices remembered per (seller, buyer, currency) for the similarity check, newest last
SIMILAR_KEEP = 64


def similar_key(key: bytes, normalised: Mapping[str, Any]) -> tuple[str, int, int]:
    """Where the invoices of one seller to one buyer in one currency are remembered for the
    similarity check (``sim/<HMAC(seller, buyer, currency)>``: a list of ``[amount band, day
    ordinal, doc id]``, the last :data:`SIMILAR_KEEP`), and this invoice's band and day. One
    read and one write per invoice, whatever the window; the exact content copy (same amount
    and date) is the special case of band and day equal.

    The band and the day are in the value in clear: the invoice's record keeps its amount and
    date anyway; who the seller and buyer are stays behind the HMAC.
    """
    who = {k: normalised[k] for k in ("seller", "buyer", "currency")}
    base = hmac.digest(key, codec.encode(["invoice-similar", who]), "sha256").hex()[:32]
    day = datetime.date.fromisoformat(normalised["issue_date"]).toordinal()
    return "sim/" + base, amount_band(normalised["amount"]), day


def is_similar(entry: Sequence[Any], band: int, day: int) -> bool:
    """An invoice remembered as ``[band, day, doc id]`` is similar to one of ``band`` and
    ``day``: amount bands at most :data:`SIMILAR_BANDS` apart, days at most
    :data:`SIMILAR_DAYS`."""
    return bool(abs(entry[0] - band) <= SIMILAR_BANDS and abs(entry[1] - day) <= SIMILAR_DAYS)


# ---------------------------------------------------------------------------- number cores

#: The number field of each document type whose digits are remembered (decision 153), and the
#: party fields that scope it: one seller's invoices (to any buyer: the number is the seller's,
#: as the invoice's identity is (seller, number); decision 175), one exporter's declarations,
#: one shipper's bills of lading (whatever the carrier code written).
CORE_SCOPE: dict[str, tuple[str, tuple[str, ...]]] = {
    "invoice": ("number", ("seller",)),
    "customs_declaration": ("declaration_number", ("exporter",)),
    "bill_of_lading": ("bl_number", ("shipper",)),
}

#: The scopes decision 153 wrote and decision 175 changed: one seller's invoices to one buyer.
#: A renumbered copy addressed to the buyer written otherwise (another script, another of the
#: buyer's names: "Глобекс" for "Globex Corp") escaped it (red-team round 9). Cores under it are
#: only looked up, never written (:func:`cores_before_175`).
CORE_SCOPE_BEFORE_175: dict[str, tuple[str, tuple[str, ...]]] = {
    "invoice": ("number", ("seller", "buyer")),
}


def cores_before_175(key: bytes, doc_type: str, normalised: Mapping[str, Any]) -> list[str]:
    """The number cores a document of this type was remembered under before decision 175
    (:data:`CORE_SCOPE_BEFORE_175`; empty for a type whose scope did not change): registration
    looks them up, so an invoice registered before the upgrade stays found by its renumbered
    copies to the same buyer. Two more reads per invoice, no write."""
    if doc_type not in CORE_SCOPE_BEFORE_175:
        return []
    return core_fingerprints(key, doc_type, normalised, CORE_SCOPE_BEFORE_175)


def core_fingerprints(key: bytes, doc_type: str, normalised: Mapping[str, Any],
                      scopes: Mapping[str, tuple[str, tuple[str, ...]]] | None = None
                      ) -> list[str]:
    """The digits of a document's number, without the letters around them, as two keys (the
    digit tokens run together; each with its leading zeros stripped, in sorted order, so
    "001/2025" is "2025-001"), each HMAC-ed with the document type and its scope
    (:data:`CORE_SCOPE`). "INV-2025-001", "CI 2025/001", "Invoice No. 2025-0001",
    "2025-001-INV", "001/2025" have one core;
    "MRN CD/2025/000123" is "CD/2025/000123"; "MAEU-778899" (carrier MAEU) is "778899" (carrier
    MSCU) of the same shipper; a B/L or declaration number with a copy number added is its
    set's (:data:`SET_NUMBERED`). A registered number with the same core is a soft match
    (``suspected_duplicate``, overridable by ``declare_distinct``), never an identity: "INV-IT-
    1001" and "INV-LT-1001" are two documents whose registrant says so once. Empty for a type
    not in :data:`CORE_SCOPE` (or ``scopes``) or a number without digits."""
    spec = (CORE_SCOPE if scopes is None else scopes).get(doc_type)
    if spec is None:
        return []
    field, scope = spec
    who = {k: normalised[k] for k in scope}
    groups: list[list[str]] = []
    for reading in digit_readings(str(normalised[field])):
        groups.append(reading)
        if doc_type in SET_NUMBERED:
            groups += set_cores(reading)
    return [c for group in groups for c in _core_keys(key, doc_type, who, group)]


def digit_readings(number: str) -> list[list[str]]:
    """The digit groups of a normalised number: its tokens of digits; and, when it differs,
    its tokens read by :func:`spelled_digits` (decision 202: Chinese numerals, a year in Roman
    numerals), beside them (a prefix "MMX-" read as 2010 must not take the copy "MMX-2025-001"
    away from "INV-2025-001"). Empty readings are left out."""
    tokens = number.split(" ")
    digits = [t for t in tokens if t.isdigit()]
    spelled = [t for t in (spelled_digits(t) for t in tokens) if t]
    return [d for i, d in enumerate((digits, spelled)) if d and not (i and d == digits)]


def set_cores(digits: list[str]) -> list[list[str]]:
    """The digit groups of the set a copy's number names (:data:`SET_NUMBERED`): less its last
    group, then less its last two (decision 203: "ORIGINAL 1 OF 3", "PART 1 OF 2"), while each
    dropped group is a copy's number (at most :data:`COPY_DIGITS` digits) and at least
    :data:`SET_CORE_DIGITS` digits remain."""
    out: list[list[str]] = []
    for drop in range(1, COPY_GROUPS + 1):
        head = digits[:-drop]
        if len(digits) <= drop or len(digits[-drop]) > COPY_DIGITS \
                or sum(map(len, head)) < SET_CORE_DIGITS:
            break
        out.append(head)
    return out


#: Chinese numerals as digits ("二〇二五" is 2025; decision 202), in a run of at least two or as
#: a token alone: 十, 百, 千 (a number spelled in words, "二十五") are not positional digits.
_HAN_DIGITS = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
_HAN_RUN = re.compile("[〇零一二三四五六七八九]{2,}")
_ROMAN = re.compile(r"m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_VALUE = {"m": 1000, "d": 500, "c": 100, "l": 50, "x": 10, "v": 5, "i": 1}
#: the years a Roman numeral is read as ("MMXXV" is 2025); other Roman numerals are words
ROMAN_YEARS = range(1900, 2100)


def spelled_digits(token: str) -> str:
    """The digits a number's token spells in another numeral system (decision 202), or "": a
    token of ASCII digits as it is; runs of Chinese numerals (at least two, or the token alone:
    "二〇二五", "发票二〇二五〇〇一") as their digits, run together; a token that is a Roman
    numeral of a year in :data:`ROMAN_YEARS` ("mmxxv", tokens are case-folded) as the year.
    Unicode decimal digits of every script are ASCII already (:func:`contracts.names.fold`)."""
    if token.isdigit():
        return token
    if token in _HAN_DIGITS:
        return _HAN_DIGITS[token]
    runs = _HAN_RUN.findall(token)
    if runs:
        return "".join(_HAN_DIGITS[c] for run in runs for c in run)
    if 2 <= len(token) <= 12 and _ROMAN.fullmatch(token):
        vals = [_ROMAN_VALUE[c] for c in token]
        year = sum(-v if i + 1 < len(vals) and v < vals[i + 1] else v
                   for i, v in enumerate(vals))
        if year in ROMAN_YEARS:
            return str(year)
    return ""


def _core_keys(key: bytes, doc_type: str, who: Mapping[str, Any], group: list[str]
               ) -> list[str]:
    """The two ``core/`` keys of one list of digit groups: run together, and each stripped of
    its leading zeros in sorted order."""
    stripped = sorted(t.lstrip("0") or "0" for t in group)
    return [hmac.digest(key, codec.encode(["number-core", doc_type, dict(who), core, i]),
                        "sha256").hex()[:32]
            for i, core in enumerate(("".join(group), " ".join(stripped)))]


#: An invoice's number whose digits end in one or two groups of a number below 100 written in
#: at most :data:`PART_DIGITS` digits ("1", "01", "001": "PART-001-OF-002"; not a padded serial
#: "0000000023") after at least :data:`SET_CORE_DIGITS` digits reads
#: as a part of the invoice numbered with the digits before them, whatever words come between:
#: "INV-2025-001-PART-1-OF-2", "INV-2025-001 INSTALMENT 1 OF 3" of "INV-2025-001" (decision
#: 176; the token rule, ``documents.parent_invoice``, stops at three tokens more).
PART_DIGIT_GROUPS = 2
PART_DIGITS = 3


def part_cores(key: bytes, doc_type: str, normalised: Mapping[str, Any]) -> list[str]:
    """The number cores (:data:`CORE_SCOPE`) of the wholes an invoice would be a part of, by
    its digits (:data:`PART_DIGIT_GROUPS`): its digit groups less the last one, then less the
    last two, while those are short and at least :data:`SET_CORE_DIGITS` digits remain. A
    registered whole under one of them makes the invoice a suspected part; the invoice leaves
    a part marker (``{"part": doc_id}``) on those still free, so the whole registered after
    its parts meets them. Empty for other types and other numbers (an ordinary invoice number:
    no read, no write)."""
    if doc_type != "invoice":
        return []
    field, scope = CORE_SCOPE[doc_type]
    who = {k: normalised[k] for k in scope}
    out: list[str] = []
    for digits in digit_readings(str(normalised[field])):  # decision 202: each reading
        for drop in range(1, PART_DIGIT_GROUPS + 1):
            head, tail = digits[:-drop], digits[-drop:]
            if len(digits) <= drop or len(tail[0]) > PART_DIGITS \
                    or len(tail[0].lstrip("0")) > COPY_DIGITS \
                    or sum(map(len, head)) < SET_CORE_DIGITS:
                break
            out += _core_keys(key, doc_type, who, head)
    return out


#: Documents issued in sets under one number, whose copies a fraudster numbers apart: the
#: originals of a bill of lading ("MAEU-778899/2", "778899-3": one B/L), a declaration and its
#: parts. When its last group of digits is a copy's number (at most :data:`COPY_DIGITS` digits)
#: and the rest keeps at least :data:`SET_CORE_DIGITS` digits (a year alone is not a document),
#: the number less that group is a core too, so a copy so numbered meets the whole, and the
#: whole or a sibling copy meets it, in either order (decision 153). "202512-000124" is no copy
#: of "202512-000123" (its last group is a serial). Invoices are not read so: instalment
#: invoices "INV-1/1", "INV-1/2" are real, and their parts have their own rule
#: (``documents.parent_invoice``).
SET_NUMBERED = frozenset({"bill_of_lading", "customs_declaration"})
COPY_DIGITS = 2
SET_CORE_DIGITS = 5
#: copy groups read off a set's number: one ("MAEU-778899/2", decision 153) or two ("MAEU-778899
#: ORIGINAL 1 OF 3", "CD/2025/000123 PART 1 OF 2": red-team round 10, decision 203)
COPY_GROUPS = 2


# ---------------------------------------------------------------------------- the upgrade

#: The name fields a document's fingerprints read (identity; an invoice's content and
#: similarity key too).
_FINGERPRINTED_NAMES = ("seller", "buyer", "exporter")


def fields_before_153(doc_type: str, fields: Mapping[str, Any], normalised: Mapping[str, Any],
                      party_name: str) -> dict[str, Any] | None:
    """The normalised fields as the rules before decision 153 made them (its names by
    :func:`contracts.names.skeleton_before_153`, its numbers by
    :func:`contracts.names.ref_tokens_before_153`), or None where the fingerprinted fields are
    the same: a document registered before the upgrade keeps the keys it was registered under,
    and a copy registered after it must still find them ("The Globex Corp" was "globex the";
    decision 153). ``fields``: as submitted (already validated by :func:`normalise_fields`);
    ``party_name``: the registering party's legal name as governance holds it, which every
    document it registered named (:data:`PARTY_FIELD`), however the field is written now."""
    old = dict(normalised)
    for k in _FINGERPRINTED_NAMES:
        if k in KEY_FIELDS[doc_type]:
            old[k] = skeleton_before_153(_text(fields[k], k))
    old[PARTY_FIELD[doc_type]] = skeleton_before_153(_text(party_name, "legal_name"))
    for k in REF_FIELDS & set(IDENTITY_FIELDS[doc_type]):
        old[k] = " ".join(ref_tokens_before_153(_text(fields[k], k)))
    return None if old == dict(normalised) else old


# ---------------------------------------------------------------------------- containers


def container_keys(key: bytes, normalised: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(container, state key)`` of each container a transport document carries
    (``ctr/<HMAC(container)>``, one key per container whatever the number of documents that
    named it: decision 228); empty for a document without ``containers``."""
    return [(c, "ctr/" + hmac.digest(key, codec.encode(["container", c]), "sha256").hex()[:32])
            for c in normalised.get("containers", ())]
