"""SWIFT MT734 (Advice of Refusal): read an issuing bank's refusal of a presentation into the
ledger's ``refuse_presentation`` terms, and write one for a refusal the ledger records. Pure:
text in, values out; no IO, no clock, no floats.

The mapping rules live in the tables of this module, and nowhere else:

- :data:`FIELDS`, :data:`MANDATORY`, :data:`EXCLUSIVE`: every MT734 field (SR 2018 and later);
- :data:`DISCREPANCIES`: the usual ICC / ISBP wording of a discrepancy in :77J: and the ledger
  code (``letters_of_credit.DISCREPANCY_CODES``) each wording is;
- :data:`DISPOSALS`: the codes of :77B: (UCP 600 art. 16 c iii).

The field reading, amounts and dates are :mod:`chainfin.swift.mt700`'s. docs/swift.md prints
the tables.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chainfin.swift.mt700 import (
    FieldSpec,
    Header,
    MtError,
    _amount_format,
    _date,
    _yymmdd,
    amount_to_minor,
    bic11,
    check_reference,
    fin_message,
    minor_to_amount,
    read_fields,
)

__all__ = ["DISCREPANCIES", "DISPOSALS", "EXCLUSIVE", "FIELDS", "HELD", "LEDGER_CODES",
           "MANDATORY", "REFERENCE_LENGTH", "Discrepancy", "Mt734", "Refusal", "codes_of",
           "parse", "presentation_reference", "reference_key", "refusal_codes", "render",
           "terms", "utilisation"]

#: Every MT734 field tag (SR 2018 and later). Options of a field are listed each.
FIELDS: dict[str, FieldSpec] = {
    "20": FieldSpec("Sender's TRN", 1, 16),
    "21": FieldSpec("Presenting Bank's Reference", 1, 16),
    "32A": FieldSpec("Date and Amount of Utilisation", 1, 24),
    "73A": FieldSpec("Charges Claimed", 6, 35, "z"),
    "33A": FieldSpec("Total Amount Claimed", 1, 24),
    "33B": FieldSpec("Total Amount Claimed", 1, 18),
    "57A": FieldSpec("Account With Bank", 2, 35),
    "57B": FieldSpec("Account With Bank", 2, 35),
    "57D": FieldSpec("Account With Bank", 5, 35),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
    "77J": FieldSpec("Discrepancies", 70, 50, "z"),
    "77B": FieldSpec("Disposal of Documents", 3, 35),
}

#: Mandatory fields of an MT734.
MANDATORY = ("20", "21", "32A", "77J", "77B")

#: Fields of which an MT734 holds at most one (a field's options).
EXCLUSIVE = (("33A", "33B"), ("57A", "57B", "57D"))

#: The ledger's discrepancy codes (``contracts.trade.letters_of_credit.DISCREPANCY_CODES``;
#: chainfin imports nothing from contracts: a unit test keeps the two equal).
LEDGER_CODES = ("late_presentation", "amount_mismatch", "party_mismatch", "missing_document",
                "description_mismatch", "inconsistent_documents", "unsigned_document", "other")


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A ledger discrepancy code, the line written for it, and the words that name it in
    :77J: (any case; whole words)."""

    code: str
    label: str
    wording: tuple[str, ...]


#: :77J: wording -> the ledger's discrepancy codes, after the usual ICC / ISBP 745 phrasing of
#: refusal notices. An item is every code whose words occur in it (a refusal naming several
#: problems is several codes); words inside longer words of the table do not count. Wording
#: the table does not hold is never guessed: the message is refused unless the user names the
#: code. ``other`` is only its own words: a refusal is never "other" by default.
DISCREPANCIES: tuple[Discrepancy, ...] = (
    Discrepancy("late_presentation", "+LATE PRESENTATION", (
        "LATE PRESENTATION", "PRESENTED LATE", "PRESENTATION AFTER", "PRESENTED AFTER",
        "PRESENTATION BEYOND", "PRESENTED BEYOND", "CREDIT EXPIRED", "L/C EXPIRED",
        "LC EXPIRED", "EXPIRED CREDIT", "EXPIRED L/C", "AFTER EXPIRY", "AFTER THE EXPIRY")),
    Discrepancy("amount_mismatch", "+AMOUNT NOT AS PER CREDIT", (
        "AMOUNT EXCEEDS", "AMOUNT EXCEEDED", "EXCEEDS CREDIT", "EXCEEDS THE CREDIT",
        "EXCEEDS L/C", "EXCEEDS THE L/C", "EXCEEDS LC", "CREDIT OVERDRAWN", "L/C OVERDRAWN",
        "OVERDRAWN", "OVERDRAWING", "OVER DRAWN", "AMOUNT NOT AS", "AMOUNT DIFFERS",
        "AMOUNTS DIFFER", "AMOUNT MISMATCH", "INCORRECT AMOUNT", "AMOUNT INCORRECT",
        "WRONG AMOUNT")),
    Discrepancy("party_mismatch", "+BENEFICIARY OR APPLICANT NAME NOT AS PER CREDIT", (
        "BENEFICIARY NAME", "APPLICANT NAME", "BENEFICIARY'S NAME", "APPLICANT'S NAME",
        "NAME OF BENEFICIARY", "NAME OF APPLICANT", "NAME OF THE BENEFICIARY",
        "NAME OF THE APPLICANT", "WRONG BENEFICIARY", "WRONG APPLICANT",
        "NOT ISSUED BY BENEFICIARY", "NOT ISSUED BY THE BENEFICIARY",
        "NOT MADE OUT IN THE NAME OF THE APPLICANT", "NOT MADE OUT TO THE APPLICANT",
        "PARTY MISMATCH")),
    Discrepancy("missing_document", "+DOCUMENTS REQUIRED NOT PRESENTED", (
        "DOCUMENT MISSING", "DOCUMENTS MISSING", "MISSING DOCUMENT", "MISSING DOCUMENTS",
        "NOT PRESENTED", "NOT SUBMITTED", "NOT ENCLOSED", "FULL SET NOT",
        "INCOMPLETE SET")),
    Discrepancy("description_mismatch", "+DESCRIPTION OF GOODS NOT AS PER CREDIT", (
        "DESCRIPTION OF GOODS", "DESCRIPTION OF THE GOODS", "GOODS DESCRIPTION",
        "DESCRIPTION DIFFERS", "DESCRIPTION DOES NOT", "DESCRIPTION NOT AS",
        "DESCRIPTION MISMATCH")),
    Discrepancy("inconsistent_documents", "+DOCUMENTS INCONSISTENT", (
        "DOCUMENTS INCONSISTENT", "INCONSISTENT", "INCONSISTENCY", "INCONSISTENCIES",
        "NOT CONSISTENT", "CONFLICTS WITH", "CONFLICTING", "DATA CONFLICT")),
    Discrepancy("unsigned_document", "+DOCUMENT NOT SIGNED", (
        "NOT SIGNED", "UNSIGNED", "SIGNATURE MISSING", "MISSING SIGNATURE",
        "WITHOUT SIGNATURE", "NOT AUTHENTICATED")),
    Discrepancy("other", "+OTHER DISCREPANCY", ("OTHER DISCREPANCY", "OTHER DISCREPANCIES")),
)

#: :77B: line 1 ``/code/[text]``: what the refusing bank does with the documents (UCP 600
#: art. 16 c iii a-d), ``refuse_presentation``'s ``disposal`` (the contract's ``DISPOSALS``, a
#: unit test keeps the two equal): HOLD and NOTIFY keep the documents under the refused
#: presentation (``held``: the applicant may waive, the bank honour or return them); RETURN
#: and PREVINST free them for a new presentation (the ledger keeps no previous instructions).
DISPOSALS = {
    "HOLD": "holding the documents pending further instructions from the presenter",
    "NOTIFY": "holding the documents until the applicant waives the discrepancies",
    "RETURN": "returning the documents",
    "PREVINST": "acting in accordance with instructions previously received from the presenter",
}

#: The disposals under which the ledger holds the documents (the contract's HELD_DISPOSALS).
HELD = ("HOLD", "NOTIFY")

#: :21: of a presentation recorded without the presenter's reference (``present``'s
#: ``reference``): its ledger id (64 hex digits) cut to the field's 16 characters, upper case.
REFERENCE_LENGTH = 16


def presentation_reference(presentation_id: str, reference: object = None) -> str:
    """The :21: reference of a presentation: the presenter's ``reference`` on its record when
    there is one, else the first 16 hex digits of its id, upper case."""
    if isinstance(reference, str) and reference:
        return reference
    return presentation_id[:REFERENCE_LENGTH].upper()


def reference_key(lc_id: str, reference: str) -> str:
    """The ledger's state key (under ``trade_documents/``) that resolves a presenter's
    reference among an LC's presentations (``letters_of_credit.reference_key``, which a unit
    test keeps equal): ``presref/<lc_id>/<the reference upper-cased, hex of its ASCII>``."""
    return f"presref/{lc_id}/{reference.upper().encode().hex()}"


@dataclass(frozen=True, slots=True)
class Mt734:
    """One MT734, read and checked. ``fields``: every field's text as in the message; the rest is
    what the ledger uses. ``discrepancies``: each :77J: item with the codes it maps to (none:
    the table does not know its wording)."""

    header: Header | None
    fields: dict[str, str]
    reference: str
    presentation_ref: str
    utilisation_date: datetime.date
    currency: str
    amount: str
    discrepancies: tuple[tuple[str, tuple[str, ...]], ...]
    disposal: str
    notes: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        """The ledger codes :77J: maps to, sorted, each once."""
        return sorted({c for _, codes in self.discrepancies for c in codes})

    @property
    def unmapped(self) -> list[str]:
        """The :77J: items the table maps to no code, as written."""
        return [text for text, codes in self.discrepancies if not codes]


# ---------------------------------------------------------------------------- reading

_ITEM_START = re.compile(r"^\s*(\+|\d{1,2}[.)](\s|$)|[A-Z][.)]\s)")


def _items(text: str) -> list[str]:
    """The items of :77J: — each starts with "+" or a number ("1." "2)" "A)"), its lines after it
    continue it. A field without such marks is one item: a discrepancy runs over lines of 50
    characters, so a line alone is no item."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if not any(_ITEM_START.match(ln) for ln in lines):
        return [" ".join(lines)] if lines else []
    items: list[str] = []
    for ln in lines:
        if _ITEM_START.match(ln) or not items:
            items.append(ln)
        else:
            items[-1] += " " + ln
    return items


def codes_of(item: str) -> tuple[str, ...]:
    """The ledger codes whose words occur in ``item`` (whole words, any case; a match inside a
    longer match does not count), in the table's order."""
    text = " ".join(item.upper().split())
    found = [(m.start(), m.end(), d.code) for d in DISCREPANCIES for w in d.wording
             for m in re.finditer(r"(?<![A-Z0-9])" + re.escape(w) + r"(?![A-Z0-9])", text)]
    kept = {code for s, e, code in found
            if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in found)}
    return tuple(d.code for d in DISCREPANCIES if d.code in kept)


def _dated_amount(tag: str, v: str, problems: list[str]
                  ) -> tuple[datetime.date | None, str, str]:
    """``6!n3!a15d``: a date YYMMDD, a currency code, a SWIFT amount (format only; the decimals
    are checked with the currency's exponent)."""
    date = _date(tag, v[:6], problems)
    currency, amount = v[6:9], v[9:]
    if not re.fullmatch(r"[A-Z]{3}", currency):
        problems.append(f":{tag}: {v!r} has no currency code (3 capitals) after the date")
    try:
        _amount_format(amount, tag)
    except MtError as e:
        problems.extend(e.problems)
    return date, currency, amount


def _disposal(v: str, problems: list[str]) -> str:
    lines = v.split("\n")
    m = re.fullmatch(r"/([A-Z0-9]{1,8})/(.*)", lines[0].strip())
    if m is None:
        problems.append(f":77B: line 1 {lines[0]!r} is not /CODE/[text] with a code of "
                        f"{', '.join(DISPOSALS)}")
        return ""
    if m[1] not in DISPOSALS:
        problems.append(f":77B: /{m[1]}/ is none of {', '.join(DISPOSALS)} (UCP 600 art. 16 c iii)")
    for i, ln in enumerate(lines[1:], 2):
        if not ln.startswith("//"):
            problems.append(f":77B: line {i} does not continue line 1 with '//'")
    return m[1]


def parse(text: str) -> Mt734:
    """Read an MT734: a whole FIN message or only its text block's fields, checked as
    :func:`chainfin.swift.mt700.parse` checks an MT700 (header, shapes, SWIFT X/Z sets).

    Raises:
        MtError: listing every problem, each naming its field tag: missing mandatory fields,
            unknown or repeated tags, shapes, dates, amounts, a :77B: code that is none of
            :data:`DISPOSALS`, :73A: without :33a: (rule C1), a :33a: currency other than
            :32A:'s (rule C2). A :77J: the table cannot map is not refused here: see
            :func:`refusal_codes`.
    """
    problems: list[str] = []
    notes: list[str] = []
    header, fields = read_fields(text, problems, "734", FIELDS, MANDATORY, EXCLUSIVE)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    reference = get("20")
    check_reference("20", reference, problems)
    date, currency, amount = (_dated_amount("32A", get("32A"), problems) if "32A" in fields
                              else (None, "", ""))
    claimed = "33A" if "33A" in fields else "33B" if "33B" in fields else None
    if claimed is not None:
        v = get(claimed)
        if claimed == "33A":
            _, ccy, _ = _dated_amount("33A", v, problems)
        else:
            ccy = v[:3]
            try:
                _amount_format(v[3:], "33B")
            except MtError as e:
                problems.extend(e.problems)
        if currency and ccy != currency:
            problems.append(f":{claimed}: {ccy!r}: the amount claimed is in the currency of "
                            f":32A: ({currency}) (rule C2)")
    if "73A" in fields and claimed is None:
        problems.append(":73A: charges claimed need the total amount claimed, :33A: or :33B: "
                        "(rule C1)")
    disposal = _disposal(fields["77B"], problems) if "77B" in fields and get("77B") else ""
    items = tuple((item, codes_of(item)) for item in _items(fields.get("77J", "")))
    if disposal in HELD:
        notes.append(f":77B: /{disposal}/ ({DISPOSALS[disposal]}): the ledger holds the "
                     "documents under the refused presentation until the applicant waives and "
                     "the bank accepts, or they are returned (return_documents)")
    if disposal == "PREVINST":
        notes.append(":77B: /PREVINST/: the ledger keeps no instructions of the presenter; its "
                     "refusal frees the documents for a new presentation, as /RETURN/")
    if disposal and get("77B") != f"/{disposal}/":
        notes.append(":77B: only the code is kept on the ledger, not the text after it")
    unkept = sorted(t for t in fields if t in ("20", "73A", "33A", "33B", "57A", "57B", "57D",
                                               "72Z"))
    if unkept:
        notes.append("not kept on the ledger (checked for shape only): "
                     + ", ".join(f":{t}:" for t in unkept))
    if problems:
        raise MtError(problems)
    assert date is not None
    return Mt734(header=header, fields=fields, reference=reference,
                 presentation_ref=get("21"), utilisation_date=date, currency=currency,
                 amount=amount, discrepancies=items, disposal=disposal, notes=tuple(notes))


def refusal_codes(msg: Mt734, given: Iterable[str] = ()) -> list[str]:
    """``refuse_presentation``'s ``discrepancies``: the codes :77J: maps to and those ``given``
    (the user's ``--code``), sorted, each once.

    Raises:
        MtError: a given code is no ledger code; an item of :77J: maps to no code and none was
            given (the table's wording is not guessed at: the user reads the item and names
            its code).
    """
    given = list(given)
    bad = [c for c in given if c not in LEDGER_CODES]
    if bad:
        raise MtError([f"--code {c!r} is no ledger discrepancy code ({', '.join(LEDGER_CODES)})"
                       for c in bad])
    if msg.unmapped and not given:
        listed = "; ".join(repr(t) for t in msg.unmapped)
        raise MtError([f":77J: discrepancies whose wording maps to no ledger code: {listed}; "
                       f"name their code with --code ({', '.join(LEDGER_CODES)})"])
    return sorted(set(msg.codes) | set(given))


def utilisation(msg: Mt734, exponent: int) -> tuple[datetime.date, str, int]:
    """:32A: as (date, currency, amount in minor units of a currency with ``exponent``).

    Raises:
        MtError: more decimals than the currency has, zero, above the ledger's largest amount.
    """
    return msg.utilisation_date, msg.currency, amount_to_minor(msg.amount, exponent, "32A")


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class Refusal:
    """What :func:`render` writes: a refusal on the ledger. ``reference`` is the sender's TRN
    (the LC number on export); ``amount`` in minor units of ``currency``."""

    sender_bic: str
    receiver_bic: str
    reference: str
    presentation_ref: str
    utilisation_date: datetime.date
    currency: str
    exponent: int
    amount: int
    discrepancies: tuple[str, ...]
    disposal: str = "RETURN"


def render(r: Refusal) -> str:
    """An MT734 (blocks {1:}{2:}{4:...-}, CRLF line ends) from the issuing bank ``r.sender_bic``
    to ``r.receiver_bic``: :20:, :21:, :32A:, :77J: (one item per code, in the table's order and
    words, so :func:`parse` reads the same codes back) and :77B: ``/code/``.

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    s11, r11 = bic11(r.sender_bic), bic11(r.receiver_bic)
    amount = minor_to_amount(r.amount, r.exponent)
    if len(amount) > 15:
        problems.append(f":32A: {r.currency} {amount} has more than 15 characters: an MT734 "
                        "cannot carry this amount")
    items = [d.label for d in DISCREPANCIES if d.code in r.discrepancies]
    for code in sorted(set(r.discrepancies) - {d.code for d in DISCREPANCIES}):
        problems.append(f":77J: {code!r} is no ledger discrepancy code")
    if not items:
        problems.append(":77J: the refusal names no discrepancy")
    if r.disposal not in DISPOSALS:
        problems.append(f":77B: {r.disposal!r} is none of {', '.join(DISPOSALS)}")
    fields: list[tuple[str, list[str]]] = [
        ("20", [r.reference]), ("21", [r.presentation_ref]),
        ("32A", [_yymmdd(r.utilisation_date, "32A", problems) + r.currency + amount]),
        ("77J", items), ("77B", [f"/{r.disposal}/"])]
    return fin_message("734", s11, r11, fields, problems, FIELDS)


def terms(msg: Mt734, exponent: int, given: Iterable[str] = ()) -> Mapping[str, object]:
    """What a refusal message says, in ledger terms (for comparing a message with the ledger or
    a written message with what it was written from): the presentation reference, the
    utilisation date, currency and minor units, the codes, the disposal.

    Raises:
        MtError: as :func:`utilisation` and :func:`refusal_codes`.
    """
    date, currency, minor = utilisation(msg, exponent)
    return {"presentation_ref": msg.presentation_ref.upper(), "utilisation_date": date,
            "currency": currency, "amount": minor,
            "discrepancies": refusal_codes(msg, given), "disposal": msg.disposal}
