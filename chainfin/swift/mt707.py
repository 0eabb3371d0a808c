"""SWIFT MT707 (Amendment to a Documentary Credit): read one into the ledger's amendment of a
letter of credit (``amend_lc``'s changes, or a cancellation), and write one for an amendment
the ledger holds pending. Pure: text in, values out; no IO, no clock, no floats.

The mapping rules live in the tables of this module (:data:`FIELDS`, :data:`MANDATORY`,
:data:`KEPT`, :data:`REFUSED`, :data:`PURPOSES`); the field reading, amounts, dates and tenors
are :mod:`chainfin.swift.mt700`'s. docs/swift.md prints the mapping.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from chainfin.exec_args import MAX_AMOUNT
from chainfin.swift.mt700 import FIELDS as MT700_FIELDS
from chainfin.swift.mt700 import (
    FORMS,
    PARTIAL_SHIPMENTS,
    RULES,
    FieldSpec,
    Header,
    MtError,
    _amount_format,
    _date,
    _tenor,
    _tolerance,
    _yymmdd,
    amount_to_minor,
    bic11,
    check_reference,
    fin_message,
    minor_to_amount,
    read_fields,
)

__all__ = ["EXCLUSIVE", "FIELDS", "KEPT", "MANDATORY", "PURPOSES", "REFUSED", "Amendment", "Mt707",
           "ledger_changes", "parse", "render"]

#: The fields an MT707 shares with an MT700, with the same format (:data:`mt700.FIELDS`).
_SHARED = ("27", "31C", "40A", "40E", "31D", "59", "39A", "39C", "41A", "41D", "42C", "42A",
           "42D", "42M", "42P", "43P", "43T", "44A", "44E", "44F", "44B", "44C", "44D", "71D",
           "48", "49", "58A", "58D", "53A", "53D", "78", "57A", "57B", "57D", "72Z")
#: Every MT707 field tag (SR 2018 and later): its own, and those it shares with an MT700.
#: Options of a bank field are listed each.
FIELDS: dict[str, FieldSpec] = {
    "20": FieldSpec("Sender's Reference", 1, 16),
    "21": FieldSpec("Receiver's Reference", 1, 16),
    "23": FieldSpec("Issuing Bank's Reference", 1, 16),
    "52A": FieldSpec("Issuing Bank", 2, 35),
    "52D": FieldSpec("Issuing Bank", 5, 35),
    "50B": FieldSpec("Non-Bank Issuer", 4, 35),
    "26E": FieldSpec("Number of Amendment", 1, 3),
    "30": FieldSpec("Date of Amendment", 1, 6),
    "22A": FieldSpec("Purpose of Message", 1, 4),
    "23S": FieldSpec("Cancellation Request", 1, 6),
    "50": FieldSpec("Changed Applicant Details", 4, 35),
    "32B": FieldSpec("Increase of Documentary Credit Amount", 1, 18),
    "33B": FieldSpec("Decrease of Documentary Credit Amount", 1, 18),
    "45B": FieldSpec("Description of Goods and/or Services", 100, 65, "z"),
    "46B": FieldSpec("Documents Required", 100, 65, "z"),
    "47B": FieldSpec("Additional Conditions", 100, 65, "z"),
    "49M": FieldSpec("Special Payment Conditions for Beneficiary", 100, 65, "z"),
    "49N": FieldSpec("Special Payment Conditions for Bank Only", 100, 65, "z"),
    "71N": FieldSpec("Amendment Charge Payable By", 7, 35, "z"),
    **{tag: MT700_FIELDS[tag] for tag in _SHARED},
}

#: Mandatory fields of an MT707.
MANDATORY = ("27", "20", "21", "31C", "26E", "30", "22A")

#: Fields of which an MT707 holds at most one (a field's options; the tenors 42C, 42M, 42P),
#: as :data:`chainfin.swift.mt700.EXCLUSIVE`.
EXCLUSIVE = (("41A", "41D"), ("42A", "42D"), ("52A", "52D"), ("53A", "53D"),
             ("57A", "57B", "57D"), ("58A", "58D"), ("42C", "42M", "42P"))

#: 22A: why the message was sent (an issuance by the issuing bank, an advice by the advising
#: bank, an amendment to be confirmed). The same amendment whichever it is.
PURPOSES = ("ISSU", "ADVI", "ACNF")

#: Fields the ledger keeps, and the ``amend_lc`` change each becomes.
KEPT = {"31D": "expiry_date", "32B": "amount (increase)", "33B": "amount (decrease)",
        "39A": "tolerance_bps", "42C": "usance_days", "42P": "usance_days",
        "43P": "partial_drawings", "23S": "cancellation (cancel_lc / consent_cancel)"}

#: Fields that change what the ledger holds but cannot amend: the message is refused, each
#: listed (a credit with other parties or documents is a new credit on the ledger).
REFUSED = {"50": "the applicant", "59": "the beneficiary",
           "46B": "the documents required (the ledger checks them at presentation)",
           "42M": "mixed payment"}


@dataclass(frozen=True, slots=True)
class Mt707:
    """One MT707, read and checked. ``fields``: every field's text as in the message; the rest
    is what the ledger uses (None: the amendment does not change it)."""

    header: Header | None
    fields: dict[str, str]
    lc_number: str
    receiver_reference: str
    issue_date: datetime.date
    number: int
    amendment_date: datetime.date
    purpose: str
    cancel: bool
    expiry_date: datetime.date | None
    increase: tuple[str, str] | None
    decrease: tuple[str, str] | None
    tolerance_bps: int | None
    usance_days: int | None
    partial_drawings: bool | None
    notes: tuple[str, ...] = ()


def parse(text: str) -> Mt707:
    """Read an MT707: a whole FIN message or only its text block's fields, checked as
    :func:`chainfin.swift.mt700.parse` checks an MT700.

    Raises:
        MtError: listing every problem, each naming its field tag: missing mandatory fields,
            unknown or repeated tags, shapes, dates, amounts, a number of amendment that is not
            1-999, an increase and a decrease together, a cancellation with other changes,
            changes the ledger cannot make (:data:`REFUSED`), an amendment that changes nothing
            the ledger holds.
    """
    problems: list[str] = []
    notes: list[str] = []
    header, fields = read_fields(text, problems, "707", FIELDS, MANDATORY, EXCLUSIVE)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    seq = get("27")
    if seq and seq != "1/1":
        problems.append(f":27: {seq!r}: an amendment continued in MT708 messages is not read "
                        "(only 1/1)")
    lc_number = get("20")
    check_reference("20", lc_number, problems)
    issue = _date("31C", get("31C"), problems) if "31C" in fields else None
    amended = _date("30", get("30"), problems) if "30" in fields else None
    number = 0
    if "26E" in fields:
        if re.fullmatch(r"[0-9]{1,3}", get("26E")) and int(get("26E")) > 0:
            number = int(get("26E"))
        else:
            problems.append(f":26E: {get('26E')!r} is not a number of amendment from 1 to 999")
    purpose = get("22A")
    if purpose and purpose not in PURPOSES:
        problems.append(f":22A: {purpose!r} is none of {', '.join(PURPOSES)}")
    cancel = False
    if "23S" in fields:
        if get("23S") != "CANCEL":
            problems.append(f":23S: {get('23S')!r} is not CANCEL")
        cancel = True
        others = sorted(t for t in fields if t in KEPT and t != "23S")
        if others:
            problems.append(":23S: a cancellation request amends nothing else; the message also "
                            "has " + ", ".join(f":{t}:" for t in others))
    for tag, what in REFUSED.items():
        if tag in fields:
            problems.append(f":{tag}: the ledger cannot amend {what}: such a credit is a new one "
                            "(cancel this one and issue it)")
    form = get("40A")
    if form and form not in FORMS:
        problems.append(f":40A: {form!r}: the ledger's credits are {' or '.join(FORMS)}")
    rules = get("40E").split("/")[0]
    if rules and rules not in RULES:
        problems.append(f":40E: {rules!r}: the ledger's credits follow {' or '.join(RULES)}")
    expiry = None
    if "31D" in fields:
        v = get("31D")
        expiry = _date("31D", v[:6], problems)
        if v[6:].strip():
            notes.append(f":31D: the place of expiry ({v[6:].strip()}) is not kept: the ledger's "
                         "expiry is by block time, end of the UTC day")
    increase = _amount_field("32B", fields, problems)
    decrease = _amount_field("33B", fields, problems)
    if increase is not None and decrease is not None:
        problems.append(":32B: and :33B: together: an amendment increases or decreases the "
                        "amount, not both")
    tolerance = _tolerance(get("39A"), problems) if "39A" in fields else None
    usance = None
    tenor_tag = "42C" if "42C" in fields else "42P" if "42P" in fields else None
    if tenor_tag is not None:
        usance = _tenor(tenor_tag, fields[tenor_tag], problems, notes)
    partial = None
    if "43P" in fields:
        v = " ".join(get("43P").upper().split())
        if v not in PARTIAL_SHIPMENTS:
            problems.append(f":43P: {get('43P')!r} is none of ALLOWED, NOT ALLOWED")
        else:
            partial = PARTIAL_SHIPMENTS[v]
    drawee = ("42A", "42D") if tenor_tag is not None else ()  # the tenor's drawee: the issuer
    unkept = sorted(t for t in fields if t not in KEPT and t not in MANDATORY
                    and t not in REFUSED and t in FIELDS and t not in drawee)
    if unkept:
        notes.append("not kept on the ledger (checked for shape only): "
                     + ", ".join(f":{t}:" for t in unkept))
    if not cancel and not problems and expiry is None and increase is None \
            and decrease is None and tolerance is None and usance is None and partial is None:
        problems.append("the amendment changes nothing the ledger holds (:31D:, :32B:, :33B:, "
                        ":39A:, :42C:/:42P:, :43P:, or :23S: CANCEL)")
    if problems:
        raise MtError(problems)
    assert issue is not None and amended is not None
    return Mt707(header=header, fields=fields, lc_number=lc_number,
                 receiver_reference=get("21"), issue_date=issue, number=number,
                 amendment_date=amended, purpose=purpose, cancel=cancel, expiry_date=expiry,
                 increase=increase, decrease=decrease, tolerance_bps=tolerance,
                 usance_days=usance, partial_drawings=partial, notes=tuple(notes))


def _amount_field(tag: str, fields: Mapping[str, str], problems: list[str]
                  ) -> tuple[str, str] | None:
    if tag not in fields:
        return None
    v = fields[tag].strip()
    if not re.fullmatch(r"[A-Z]{3}", v[:3]):
        problems.append(f":{tag}: {v!r} does not start with a currency code (3 capitals)")
        return None
    try:
        _amount_format(v[3:], tag)
    except MtError as e:
        problems.extend(e.problems)
        return None
    return v[:3], v[3:]


def ledger_changes(msg: Mt707, amount: int, currency: str, exponent: int) -> dict[str, object]:
    """``amend_lc``'s ``changes`` from an MT707, for a credit of ``amount`` minor units of
    ``currency`` (``exponent`` decimals) as in force: an increase or decrease becomes the new
    amount.

    Raises:
        MtError: an amount in another currency, with more decimals than it has, a decrease to
            zero or below, a new amount above the ledger's largest, or a cancellation (which is
            no change of terms).
    """
    if msg.cancel:
        raise MtError([":23S: a cancellation request is not an amendment of terms"])
    out: dict[str, object] = {}
    for tag, delta, sign in (("32B", msg.increase, 1), ("33B", msg.decrease, -1)):
        if delta is None:
            continue
        code, text = delta
        if code != currency:
            raise MtError([f":{tag}: {code}: the credit is in {currency}"])
        new = amount + sign * amount_to_minor(text, exponent, tag)
        if new <= 0:
            raise MtError([f":{tag}: decreases the credit to {minor_to_amount(max(new, 0), exponent)}"
                           f" {currency} or less: cancel it instead (:23S: CANCEL)"])
        if new > MAX_AMOUNT:
            raise MtError([f":{tag}: the credit would be above the ledger's largest amount "
                           f"({MAX_AMOUNT} minor units)"])
        out["amount"] = new
    if msg.expiry_date is not None:
        out["expiry_date"] = msg.expiry_date.isoformat()
    if msg.tolerance_bps is not None:
        out["tolerance_bps"] = msg.tolerance_bps
    if msg.partial_drawings is not None:
        out["partial_drawings"] = msg.partial_drawings
    if msg.usance_days is not None:
        out["usance_days"] = msg.usance_days
    return out


@dataclass(frozen=True, slots=True)
class Amendment:
    """What :func:`render` writes: an amendment pending on the ledger (``changes`` as
    ``amend_lc`` took them, ``amount`` the credit's amount in force), or a cancellation."""

    sender_bic: str
    receiver_bic: str
    lc_number: str
    issue_date: datetime.date
    number: int
    amendment_date: datetime.date
    currency: str
    exponent: int
    amount: int
    changes: Mapping[str, object] = field(default_factory=dict)
    cancel: bool = False
    expiry_place: str = ""
    receiver_reference: str = "NONREF"


def render(a: Amendment) -> str:
    """An MT707 (blocks {1:}{2:}{4:...-}, CRLF line ends) from the issuing bank ``a.sender_bic``
    to ``a.receiver_bic``, purpose ISSU: fields 27, 20, 21, 31C, 26E, 30, 22A always; 23S for a
    cancellation; else 31D, 32B or 33B (the difference to the amount in force), 39A, 42C (with
    drawee 42A) and 43P for the terms the amendment changes.

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    s11, r11 = bic11(a.sender_bic), bic11(a.receiver_bic)
    if not 1 <= a.number <= 999:
        problems.append(f":26E: amendment number {a.number} is not 1 to 999")
    fields: list[tuple[str, list[str]]] = [
        ("27", ["1/1"]), ("20", [a.lc_number]), ("21", [a.receiver_reference]),
        ("31C", [_yymmdd(a.issue_date, "31C", problems)]), ("26E", [str(a.number)]),
        ("30", [_yymmdd(a.amendment_date, "30", problems)]), ("22A", ["ISSU"])]
    ch = a.changes
    if a.cancel:
        fields.append(("23S", ["CANCEL"]))
    if "expiry_date" in ch:
        d = datetime.date.fromisoformat(str(ch["expiry_date"]))
        fields.append(("31D", [_yymmdd(d, "31D", problems) + a.expiry_place]))
    if "amount" in ch:
        new = ch["amount"]
        assert isinstance(new, int)
        if new != a.amount:
            tag = "32B" if new > a.amount else "33B"
            fields.append((tag, [a.currency + minor_to_amount(abs(new - a.amount), a.exponent)]))
    if "tolerance_bps" in ch:
        bps = ch["tolerance_bps"]
        assert isinstance(bps, int)
        pct, rest = divmod(bps, 100)
        if rest or pct > 99:
            problems.append(f":39A: a tolerance of {bps} basis points is not a whole percentage "
                            "from 0 to 99")
        fields.append(("39A", [f"{pct:02d}/{pct:02d}"]))
    if "usance_days" in ch:
        days = ch["usance_days"]
        fields.append(("42C", [f"AT {days} DAYS AFTER SIGHT" if days else "AT SIGHT"]))
        if days:
            fields.append(("42A", [s11]))
    if "partial_drawings" in ch:
        fields.append(("43P", ["ALLOWED" if ch["partial_drawings"] else "NOT ALLOWED"]))
    if len(fields) == 7:
        problems.append("the amendment changes nothing an MT707 carries")
    return fin_message("707", s11, r11, fields, problems, FIELDS)

