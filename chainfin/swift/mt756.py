"""SWIFT MT756 (Advice of Reimbursement or Payment): write one for a presentation the ledger
honoured and paid, and read one back (the reader checks what the writer wrote, and a back
office's MT756, strictly). Pure: text in, values out; no IO, no clock, no floats.

The field table is :data:`FIELDS` (with :data:`MANDATORY`, :data:`EXCLUSIVE`); the field
reading, amounts and dates are :mod:`chainfin.swift.mt700`'s. docs/swift.md prints the mapping.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from chainfin.swift.mt700 import (
    FieldSpec,
    Header,
    MtError,
    _amount_format,
    _yymmdd,
    amount_to_minor,
    bic11,
    check_reference,
    fin_message,
    minor_to_amount,
    read_fields,
)
from chainfin.swift.mt734 import _dated_amount

__all__ = ["EXCLUSIVE", "FIELDS", "MANDATORY", "Advice", "Mt756", "parse", "render", "terms"]

#: Every MT756 field tag (SR 2018 and later). Options of a bank field are listed each.
FIELDS: dict[str, FieldSpec] = {
    "20": FieldSpec("Sender's Reference", 1, 16),
    "21": FieldSpec("Presenting Bank's Reference", 1, 16),
    "32B": FieldSpec("Total Amount Claimed", 1, 18),
    "33A": FieldSpec("Amount Reimbursed or Paid", 1, 24),
    "53A": FieldSpec("Sender's Correspondent", 2, 35),
    "53B": FieldSpec("Sender's Correspondent", 2, 35),
    "53D": FieldSpec("Sender's Correspondent", 5, 35),
    "54A": FieldSpec("Receiver's Correspondent", 2, 35),
    "54B": FieldSpec("Receiver's Correspondent", 2, 35),
    "54D": FieldSpec("Receiver's Correspondent", 5, 35),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
    "79Z": FieldSpec("Narrative", 35, 50, "z"),
}

#: Mandatory fields of an MT756.
MANDATORY = ("20", "21", "32B", "33A")

#: Fields of which an MT756 holds at most one (a field's options).
EXCLUSIVE = (("53A", "53B", "53D"), ("54A", "54B", "54D"))


@dataclass(frozen=True, slots=True)
class Mt756:
    """One MT756, read and checked; amounts as written (the decimals are checked with the
    currency's exponent by :func:`terms`)."""

    header: Header | None
    fields: dict[str, str]
    reference: str
    presentation_ref: str
    currency: str
    claimed: str
    value_date: datetime.date
    paid: str
    notes: tuple[str, ...] = ()


def parse(text: str) -> Mt756:
    """Read an MT756: a whole FIN message or only its text block's fields, checked as
    :func:`chainfin.swift.mt700.parse` checks an MT700.

    Raises:
        MtError: listing every problem, each naming its field tag: missing mandatory fields,
            unknown or repeated tags, shapes, the value date, amounts, a :33A: currency other
            than :32B:'s (rule C2).
    """
    problems: list[str] = []
    header, fields = read_fields(text, problems, "756", FIELDS, MANDATORY, EXCLUSIVE)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    reference = get("20")
    check_reference("20", reference, problems)
    currency, claimed = "", ""
    if "32B" in fields:
        v = get("32B")
        if not re.fullmatch(r"[A-Z]{3}", v[:3]):
            problems.append(f":32B: {v!r} does not start with a currency code (3 capitals)")
        currency, claimed = v[:3], v[3:]
        try:
            _amount_format(claimed, "32B")
        except MtError as e:
            problems.extend(e.problems)
    date, paid_ccy, paid = (_dated_amount("33A", get("33A"), problems) if "33A" in fields
                            else (None, "", ""))
    if currency and paid_ccy and paid_ccy != currency:
        problems.append(f":33A: {paid_ccy!r}: the amount paid is in the currency of :32B: "
                        f"({currency}) (rule C2)")
    unkept = sorted(t for t in fields if t not in MANDATORY)
    notes = (["not kept on the ledger (checked for shape only): "
              + ", ".join(f":{t}:" for t in unkept)] if unkept else [])
    if problems:
        raise MtError(problems)
    assert date is not None
    return Mt756(header=header, fields=fields, reference=reference, presentation_ref=get("21"),
                 currency=currency, claimed=claimed, value_date=date, paid=paid,
                 notes=tuple(notes))


def terms(msg: Mt756, exponent: int) -> dict[str, object]:
    """What an MT756 says in ledger terms: the presentation reference, the currency, the amount
    claimed and the amount paid in minor units of a currency with ``exponent`` decimals, the
    value date.

    Raises:
        MtError: more decimals than the currency has, zero, above the ledger's largest amount.
    """
    return {"presentation_ref": msg.presentation_ref.upper(), "currency": msg.currency,
            "claimed": amount_to_minor(msg.claimed, exponent, "32B"),
            "paid": amount_to_minor(msg.paid, exponent, "33A"), "value_date": msg.value_date}


@dataclass(frozen=True, slots=True)
class Advice:
    """What :func:`render` writes: a paid presentation. ``claimed`` is what was presented,
    ``paid`` what the issuing bank paid (both in minor units of ``currency``), ``value_date``
    the UTC date of the block that paid."""

    sender_bic: str
    receiver_bic: str
    reference: str
    presentation_ref: str
    currency: str
    exponent: int
    claimed: int
    paid: int
    value_date: datetime.date


def render(a: Advice) -> str:
    """An MT756 (blocks {1:}{2:}{4:...-}, CRLF line ends) from the issuing bank ``a.sender_bic``
    to ``a.receiver_bic``: :20:, :21:, :32B:, :33A:.

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    claimed = minor_to_amount(a.claimed, a.exponent)
    paid = minor_to_amount(a.paid, a.exponent)
    for tag, amount in (("32B", claimed), ("33A", paid)):
        if len(amount) > 15:
            problems.append(f":{tag}: {a.currency} {amount} has more than 15 characters: an "
                            "MT756 cannot carry this amount")
    fields: list[tuple[str, list[str]]] = [
        ("20", [a.reference]), ("21", [a.presentation_ref]), ("32B", [a.currency + claimed]),
        ("33A", [_yymmdd(a.value_date, "33A", problems) + a.currency + paid])]
    return fin_message("756", bic11(a.sender_bic), bic11(a.receiver_bic), fields, problems,
                       FIELDS)
