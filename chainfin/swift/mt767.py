"""SWIFT MT767 (Guarantee/Standby Letter of Credit Amendment, SR 2021 layout): read one into the
ledger's ``amend_guarantee`` proposal, and write one from the amendment a guarantee has pending.
Pure: text in, values out; no IO, no clock, no floats.

Sequence A (15A, 27, 21, 22A, 23S, 72Z, 23X) and sequence B (15B, 20 the undertaking number, 26E
number of amendment, 30 date of amendment, 52a issuer, 23, 32B increase / 33B decrease of the
amount, 23B, 31E, 35G new expiry, 59a, 77U, 24E, 24G) as :data:`FIELDS` lists them; sequence C
(a local undertaking) is not read. The ledger holds an amendment as the new amount and expiry
(``changes``): an increase or decrease is applied to the guarantee's amount in force by
:func:`changes`, which the CLI calls with the guarantee the ledger holds. docs/swift.md "MT767".
"""

from __future__ import annotations

import datetime
import re
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
from chainfin.swift.mt760 import check_sequences, currency_amount
from chainfin.swift.mt765 import numbered

__all__ = ["FIELDS", "MANDATORY", "SEQUENCE_A", "AmendmentTerms", "Mt767", "changes", "parse",
           "render"]

FIELDS: dict[str, FieldSpec] = {
    "15A": FieldSpec("New Sequence", 1, 0),
    "27": FieldSpec("Sequence of Total", 1, 3),
    "21": FieldSpec("Related Reference", 1, 16),
    "22A": FieldSpec("Purpose of Message", 1, 4),
    "23S": FieldSpec("Cancellation Request", 1, 6),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
    "23X": FieldSpec("File Identification", 1, 70),
    "15B": FieldSpec("New Sequence", 1, 0),
    "20": FieldSpec("Undertaking Number", 1, 16),
    "26E": FieldSpec("Number of Amendment", 1, 3),
    "30": FieldSpec("Date of Amendment", 1, 6),
    "52A": FieldSpec("Issuer", 2, 35),
    "52D": FieldSpec("Issuer", 5, 35),
    "23": FieldSpec("Advising Bank Reference", 1, 16),
    "32B": FieldSpec("Increase of Undertaking Amount", 1, 18),
    "33B": FieldSpec("Decrease of Undertaking Amount", 1, 18),
    "23B": FieldSpec("Expiry Type", 1, 4),
    "31E": FieldSpec("Date of Expiry", 1, 6),
    "35G": FieldSpec("Expiry Condition/Event", 12, 65),
    "59": FieldSpec("Beneficiary", 5, 35),
    "59A": FieldSpec("Beneficiary", 2, 35),
    "77U": FieldSpec("Other Amendments to Undertaking", 150, 65, "z"),
    "24E": FieldSpec("Delivery of Amendment To Undertaking", 1, 40),
    "24G": FieldSpec("Delivery To/Collection By", 7, 35),
}
SEQUENCE_A = ("15A", "27", "21", "22A", "23S", "72Z", "23X")
MANDATORY = ("15A", "27", "21", "22A", "15B", "20", "26E", "30", "52a")
EXCLUSIVE = (("52A", "52D"), ("59", "59A"), ("32B", "33B"))
_OPTIONS = {"52a": ("52A", "52D")}
_KEPT = {"15A", "27", "21", "22A", "15B", "20", "26E", "30", "52A", "52D", "32B", "33B", "23B",
         "31E", "35G"}
#: fields that would amend what the ledger cannot amend by this message: refused, not dropped
#: (a beneficiary accepting the proposal would accept less than the message says)
_REFUSED = {"59": "the beneficiary", "59A": "the beneficiary",
            "77U": "terms in words (other amendments)", "23S": "a cancellation (the "
            "beneficiary releases the guarantee: `chainfin guarantee release`)"}


@dataclass(frozen=True, slots=True)
class Mt767:
    """One MT767, read and checked; amounts as written (:func:`changes` applies them)."""

    header: Header | None
    fields: dict[str, str]
    guarantee_number: str
    related_reference: str
    number: int
    amendment_date: datetime.date | None
    issuer_bic: str | None
    currency: str | None
    increase: str | None
    decrease: str | None
    expiry_date: datetime.date | None
    expiry_event: str | None
    notes: tuple[str, ...] = ()


def parse(text: str) -> Mt767:
    """Read an MT767: a whole FIN message or its text block's fields, every field checked
    strictly, sequence A before sequence B.

    Raises:
        MtError: listing every problem, each naming its field and its block-4 line: missing
            mandatory fields, unknown or repeated tags, shapes, dates, amounts, an increase
            with a decrease (rule C1), :22A: other than ISUA, :26E:, :23B: without its date or
            event, what the ledger cannot amend (:59a:, :77U:, :23S:), an amendment that
            changes nothing, sequence C.
    """
    problems: list[str] = []
    header, body = _envelope(_line_ends(text, problems), problems, "767")
    fields = _fields(body, problems, FIELDS, "767")
    missing = [t for t in MANDATORY if not any(k in fields for k in _OPTIONS.get(t, (t,)))]
    if missing:
        problems.insert(0, "mandatory fields missing: " + ", ".join(f":{t}:" for t in missing))
    for tag, v in fields.items():
        if tag not in ("15A", "15B"):
            check_shape(tag, v, problems, FIELDS)
    _exclusive(fields, EXCLUSIVE, problems)
    check_sequences(text, fields, problems, "767", SEQUENCE_A)

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    if get("27") and get("27") != "1/1":
        problems.append(f":27: {get('27')}: MT775 continuations are not read (only 1/1)")
    if "22A" in fields and get("22A") != "ISUA":
        problems.append(f":22A: {get('22A')!r}: only ISUA (issue of an amendment) is read (a "
                        "counter-undertaking's or an advice's amendment is not supported)")
    for tag in ("20", "21"):
        check_reference(tag, get(tag), problems)
    number = 0
    if "26E" in fields:
        if re.fullmatch(r"[0-9]{1,3}", get("26E")) and int(get("26E")) > 0:
            number = int(get("26E"))
        else:
            problems.append(f":26E: {get('26E')!r} is not an amendment number (1 to 999)")
    amended = _date("30", get("30"), problems) if "30" in fields else None
    for tag, what in _REFUSED.items():
        if tag in fields:
            problems.append(f":{tag}: the ledger does not amend {what} by an MT767")
    currency = increase = decrease = None
    for tag in ("32B", "33B"):
        if tag in fields:
            ccy, amt = currency_amount(tag, get(tag), problems)
            currency, increase, decrease = (ccy, amt, None) if tag == "32B" else (ccy, None, amt)
    expiry_date = _date("31E", get("31E"), problems) if "31E" in fields else None
    event = " ".join(ln.strip() for ln in fields["35G"].split("\n")) if "35G" in fields else None
    kind = get("23B")
    if "23B" in fields:
        if kind not in ("FIXD", "COND"):
            problems.append(f":23B: {kind!r} is not one of FIXD, COND (OPEN, an undertaking "
                            "without expiry, is not supported)")
        elif kind == "FIXD" and ("31E" not in fields or event is not None):
            problems.append(":23B: FIXD needs :31E: and no :35G:")
        elif kind == "COND" and event is None:
            problems.append(":23B: COND needs :35G:")
    if not ({"32B", "33B", "31E", "35G"} & set(fields)) and not problems:
        problems.append("the MT767 amends nothing the ledger holds (:32B:, :33B:, :31E:, :35G:)")
    unkept = sorted(t for t in fields if t not in _KEPT and t not in _REFUSED)
    notes = (["not kept on the ledger (checked for shape only): "
              + ", ".join(f":{t}:" for t in unkept)] if unkept else [])
    if problems:
        raise MtError(numbered(text, problems, "767"))
    issuer = fields.get("52A", "").split("\n")[-1].strip()
    return Mt767(header=header, fields=fields, guarantee_number=get("20"),
                 related_reference=get("21"), number=number, amendment_date=amended,
                 issuer_bic=bic11(issuer) if is_bic(issuer) else None, currency=currency,
                 increase=increase, decrease=decrease, expiry_date=expiry_date,
                 expiry_event=event, notes=tuple(notes))


def changes(msg: Mt767, exponent: int, currency: str, in_force: int) -> dict[str, object]:
    """``amend_guarantee``'s ``changes`` from an MT767, for a guarantee in ``currency`` whose
    amount in force is ``in_force`` minor units (``exponent`` decimals): an increase or decrease
    applied to it (exact, no float), the new expiry date and event.

    Raises:
        MtError: an amount in another currency than the guarantee's (SWIFT's usage rule), more
            decimals than the currency has, a decrease to zero or below.
    """
    out: dict[str, object] = {}
    delta = msg.increase or msg.decrease
    if delta is not None:
        tag = "32B" if msg.increase is not None else "33B"
        if msg.currency != currency:
            raise MtError([f":{tag}: the amount is in {msg.currency}; the guarantee is in "
                           f"{currency} (an increase or decrease is in the undertaking's "
                           "currency)"])
        minor = amount_to_minor(delta, exponent, tag)
        new = in_force + minor if tag == "32B" else in_force - minor
        if new <= 0:
            raise MtError([f":33B: a decrease of {currency} {delta} leaves nothing of the amount "
                           f"in force, {currency} {minor_to_amount(in_force, exponent)} (the "
                           "beneficiary releases a guarantee)"])
        out["amount"] = new
    if msg.expiry_date is not None:
        out["expiry_date"] = msg.expiry_date.isoformat()
    if msg.expiry_event is not None:
        out["expiry_event"] = msg.expiry_event
    return out


@dataclass(frozen=True, slots=True)
class AmendmentTerms:
    """What :func:`render` writes: a guarantee's pending amendment, from its guarantor
    (``sender_bic``); ``amount`` the proposed amount and ``in_force`` the amount in force, in
    minor units of ``currency`` (``exponent`` decimals); ``expiry_type`` FIXD, COND or None
    (:23B: not written)."""

    sender_bic: str
    receiver_bic: str
    guarantee_number: str
    number: int
    amendment_date: datetime.date
    currency: str
    exponent: int
    in_force: int
    amount: int | None = None
    expiry_date: datetime.date | None = None
    expiry_event: str | None = None
    expiry_type: str | None = None


def render(t: AmendmentTerms) -> str:
    """An MT767 (blocks {1:}{2:}{4:...-}, CRLF line ends): sequence A (15A, 27, 21 the
    guarantee number, 22A ISUA), sequence B (15B, 20, 26E, 30, 52A, 32B or 33B the difference
    from the amount in force, 23B, 31E, 35G).

    Raises:
        MtError: listing what the message cannot carry, each naming its field.
    """
    problems: list[str] = []
    for what, bic in (("sender", t.sender_bic), ("receiver", t.receiver_bic)):
        if not is_bic(bic):
            problems.append(f"header: the {what} {bic!r} is not a BIC")
    if not 1 <= t.number <= 999:
        problems.append(f":26E: {t.number} is not an amendment number (1 to 999)")
    fields: list[tuple[str, list[str]]] = [
        ("15A", [""]), ("27", ["1/1"]), ("21", [t.guarantee_number]), ("22A", ["ISUA"]),
        ("15B", [""]), ("20", [t.guarantee_number]), ("26E", [str(t.number)]),
        ("30", [_yymmdd(t.amendment_date, "30", problems)]),
        ("52A", [bic11(t.sender_bic) if is_bic(t.sender_bic) else t.sender_bic])]
    if t.amount is not None and t.amount != t.in_force:
        tag = "32B" if t.amount > t.in_force else "33B"
        fields.append((tag, [t.currency + minor_to_amount(abs(t.amount - t.in_force),
                                                          t.exponent)]))
    if t.expiry_type:
        fields.append(("23B", [t.expiry_type]))
    if t.expiry_date is not None:
        fields.append(("31E", [_yymmdd(t.expiry_date, "31E", problems)]))
    if t.expiry_event:
        fields.append(("35G", _wrap(t.expiry_event, 65, 12)))
    if len(fields) == 9:
        problems.append("the amendment changes nothing an MT767 carries (the amount equals the "
                        "amount in force)")
    if problems:
        raise MtError(problems)
    table = {k: v for k, v in FIELDS.items() if k not in ("15A", "15B")}
    return fin_message("767", bic11(t.sender_bic), bic11(t.receiver_bic), fields, problems,
                       table)
