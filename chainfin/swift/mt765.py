"""SWIFT MT765 (Guarantee/Standby Letter of Credit Demand, SR 2021 layout): read one into the
ledger's ``demand``, and write one from a demand the ledger holds. Pure: text in, values out; no
IO, no clock, no floats.

The fields (:data:`FIELDS`): 20 transaction reference, 21 related reference (the undertaking
number), 23 beneficiary's reference, 52a issuer, 59a beneficiary, 31L date of demand, 22G demand
type (``PAYM`` pay, ``PAEX`` pay or extend), 32B demand amount, 78 additional amount
information, 49A demand statement (a code, ``COMP`` complete or ``INCP`` documents to follow,
then the statement's words), 77 presentation completion details, 31E requested new expiry date,
56a intermediary, 57a account with institution, 72Z, 23X. Every problem names its field and
its block-4 line (:func:`numbered`). Field reading, amounts and dates are
:mod:`chainfin.swift.mt700`'s. docs/swift.md "MT765" has the mapping.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from chainfin.swift.mt700 import (
    FieldSpec,
    Header,
    MtError,
    _date,
    _envelope,
    _exclusive,
    _fields,
    _line_ends,
    _wrap,
    _yymmdd,
    amount_to_minor,
    bic11,
    check_reference,
    fin_message,
    is_bic,
    minor_to_amount,
)
from chainfin.swift.mt700 import _check_shape as check_shape
from chainfin.swift.mt760 import TAG_LINE, bic_of, currency_amount, tag_lines

__all__ = ["DEMAND_TYPES", "FIELDS", "MANDATORY", "STATEMENT_CODES", "DemandTerms", "Mt765",
           "numbered", "parse", "render", "terms"]

FIELDS: dict[str, FieldSpec] = {
    "20": FieldSpec("Transaction Reference Number", 1, 16),
    "21": FieldSpec("Related Reference", 1, 16),
    "23": FieldSpec("Beneficiary Reference Number", 1, 16),
    "52A": FieldSpec("Issuer", 2, 35),
    "52D": FieldSpec("Issuer", 5, 35),
    "59": FieldSpec("Beneficiary", 5, 35),
    "59A": FieldSpec("Beneficiary", 2, 35),
    "31L": FieldSpec("Date of Demand", 1, 6),
    "22G": FieldSpec("Demand Type", 1, 4),
    "32B": FieldSpec("Demand Amount", 1, 18),
    "78": FieldSpec("Additional Amount Information", 12, 65),
    "49A": FieldSpec("Demand Statement", 51, 65, "z"),
    "77": FieldSpec("Presentation Completion Details", 20, 35, "z"),
    "31E": FieldSpec("Requested New Date of Expiry", 1, 6),
    "56A": FieldSpec("Intermediary", 2, 35),
    "56D": FieldSpec("Intermediary", 5, 35),
    "57A": FieldSpec("Account With Institution", 2, 35),
    "57D": FieldSpec("Account With Institution", 5, 35),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
    "23X": FieldSpec("File Identification", 1, 70),
}
MANDATORY = ("20", "52a", "22G", "32B")
EXCLUSIVE = (("52A", "52D"), ("59", "59A"), ("56A", "56D"), ("57A", "57D"))
#: :22G: Demand Type: pay, or pay or extend (the ledger's ``extend_or_pay``, URDG 758 art. 23)
DEMAND_TYPES = ("PAYM", "PAEX")
#: :49A:'s code: the demand is complete, or documents follow separately
STATEMENT_CODES = ("COMP", "INCP")
#: the contract's longest supporting statement (``demand``: ``p_text(780)``)
MAX_STATEMENT = 780
_OPTIONS = {"52a": ("52A", "52D")}
#: read and kept (or checked against the ledger by the CLI); the others only for their shape
_KEPT = {"20", "21", "52A", "52D", "59", "59A", "31L", "22G", "32B", "49A", "31E"}


def numbered(text: str, problems: list[str], mt: str) -> list[str]:
    """``problems`` with each one that names a field present (``:32B: ...``) prefixed by that
    field's block-4 line, so a back office finds it in a long message: ``block 4 line 7: :32B:
    ...``."""
    lines = tag_lines(text, mt)
    out = []
    for p in problems:
        m = TAG_LINE.match(p)
        out.append(f"block 4 line {lines[m[1]]}: {p}" if m and m[1] in lines else p)
    return out


@dataclass(frozen=True, slots=True)
class Mt765:
    """One MT765, read and checked; the amount as written (:func:`terms` applies the currency's
    exponent)."""

    header: Header | None
    fields: dict[str, str]
    reference: str
    related_reference: str | None
    issuer_bic: str | None
    beneficiary: tuple[str, ...]
    demand_date: datetime.date | None
    demand_type: str
    currency: str
    amount: str
    statement_code: str | None
    statement: str | None
    extend_to: datetime.date | None
    notes: tuple[str, ...] = ()


def _statement(v: str | None, problems: list[str]) -> tuple[str | None, str | None]:
    """:49A: its code (first line: ``COMP`` or ``INCP``, also written ``/COMP/``) and its words
    (the lines after it, joined by spaces: the ledger keeps one line of at most 780)."""
    if v is None:
        return None, None
    lines = v.split("\n")
    code = lines[0].strip().strip("/")
    if code not in STATEMENT_CODES:
        problems.append(f":49A: the first line {lines[0]!r} is not a code: "
                        f"{' or '.join(STATEMENT_CODES)}")
    words = " ".join(ln.strip() for ln in lines[1:] if ln.strip())
    if len(words) > MAX_STATEMENT:
        problems.append(f":49A: the statement has {len(words)} characters; the ledger keeps at "
                        f"most {MAX_STATEMENT}")
    return code, words or None


def _bic(fields: dict[str, str], tag: str) -> str | None:
    b = bic_of(fields, tag)
    return None if b is None else bic11(b)


def parse(text: str) -> Mt765:
    """Read an MT765: a whole FIN message or its text block's fields, every field checked.

    Raises:
        MtError: listing every problem, each naming its field and, when it is in the message,
            its block-4 line: missing mandatory fields, unknown or repeated tags, shapes,
            dates, the amount, :22G: other than PAYM/PAEX, PAEX without :31E: (or PAYM with
            one), :49A:'s code.
    """
    problems: list[str] = []
    text_n = _line_ends(text, problems)
    header, body = _envelope(text_n, problems, "765")
    fields = _fields(body, problems, FIELDS, "765")
    missing = [t for t in MANDATORY if not any(k in fields for k in _OPTIONS.get(t, (t,)))]
    if missing:
        problems.insert(0, "mandatory fields missing: " + ", ".join(f":{t}:" for t in missing))
    for tag, v in fields.items():
        check_shape(tag, v, problems, FIELDS)
    _exclusive(fields, EXCLUSIVE, problems)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    check_reference("20", get("20"), problems)
    check_reference("21", get("21"), problems)
    kind = get("22G")
    if "22G" in fields and kind not in DEMAND_TYPES:
        problems.append(f":22G: {kind!r} is not one of {', '.join(DEMAND_TYPES)} (PAYM pay, "
                        "PAEX pay or extend)")
    extend = _date("31E", get("31E"), problems) if "31E" in fields else None
    if kind == "PAEX" and "31E" not in fields:
        problems.append(":22G: PAEX (pay or extend) needs :31E:, the expiry date asked for")
    if kind == "PAYM" and "31E" in fields:
        problems.append(":31E: a new expiry date is asked only with :22G: PAEX (pay or extend)")
    demand_date = _date("31L", get("31L"), problems) if "31L" in fields else None
    currency, amount = (currency_amount("32B", get("32B"), problems) if "32B" in fields
                        else ("", ""))
    code, statement = _statement(fields.get("49A"), problems)
    unkept = sorted(t for t in fields if t not in _KEPT)
    notes = (["not kept on the ledger (checked for shape only): "
              + ", ".join(f":{t}:" for t in unkept)] if unkept else [])
    if code == "INCP":
        notes.append(":49A: INCP: the beneficiary presents supporting documents separately; "
                     "the ledger records the demand when it is made")
    if problems:
        raise MtError(numbered(text, problems, "765"))
    beneficiary = tuple(ln.strip() for ln in (get("59") or get("59A")).split("\n")
                        if ln.strip() and not ln.startswith("/"))
    return Mt765(header=header, fields=fields, reference=get("20"),
                 related_reference=get("21") or None,
                 issuer_bic=_bic(fields, "52A"), beneficiary=beneficiary,
                 demand_date=demand_date, demand_type=kind, currency=currency, amount=amount,
                 statement_code=code, statement=statement, extend_to=extend, notes=tuple(notes))


def terms(msg: Mt765, exponent: int, guarantee_id: str) -> dict[str, object]:
    """The ``demand`` arguments an MT765 gives under the guarantee ``guarantee_id``, the amount
    in minor units of a currency with ``exponent`` decimals (exact: the comma moved, no float);
    :49A:'s words are the supporting statement, :31E: the extend-or-pay date.

    Raises:
        MtError: more decimals than the currency has, zero, above the ledger's largest amount.
    """
    out: dict[str, object] = {"guarantee_id": guarantee_id,
                              "amount": amount_to_minor(msg.amount, exponent, "32B")}
    if msg.statement:
        out["supporting_statement"] = msg.statement
    if msg.extend_to is not None:
        out["extend_or_pay"] = msg.extend_to.isoformat()
    return out


@dataclass(frozen=True, slots=True)
class DemandTerms:
    """What :func:`render` writes: a demand the ledger holds, from the beneficiary's side
    (``sender_bic``) to the guarantor (``receiver_bic``); ``amount`` in minor units of
    ``currency`` (``exponent`` decimals)."""

    sender_bic: str
    receiver_bic: str
    reference: str
    guarantee_number: str
    issuer_bic: str
    beneficiary: str
    demand_date: datetime.date
    currency: str
    exponent: int
    amount: int
    statement: str
    extend_to: datetime.date | None = None


def render(t: DemandTerms) -> str:
    """An MT765 (blocks {1:}{2:}{4:...-}, CRLF line ends): 20, 21 the guarantee number, 52A,
    59, 31L, 22G (PAEX with :31E: when an extension is asked), 32B, 49A ``COMP`` and the
    statement wrapped at 65.

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    for what, bic in (("sender", t.sender_bic), ("receiver", t.receiver_bic),
                      ("issuer", t.issuer_bic)):
        if not is_bic(bic):
            problems.append(f"header: the {what} {bic!r} is not a BIC")
    amount = minor_to_amount(t.amount, t.exponent)
    if len(amount) > 15:
        problems.append(f":32B: {t.currency} {amount} has more than 15 characters")
    names = _wrap(t.beneficiary, 35, 5)
    fields: list[tuple[str, list[str]]] = [
        ("20", [t.reference]), ("21", [t.guarantee_number]),
        ("52A", [bic11(t.issuer_bic) if is_bic(t.issuer_bic) else t.issuer_bic]),
        ("59", names), ("31L", [_yymmdd(t.demand_date, "31L", problems)]),
        ("22G", ["PAEX" if t.extend_to else "PAYM"]), ("32B", [t.currency + amount])]
    statement = _wrap(t.statement, 65, 50) if t.statement else []
    fields.append(("49A", ["COMP", *statement]))
    if t.extend_to is not None:
        fields.append(("31E", [_yymmdd(t.extend_to, "31E", problems)]))
    if problems:
        raise MtError(problems)
    return fin_message("765", bic11(t.sender_bic), bic11(t.receiver_bic), fields, problems,
                       FIELDS)
