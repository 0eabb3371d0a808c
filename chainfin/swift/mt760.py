"""SWIFT MT760 (Issue of a Demand Guarantee / Standby Letter of Credit, SR 2021 layout): read
one into the ledger's guarantee terms, and write one from them. Pure: text in, values out; no
IO, no clock, no floats.

Sequence A (General Information: 15A, 27, 22A, 72Z, 23X) and sequence B (Undertaking Details:
15B, 20, 30, 22D, 40C, 23B, 31E, 35G, 50, 51, 52a, 59a, 56a, 23, 57a, 32B, 39D, 71D, 45C, 77U,
49, 58a, 44J, 22K, 48B, 48D, 23F, 78, 26E, 31S, 24E, 24G, 45L, 22Y...) as :data:`FIELDS` lists
them; sequence C (a local undertaking, for a counter-guarantee) is not read. Field reading,
amounts and dates are :mod:`chainfin.swift.mt700`'s. docs/swift.md "MT760" has the mapping.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from chainfin.swift.mt700 import (
    FieldSpec,
    Header,
    MtError,
    _check_shape,
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

__all__ = ["FIELDS", "MANDATORY", "SEQUENCE_A", "TYPES", "GuaranteeTerms", "Mt760", "parse",
           "render", "terms"]

#: The fields of sequences A and B (SR 2021 and later), each with its SWIFT format. The
#: sequence markers 15A and 15B are empty fields.
FIELDS: dict[str, FieldSpec] = {
    "15A": FieldSpec("New Sequence", 1, 0),
    "27": FieldSpec("Sequence of Total", 1, 3),
    "22A": FieldSpec("Purpose of Message", 1, 4),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
    "23X": FieldSpec("File Identification", 1, 70),
    "15B": FieldSpec("New Sequence", 1, 0),
    "20": FieldSpec("Undertaking Number", 1, 16),
    "30": FieldSpec("Date of Issue", 1, 6),
    "22D": FieldSpec("Form of Undertaking", 1, 4),
    "40C": FieldSpec("Applicable Rules", 1, 40),
    "23B": FieldSpec("Expiry Type", 1, 4),
    "31E": FieldSpec("Date of Expiry", 1, 6),
    "35G": FieldSpec("Expiry Condition/Event", 12, 65),
    "50": FieldSpec("Applicant", 4, 35),
    "51": FieldSpec("Obligor/Instructing Party", 4, 35),
    "52A": FieldSpec("Issuer", 2, 35),
    "52D": FieldSpec("Issuer", 5, 35),
    "59": FieldSpec("Beneficiary", 5, 35),
    "59A": FieldSpec("Beneficiary", 2, 35),
    "56A": FieldSpec("Advising Bank", 2, 35),
    "56D": FieldSpec("Advising Bank", 5, 35),
    "23": FieldSpec("Advising Bank Reference", 1, 16),
    "57A": FieldSpec("'Advise Through' Bank", 2, 35),
    "57D": FieldSpec("'Advise Through' Bank", 5, 35),
    "32B": FieldSpec("Undertaking Amount", 1, 18),
    "39D": FieldSpec("Additional Amount Information", 12, 65, "z"),
    "71D": FieldSpec("Charges", 6, 35, "z"),
    "45C": FieldSpec("Document and Presentation Instructions", 100, 65, "z"),
    "77U": FieldSpec("Undertaking Terms and Conditions", 150, 65, "z"),
    "49": FieldSpec("Confirmation Instructions", 1, 7),
    "58A": FieldSpec("Requested Confirmation Party", 2, 35),
    "58D": FieldSpec("Requested Confirmation Party", 5, 35),
    "44J": FieldSpec("Governing Law and/or Place of Jurisdiction", 1, 68),
    "22K": FieldSpec("Type of Undertaking", 1, 40),
    "23F": FieldSpec("Automatic Extension Period", 1, 40),
    "78": FieldSpec("Automatic Extension Non-Extension Notification", 12, 65),
    "26E": FieldSpec("Automatic Extension Notification Period", 1, 3),
    "31S": FieldSpec("Automatic Extension Final Expiry Date", 1, 6),
    "48B": FieldSpec("Demand Indicator", 1, 4),
    "48D": FieldSpec("Transfer Indicator", 1, 4),
    "39E": FieldSpec("Transfer Conditions", 12, 65, "z"),
    "45L": FieldSpec("Underlying Transaction Details", 50, 65, "z"),
    "24E": FieldSpec("Delivery of Original Undertaking", 1, 40),
    "24G": FieldSpec("Delivery To/Collection By", 7, 35),
}
#: Sequence A's tags (what may stand between 15A and 15B).
SEQUENCE_A = ("15A", "27", "22A", "72Z", "23X")
MANDATORY = ("15A", "27", "22A", "15B", "20", "30", "22D", "40C", "23B", "52a", "59a", "32B",
             "77U")
EXCLUSIVE = (("52A", "52D"), ("59", "59A"), ("56A", "56D"), ("57A", "57D"), ("58A", "58D"))
#: :40C: rules per :22D: form: URDG 758 for a demand guarantee, ISP98 for a standby.
RULES = {"DGAR": "URDG", "STBY": "ISPR"}
#: :22K: Type of Undertaking -> the ledger's ``guarantee_type`` (anything else: ``other``).
TYPES = {"TEND": "bid", "PERF": "performance", "APAY": "advance_payment", "PAYM": "payment"}
#: Fields read for their shape only: the ledger does not keep them.
_KEPT = {"15A", "27", "22A", "15B", "20", "30", "22D", "40C", "23B", "31E", "35G", "50", "52A",
         "52D", "59", "59A", "56A", "32B", "77U", "22K"}
_OPTIONS = {"52a": ("52A", "52D"), "59a": ("59", "59A")}
TAG_LINE = re.compile(r"^:([0-9]{2}[A-Z]?):")


@dataclass(frozen=True, slots=True)
class Mt760:
    """One MT760, read and checked; the amount as written (:func:`terms` applies the currency's
    exponent)."""

    header: Header | None
    fields: dict[str, str]
    guarantee_number: str
    issue_date: datetime.date
    form: str
    guarantee_type: str
    expiry_date: datetime.date | None
    expiry_event: str | None
    applicant: tuple[str, ...]
    beneficiary: tuple[str, ...]
    issuer_bic: str | None
    advising_bic: str | None
    currency: str
    amount: str
    underlying_ref: str
    notes: tuple[str, ...] = ()


def tag_lines(text: str, mt: str = "760") -> dict[str, int]:
    """Each field tag's line number in block 4 (1 = the first line after ``{4:``) of an MT
    ``mt`` (760, 765, 767: their readers number their problems by it)."""
    problems: list[str] = []
    _, body = _envelope(_line_ends(text, problems), problems, mt)
    out: dict[str, int] = {}
    for n, line in enumerate(body.split("\n"), 1):
        m = TAG_LINE.match(line)
        if m and m[1] not in out:
            out[m[1]] = n
    return out


def check_sequences(text: str, fields: dict[str, str], problems: list[str], mt: str = "760",
                    sequence_a: tuple[str, ...] = SEQUENCE_A) -> None:
    """Sequence A first (15A, its fields ``sequence_a``), then 15B and sequence B's; no
    sequence C (an MT760's and an MT767's shape)."""
    lines = tag_lines(text, mt)
    order = sorted(lines, key=lines.__getitem__)
    if "15C" in lines:
        problems.append(f"block 4 line {lines['15C']}: :15C: sequence C (a local undertaking "
                        "of a counter-guarantee) is not supported")
    if order and order[0] != "15A":
        problems.append(f"block 4 line {lines[order[0]]}: the message starts with :15A: "
                        f"(sequence A), not :{order[0]}:")
    b_at = lines.get("15B", 10**9)
    for tag in order:
        at = lines[tag]
        if tag in sequence_a and at > b_at:
            problems.append(f"block 4 line {at}: :{tag}: belongs to sequence A, before :15B:")
        elif tag not in sequence_a and tag not in ("15B", "15C") and at < b_at:
            problems.append(f"block 4 line {at}: :{tag}: belongs to sequence B, after :15B:")
    for tag in ("15A", "15B"):
        if fields.get(tag, "").strip():
            problems.append(f"block 4 line {lines[tag]}: :{tag}: is an empty field")


def _code(tag: str, v: str, allowed: tuple[str, ...], problems: list[str],
          unsupported: str = "") -> str:
    if v not in allowed:
        problems.append(f":{tag}: {v!r} is not one of {', '.join(allowed)}{unsupported}")
    return v


def bic_of(fields: dict[str, str], tag: str) -> str | None:
    """The BIC on the last line of a party field (:52A: and the like), as written; None when
    the field is absent or its last line is no BIC."""
    v = fields.get(tag)
    if v is None:
        return None
    last = v.split("\n")[-1].strip()
    return last if is_bic(last) else None


def _expiry(fields: dict[str, str], problems: list[str]
            ) -> tuple[datetime.date | None, str | None]:
    """:23B: FIXD: a date (:31E:), no event; COND: an event (:35G:), a date optional; OPEN
    (no expiry) is not held by the ledger."""
    kind = _code("23B", fields.get("23B", "").strip(), ("FIXD", "COND"), problems,
                 " (OPEN, an undertaking without expiry, is not supported)")
    date = _date("31E", fields["31E"].strip(), problems) if "31E" in fields else None
    event = " ".join(ln.strip() for ln in fields["35G"].split("\n")) if "35G" in fields else None
    if kind == "FIXD" and (date is None or event is not None):
        problems.append(":23B: FIXD needs :31E: and no :35G: (rule C1)")
    if kind == "COND" and event is None:
        problems.append(":23B: COND needs :35G: (rule C1)")
    return date, event


def _party_lines(tag: str, v: str) -> tuple[str, ...]:
    lines = [ln.strip() for ln in v.split("\n")]
    if tag in ("59", "59A") and lines and lines[0].startswith("/"):
        lines = lines[1:]  # an account line
    return tuple(ln for ln in lines if ln)


def _read(text: str, problems: list[str]) -> tuple[Header | None, dict[str, str]]:
    text = _line_ends(text, problems)
    header, body = _envelope(text, problems, "760")
    fields = _fields(body, problems, FIELDS, "760")
    missing = [t for t in MANDATORY if not any(k in fields for k in _OPTIONS.get(t, (t,)))]
    if missing:
        problems.insert(0, "mandatory fields missing: " + ", ".join(f":{t}:" for t in missing))
    for tag, v in fields.items():
        if tag not in ("15A", "15B"):
            _check_shape(tag, v, problems, FIELDS)
    _exclusive(fields, EXCLUSIVE, problems)
    return header, fields


def currency_amount(tag: str, v: str, problems: list[str]) -> tuple[str, str]:
    """An amount field (:32B: and the like) as (currency, SWIFT amount as written), or ("", "")
    with the problem noted (the guarantee messages' one reader of it)."""
    if not re.fullmatch(r"[A-Z]{3}[0-9]+,[0-9]*", v):
        problems.append(f":{tag}: {v!r} is not a currency code and a SWIFT amount "
                        "(EUR125000,00)")
        return "", ""
    return v[:3], v[3:]


def parse(text: str) -> Mt760:
    """Read an MT760: a whole FIN message or its text block's fields, every field checked
    strictly, sequence A before sequence B.

    Raises:
        MtError: listing every problem, naming the field tag (and the block-4 line of a
            misplaced one): missing mandatory fields, unknown or repeated tags, shapes, dates,
            the amount, codes the ledger does not hold (a counter-undertaking, DEPU, OPEN,
            rules other than URDG for DGAR and ISPR for STBY), sequence C.
    """
    problems: list[str] = []
    header, fields = _read(text, problems)
    check_sequences(text, fields, problems)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    if get("27") and get("27") != "1/1":
        problems.append(f":27: {get('27')}: MT761 continuations are not read (only 1/1)")
    _code("22A", get("22A"), ("ISSU",), problems, " (a counter-undertaking, ICCO/ISCO, is not "
          "supported)")
    check_reference("20", get("20"), problems)
    issued = _date("30", get("30"), problems) if "30" in fields else None
    form = _code("22D", get("22D"), ("DGAR", "STBY"), problems, " (DEPU is not supported)")
    rules = get("40C").split("/")[0]
    if form in RULES and rules != RULES[form]:
        problems.append(f":40C: {rules!r}: a {form} on this ledger is subject to {RULES[form]}")
    expiry_date, expiry_event = _expiry(fields, problems)
    currency, amount = currency_amount("32B", get("32B"), problems)
    kind = get("22K").split("/")[0]
    terms_text = [ln.strip() for ln in get("77U").split("\n") if ln.strip()]
    unkept = sorted(t for t in fields if t not in _KEPT)
    notes = (["not kept on the ledger (checked for shape only): "
              + ", ".join(f":{t}:" for t in unkept)] if unkept else [])
    if problems:
        raise MtError(problems)
    assert issued is not None
    return Mt760(header=header, fields=fields, guarantee_number=get("20"), issue_date=issued,
                 form=form, guarantee_type=TYPES.get(kind, "other"), expiry_date=expiry_date,
                 expiry_event=expiry_event, applicant=_party_lines("50", get("50")),
                 beneficiary=_party_lines("59", get("59") or get("59A")),
                 issuer_bic=bic_of(fields, "52A"), advising_bic=bic_of(fields, "56A"),
                 currency=currency, amount=amount,
                 underlying_ref=(terms_text[0][:65] if terms_text else ""), notes=tuple(notes))


def terms(msg: Mt760, exponent: int) -> dict[str, object]:
    """The ``issue_guarantee`` arguments an MT760 gives (parties excepted: the ledger's
    identities are named by key, not by :50:/:59: names), the amount in minor units of a
    currency with ``exponent`` decimals.

    Raises:
        MtError: more decimals than the currency has, zero, above the ledger's largest amount.
    """
    out: dict[str, object] = {
        "amount": amount_to_minor(msg.amount, exponent, "32B"), "currency": msg.currency,
        "form": msg.form, "guarantee_type": msg.guarantee_type,
        "guarantee_number": msg.guarantee_number, "underlying_ref": msg.underlying_ref}
    if msg.expiry_date is not None:
        out["expiry_date"] = msg.expiry_date.isoformat()
    if msg.expiry_event is not None:
        out["expiry_event"] = msg.expiry_event
    return out


@dataclass(frozen=True, slots=True)
class GuaranteeTerms:
    """What :func:`render` writes: an on-ledger guarantee, the names and BICs the ledger knows
    for it; ``amount`` in minor units of ``currency`` (``exponent`` decimals)."""

    sender_bic: str
    receiver_bic: str
    guarantee_number: str
    issue_date: datetime.date
    form: str
    guarantee_type: str
    expiry_date: datetime.date | None
    expiry_event: str | None
    applicant: str
    beneficiary: str
    currency: str
    exponent: int
    amount: int
    underlying_ref: str
    advising_bic: str | None = None


#: the writer's table: the empty sequence markers are not shape-checked
_WRITE_FIELDS = {t: s for t, s in FIELDS.items() if t not in ("15A", "15B")}


def _names(tag: str, name: str, problems: list[str]) -> list[str]:
    lines = _wrap(name, 35, 4)
    if len(lines) > 4:
        problems.append(f":{tag}: the name {name!r} needs more than 4 lines of 35 characters")
    return lines


def render(t: GuaranteeTerms) -> str:
    """An MT760 (blocks {1:}{2:}{4:...-}, CRLF line ends) from the guarantor ``t.sender_bic``:
    sequence A (15A, 27, 22A ISSU) and sequence B (15B, 20, 30, 22D, 40C, 23B, 31E / 35G, 50,
    52A, 59, 56A when advised, 32B, 77U with the underlying reference, 22K).

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    for what, bic in (("sender", t.sender_bic), ("receiver", t.receiver_bic)):
        if not is_bic(bic):
            problems.append(f"header: the {what} {bic!r} is not a BIC")
    amount = minor_to_amount(t.amount, t.exponent)
    if len(amount) > 15:
        problems.append(f":32B: {t.currency} {amount} has more than 15 characters")
    fields: list[tuple[str, list[str]]] = [
        ("15A", [""]), ("27", ["1/1"]), ("22A", ["ISSU"]), ("15B", [""]),
        ("20", [t.guarantee_number]), ("30", [_yymmdd(t.issue_date, "30", problems)]),
        ("22D", [t.form]), ("40C", [RULES.get(t.form, "NONE")]),
        ("23B", ["COND" if t.expiry_event else "FIXD"])]
    if t.expiry_date is not None:
        fields.append(("31E", [_yymmdd(t.expiry_date, "31E", problems)]))
    if t.expiry_event:
        fields.append(("35G", _wrap(t.expiry_event, 65, 12)))
    fields += [("50", _names("50", t.applicant, problems)), ("52A", [bic11(t.sender_bic)]),
               ("59", _names("59", t.beneficiary, problems))]
    if t.advising_bic:
        fields.append(("56A", [bic11(t.advising_bic)]))
    kind = {v: k for k, v in TYPES.items()}.get(t.guarantee_type, "OTHR")
    fields += [("32B", [t.currency + amount]),
               ("77U", _wrap(t.underlying_ref, 65, 150)), ("22K", [kind])]
    return fin_message("760", bic11(t.sender_bic), bic11(t.receiver_bic), fields, problems,
                       _WRITE_FIELDS)
