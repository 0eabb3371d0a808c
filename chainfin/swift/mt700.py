"""SWIFT MT700 (Issue of a Documentary Credit): read one into the ledger's letter-of-credit
terms, and write one from them. Pure: text in, values out; no IO, no clock, no floats.

The mapping rules live in the tables of this module, and nowhere else:

- :data:`FIELDS`: every MT700 field tag (SR 2018 and later), whether it is mandatory, how many
  lines of how many characters of which SWIFT character set it may hold;
- :data:`DOCUMENTS`: the documents a :46A: item may require, each with the ledger document type
  it is (None: one the ledger does not hold) and the words that name it;
- :data:`TENOR_BASES`, :data:`PARTIAL_SHIPMENTS`, :data:`AVAILABLE_BY`, :data:`FORMS`,
  :data:`RULES`, :data:`CONFIRMATIONS`: the code words read and written.

docs/swift.md prints them as the field mapping table.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chainfin.errors import ChainfinError
from chainfin.exec_args import MAX_AMOUNT

__all__ = [
    "AVAILABLE_BY", "CONFIRMATIONS", "DOCUMENTS", "EXCLUSIVE", "FIELDS", "FORMS", "MANDATORY",
    "PARTIAL_SHIPMENTS", "PLACEHOLDER_BIC", "RULES", "TENOR_BASES", "X_CHARS", "Z_CHARS",
    "FieldSpec", "Header", "LcTerms", "Mt700", "Mt700Error", "MtError", "RequiredDocument",
    "amount_to_minor", "bic11", "fin_message", "is_bic", "ledger_terms", "minor_to_amount", "name_candidates", "parse", "render",
]


class MtError(ChainfinError):
    """A message that is not a well-formed MT7xx this bridge can read, or ledger terms the
    message cannot carry. ``problems`` lists each, naming the field tag."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


#: The MT700 reader's and writer's error (one class for every MT7xx of this bridge).
Mt700Error = MtError


# ---------------------------------------------------------------------------- the tables

#: SWIFT's X character set (every field this bridge writes, and most it reads).
X_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
#: SWIFT's Z character set: X and ``= ! " % & * < > ; { @ # _`` (narrative fields since SR 2018).
Z_CHARS = X_CHARS | frozenset("=!\"%&*<>;{@#_")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One MT700 field: its name, at most ``lines`` lines of at most ``width`` characters of
    ``charset`` ("x" or "z")."""

    name: str
    lines: int
    width: int
    charset: str = "x"


#: Every MT700 field tag (SR 2018+). Options of a party or bank field ("41a") are listed
#: each (41A: a BIC; 41D: a name and address); an option's first line may be a party
#: identifier, counted in ``lines``.
FIELDS: dict[str, FieldSpec] = {
    "27": FieldSpec("Sequence of Total", 1, 3),
    "40A": FieldSpec("Form of Documentary Credit", 1, 24),
    "20": FieldSpec("Documentary Credit Number", 1, 16),
    "23": FieldSpec("Reference to Pre-Advice", 1, 16),
    "31C": FieldSpec("Date of Issue", 1, 6),
    "40E": FieldSpec("Applicable Rules", 1, 66),
    "31D": FieldSpec("Date and Place of Expiry", 1, 35),
    "51A": FieldSpec("Applicant Bank", 2, 35),
    "51D": FieldSpec("Applicant Bank", 5, 35),
    "50": FieldSpec("Applicant", 4, 35),
    "59": FieldSpec("Beneficiary", 5, 35),
    "32B": FieldSpec("Currency Code, Amount", 1, 18),
    "39A": FieldSpec("Percentage Credit Amount Tolerance", 1, 5),
    "39C": FieldSpec("Additional Amounts Covered", 4, 35),
    "41A": FieldSpec("Available With ... By ...", 2, 35),
    "41D": FieldSpec("Available With ... By ...", 5, 35),
    "42C": FieldSpec("Drafts at ...", 3, 35),
    "42A": FieldSpec("Drawee", 2, 35),
    "42D": FieldSpec("Drawee", 5, 35),
    "42M": FieldSpec("Mixed Payment Details", 4, 35),
    "42P": FieldSpec("Negotiation/Deferred Payment Details", 4, 35),
    "43P": FieldSpec("Partial Shipments", 1, 11),
    "43T": FieldSpec("Transhipment", 1, 11),
    "44A": FieldSpec("Place of Taking in Charge/Dispatch from .../Place of Receipt", 1, 65),
    "44E": FieldSpec("Port of Loading/Airport of Departure", 1, 65),
    "44F": FieldSpec("Port of Discharge/Airport of Destination", 1, 65),
    "44B": FieldSpec("Place of Final Destination/For Transportation to .../Place of Delivery",
                     1, 65),
    "44C": FieldSpec("Latest Date of Shipment", 1, 6),
    "44D": FieldSpec("Shipment Period", 6, 65),
    "45A": FieldSpec("Description of Goods and/or Services", 100, 65, "z"),
    "46A": FieldSpec("Documents Required", 100, 65, "z"),
    "47A": FieldSpec("Additional Conditions", 100, 65, "z"),
    "49G": FieldSpec("Special Payment Conditions for Beneficiary", 100, 65, "z"),
    "49H": FieldSpec("Special Payment Conditions for Bank Only", 100, 65, "z"),
    "71D": FieldSpec("Charges", 6, 35, "z"),
    "48": FieldSpec("Period for Presentation in Days", 1, 39),
    "49": FieldSpec("Confirmation Instructions", 1, 7),
    "58A": FieldSpec("Requested Confirmation Party", 2, 35),
    "58D": FieldSpec("Requested Confirmation Party", 5, 35),
    "53A": FieldSpec("Reimbursing Bank", 2, 35),
    "53D": FieldSpec("Reimbursing Bank", 5, 35),
    "78": FieldSpec("Instructions to the Paying/Accepting/Negotiating Bank", 12, 65),
    "57A": FieldSpec("'Advise Through' Bank", 2, 35),
    "57B": FieldSpec("'Advise Through' Bank", 2, 35),
    "57D": FieldSpec("'Advise Through' Bank", 5, 35),
    "72Z": FieldSpec("Sender to Receiver Information", 6, 35, "z"),
}

#: Mandatory fields; "41a" is either option of field 41.
MANDATORY = ("27", "40A", "20", "31C", "40E", "31D", "50", "59", "32B", "41a", "49")

#: Fields of which a message holds at most one: the options of one field (41A or 41D) and
#: SWIFT rule C2's tenors (42C with its drawee, 42M or 42P). The reader reads one of them; a
#: second is refused, not dropped while a person reads it (red-team round 5: :42P: beside
#: :42C: was ignored, and so was a :41A: beside a :41D:).
EXCLUSIVE = (("41A", "41D"), ("42A", "42D"), ("51A", "51D"), ("53A", "53D"),
             ("57A", "57B", "57D"), ("58A", "58D"), ("42C", "42M", "42P"))

#: 40A: the forms the ledger's letters of credit are (UCP 600 credits are irrevocable; the
#: ledger has no transfer and no standby).
FORMS = ("IRREVOCABLE",)
#: 40E: the rules the ledger's letters of credit follow (UCP 600; URR 725 for reimbursement
#: does not change the credit).
RULES = ("UCP LATEST VERSION", "UCPURR LATEST VERSION")
#: 49: the confirmation instructions SWIFT defines (read, not kept on the ledger).
CONFIRMATIONS = ("CONFIRM", "MAY ADD", "WITHOUT")
#: 41a second line -> how the credit is available. Mixed payment (42M) has no ledger form.
AVAILABLE_BY = ("BY PAYMENT", "BY ACCEPTANCE", "BY NEGOTIATION", "BY DEF PAYMENT")
#: 43P -> ``partial_drawings``. Absent: allowed (UCP 600 art. 31 a). CONDITIONAL is refused:
#: its conditions are prose in 47A and the ledger's rule is yes or no.
PARTIAL_SHIPMENTS = {"ALLOWED": True, "NOT ALLOWED": False}
#: 42C/42P tenor bases read as "days after the issuing bank accepts the presentation" (the
#: ledger's deferred payment runs from acceptance; only SIGHT means exactly that: the others
#: are noted when read).
TENOR_BASES = ("SIGHT", "ACCEPTANCE", "B/L DATE", "BILL OF LADING DATE", "SHIPMENT DATE",
               "DATE OF SHIPMENT", "INVOICE DATE", "DATE OF INVOICE")

#: The receiver written when the ledger knows no bank of the beneficiary: a syntactically valid
#: BIC in no country ("XX"), so no network or parser takes it for a real bank.
PLACEHOLDER_BIC = "UNKNXXXXXXX"


@dataclass(frozen=True, slots=True)
class RequiredDocument:
    """A document :46A: may require: the ledger ``doc_type`` (None: the ledger holds no such
    document), the line written for it (None: never written) and the words that name it."""

    doc_type: str | None
    label: str | None
    keywords: tuple[str, ...]


#: :46A: items -> ledger document types. An item is the document whose words occur first in it
#: (the longest words win a tie): "BENEFICIARY'S CERTIFICATE THAT COPIES OF THE COMMERCIAL
#: INVOICE ..." is a beneficiary's certificate, not an invoice. Kinds without a doc_type are
#: named so that they are reported as documents the ledger cannot check.
DOCUMENTS: tuple[RequiredDocument, ...] = (
    RequiredDocument("invoice", "+SIGNED COMMERCIAL INVOICE",
                     ("COMMERCIAL INVOICE", "INVOICE")),
    RequiredDocument("bill_of_lading", "+FULL SET OF CLEAN ON BOARD OCEAN BILLS OF LADING",
                     ("BILL OF LADING", "BILLS OF LADING", "B/L", "B/LS", "OCEAN BILL",
                      "MARINE BILL", "MULTIMODAL TRANSPORT DOCUMENT")),
    RequiredDocument("packing_list", "+PACKING LIST", ("PACKING LIST", "PACKING LISTS")),
    RequiredDocument("certificate_of_origin", "+CERTIFICATE OF ORIGIN",
                     ("CERTIFICATE OF ORIGIN", "CERTIFICATES OF ORIGIN", "ORIGIN CERTIFICATE")),
    RequiredDocument("customs_declaration", "+EXPORT CUSTOMS DECLARATION",
                     ("CUSTOMS DECLARATION", "EXPORT DECLARATION")),
    RequiredDocument(None, None, ("INSURANCE POLICY", "INSURANCE CERTIFICATE",
                                  "CERTIFICATE OF INSURANCE", "INSURANCE")),
    RequiredDocument(None, None, ("CUSTOMS INVOICE", "CONSULAR INVOICE", "PROFORMA INVOICE",
                                  "PRO FORMA INVOICE", "PRO-FORMA INVOICE")),
    RequiredDocument(None, None, ("BENEFICIARY'S CERTIFICATE", "BENEFICIARY CERTIFICATE",
                                  "BENEFICIARYS CERTIFICATE", "INSPECTION CERTIFICATE",
                                  "CERTIFICATE OF INSPECTION", "ANALYSIS CERTIFICATE",
                                  "CERTIFICATE OF ANALYSIS", "QUALITY CERTIFICATE",
                                  "WEIGHT CERTIFICATE", "WEIGHT LIST", "PHYTOSANITARY",
                                  "HEALTH CERTIFICATE", "FUMIGATION CERTIFICATE",
                                  "AIR WAYBILL", "AIRWAY BILL", "SEA WAYBILL",
                                  "ROAD TRANSPORT", "RAIL", "COURIER RECEIPT", "POST RECEIPT",
                                  "FORWARDER", "DRAFT", "DRAFTS", "SHIPPING ADVICE")),
)


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Header:
    """What blocks 1 and 2 say: sender and receiver BICs (11 characters), and whether the
    message is as the sender input it ("I") or as the receiver got it ("O")."""

    direction: str
    sender_bic: str
    receiver_bic: str


@dataclass(frozen=True, slots=True)
class Mt700:
    """One MT700, read and checked. ``fields``: every field's text as in the message (lines
    joined by "\\n"); the rest is what the ledger uses."""

    header: Header | None
    fields: dict[str, str]
    lc_number: str
    issue_date: datetime.date
    expiry_date: datetime.date
    expiry_place: str
    applicant: tuple[str, ...]
    beneficiary: tuple[str, ...]
    beneficiary_account: str | None
    currency: str
    amount: str
    tolerance_bps: int
    available_by: str
    usance_days: int
    partial_drawings: bool
    documents: tuple[tuple[str, str | None], ...]
    notes: tuple[str, ...] = ()

    @property
    def required_docs(self) -> list[str]:
        """The ledger document types :46A: requires, sorted, each once."""
        return sorted({t for _, t in self.documents if t is not None})

    @property
    def unmapped_documents(self) -> list[str]:
        """The :46A: items that are no ledger document type, as written."""
        return [text for text, t in self.documents if t is None]


@dataclass(frozen=True, slots=True)
class LcTerms:
    """What :func:`render` writes: an on-ledger letter of credit and the names and banks the
    ledger knows for it. ``amount`` in minor units of ``currency`` (``exponent`` decimals)."""

    sender_bic: str
    receiver_bic: str
    lc_number: str
    issue_date: datetime.date
    expiry_date: datetime.date
    expiry_place: str
    applicant: str
    beneficiary: str
    currency: str
    exponent: int
    amount: int
    tolerance_bps: int = 0
    partial_drawings: bool = False
    usance_days: int = 0
    required_docs: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- reading

_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_BLOCK1 = re.compile(r"\{1:F01([A-Z0-9]{12})(\d{4})(\d{6})\}", re.ASCII)
_BLOCK2_IN = re.compile(r"\{2:I(\d{3})([A-Z0-9]{12})([NUS]?)(\d?)(\d{3})?\}", re.ASCII)
_BLOCK2_OUT = re.compile(r"\{2:O(\d{3})(\d{4})(\d{6})([A-Z0-9]{12})(\d{4})(\d{6})(\d{6})(\d{4})"
                         r"([NUS]?)\}", re.ASCII)
_TAG = re.compile(r"^:([0-9]{2}[A-Z]?):(.*)$")
_AMOUNT = re.compile(r"([0-9]+),([0-9]*)")
_ONE_DAY = re.compile(r"[0-9]{6}")


def is_bic(v: str) -> bool:
    """Is ``v`` a BIC (8 or 11 characters, upper case)?"""
    return _BIC.fullmatch(v) is not None


def _lt_to_bic(lt: str) -> str:
    """A 12-character logical terminal address -> its 11-character BIC (the 9th character is
    the terminal code)."""
    return lt[:8] + lt[9:]


#: The blocks around block 4, in this order and nothing else (SWIFT FIN): block 3 and the
#: trailers hold ``{tag:value}`` sub-blocks whose values have no braces.
_FIN_HEAD = re.compile(r"(\{1:[^{}]*\})(\{2:[^{}]*\})(\{3:(?:\{[0-9]{3}:[^{}]*\})*\})?\{4:\n")
_FIN_TRAILER = re.compile(r"(?:\{5:(?:\{[A-Z]{3}:[^{}]*\})*\})?(?:\{S:(?:\{[A-Z]{3}:[^{}]*\})*\})?")


def _header_blocks(b1: str, b2: str, problems: list[str], mt: str) -> Header | None:
    m1, m2i, m2o = _BLOCK1.fullmatch(b1), _BLOCK2_IN.fullmatch(b2), _BLOCK2_OUT.fullmatch(b2)
    if m1 is None or (m2i is None and m2o is None):
        problems.append("header: blocks {1:} and {2:} are not a FIN header this bridge reads "
                        "({1:F01<12-character LT address><session><sequence>}, "
                        f"{{2:I{mt}<LT address>N}} or {{2:O{mt}...}})")
        return None
    if m2i is not None:
        if m2i[1] != mt:
            problems.append(f"header: block 2 is an MT{m2i[1]}, not an MT{mt}")
        return Header("I", _lt_to_bic(m1[1]), _lt_to_bic(m2i[2]))
    assert m2o is not None
    if m2o[1] != mt:
        problems.append(f"header: block 2 is an MT{m2o[1]}, not an MT{mt}")
    return Header("O", _lt_to_bic(m2o[4]), _lt_to_bic(m1[1]))


def _line_ends(text: str, problems: list[str]) -> str:
    """``text`` with its line ends as "\\n": CR LF, LF or CR; but a lone CR in a file that
    also breaks lines with LF is refused: it is a line break to this reader and none to many
    viewers (a terminal prints what follows it over the line), so ``:20:A<CR>:32B:...`` would
    hold a field the reader sees and a person may not."""
    crlf = text.count("\r\n")
    if text.count("\r") > crlf and text.count("\n") > 0:
        problems.append("the file has a carriage return (CR) that is not followed by a line "
                        "feed, among lines that end in LF: a viewer and this reader could break "
                        "its lines differently; use CR LF or LF line ends throughout")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _envelope(text: str, problems: list[str], mt: str = "700") -> tuple[Header | None, str]:
    """The header and block 4's text of a message whose line ends are already "\n".

    A whole FIN message is read only in SWIFT's shape: ``{1:}{2:}[{3:}]{4:`` and a line end at
    the start, block 4 up to its first line ``-}``, then at most the trailers ``{5:}`` and
    ``{S:}``, nothing else (red-team round 5: blocks were searched anywhere, so a ``{2:I...}``
    after the end or in block 3 replaced an output message's sender, and a second message after
    ``-}`` was ignored while a viewer showed it). A file that does not start with ``{`` is the
    text block's fields alone. A leading byte order mark is an encoding mark, not text."""
    text = text.removeprefix("\ufeff").strip("\n ")
    if not text.startswith("{"):
        if re.search(r"\{[1-5S]:", text):
            problems.append("header: blocks {1:} ... are not at the start of the file (a FIN "
                            "message starts with {1:}{2:})")
        return None, text[:-1].rstrip("\n") if text.endswith("\n-") or text == "-" else text
    head = _FIN_HEAD.match(text)
    if head is None:
        problems.append("header: a FIN message is {1:...}{2:...}, an optional {3:{...}}, then "
                        "{4: and a line end, in this order and with nothing between")
        return None, ""
    header = _header_blocks(head[1], head[2], problems, mt)
    rest = text[head.end():]
    end = rest.find("\n-}")
    if end < 0:
        problems.append("block 4 has no end (a line '-}')")
        return header, rest
    tail = rest[end + 3:]
    if not _FIN_TRAILER.fullmatch(tail):
        problems.append("after block 4's end '-}' only the trailers {5:{...}} and {S:{...}} may "
                        f"follow, not {tail[:40]!r} (one message per file)")
    return header, rest[:end]


def _fields(body: str, problems: list[str], table: Mapping[str, FieldSpec] = FIELDS,
            mt: str = "700") -> dict[str, str]:
    out: dict[str, list[str]] = {}
    tag: str | None = None
    for n, line in enumerate(body.split("\n"), 1):
        m = _TAG.match(line)
        if m:
            tag = m[1]
            if tag in out:
                problems.append(f":{tag}: appears twice (each MT{mt} field appears once)")
            if tag not in table:
                problems.append(f":{tag}: is not an MT{mt} field")
            out[tag] = [m[2]]
        elif tag is None:
            if line.strip():
                problems.append(f"block 4 line {n}: text before the first field tag")
        else:
            if line.startswith((":", "-")):  # SWIFT reads these as a field tag or the end
                problems.append(f":{tag}: line {len(out[tag]) + 1} starts with {line[0]!r}, "
                                "which SWIFT reads as a delimiter (a field tag is ':nn:' or "
                                "':nna:', the end of the text block '-}')")
            out[tag].append(line)
    return {t: "\n".join(lines) for t, lines in out.items()}


def _exclusive(fields: Mapping[str, str], groups: Iterable[tuple[str, ...]],
               problems: list[str]) -> None:
    for group in groups:
        present = [t for t in group if t in fields]
        if len(present) > 1:
            problems.append(", ".join(f":{t}:" for t in present) + " together: a message "
                            "holds one of them")


def _tolerance(v: str, problems: list[str]) -> int | None:
    """:39A: ``nn/nn`` as basis points (the ledger has one tolerance, as much above as below:
    unequal figures are refused), or None with the problem listed."""
    m = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})", v)
    if not m:
        problems.append(f":39A: {v!r} is not two percentages nn/nn")
        return None
    if int(m[1]) != int(m[2]):
        problems.append(f":39A: +{int(m[1])}%/-{int(m[2])}% is asymmetric: the ledger has one "
                        "tolerance, as much above as below; ask for nn/nn with both equal")
        return None
    return int(m[1]) * 100


def _check_shape(tag: str, value: str, problems: list[str],
                 table: Mapping[str, FieldSpec] = FIELDS) -> None:
    spec = table.get(tag)
    if spec is None:
        return
    lines = value.split("\n")
    if not value.strip():
        problems.append(f":{tag}: ({spec.name}) is empty")
        return
    limit = spec.lines
    if len(lines) > limit:
        problems.append(f":{tag}: ({spec.name}) has {len(lines)} lines; at most {limit}")
    chars = X_CHARS if spec.charset == "x" else Z_CHARS
    for i, line in enumerate(lines, 1):
        if len(line) > spec.width:
            problems.append(f":{tag}: line {i} has {len(line)} characters; at most {spec.width}")
        bad = sorted({c for c in line if c not in chars})
        if bad:
            problems.append(f":{tag}: line {i} has characters outside the SWIFT "
                            f"{spec.charset.upper()} set: {' '.join(repr(c) for c in bad)}")


def _date(tag: str, v: str, problems: list[str]) -> datetime.date | None:
    """YYMMDD, read as 20YY (SWIFT dates carry no century; the ledger's LCs are of this one)."""
    if not _ONE_DAY.fullmatch(v):
        problems.append(f":{tag}: {v!r} is not a date YYMMDD")
        return None
    try:
        return datetime.date(2000 + int(v[:2]), int(v[2:4]), int(v[4:6]))
    except ValueError:
        problems.append(f":{tag}: {v!r} is not a calendar date (YYMMDD)")
        return None


def _amount_format(amount: str, tag: str) -> re.Match[str]:
    if "." in amount:
        raise Mt700Error([f":{tag}: {amount!r}: SWIFT amounts have a decimal comma, not a dot "
                          "(USD100000,00), and no thousands separators"])
    m = _AMOUNT.fullmatch(amount)
    if not m:
        raise Mt700Error([f":{tag}: {amount!r} is not a SWIFT amount (digits with one decimal "
                          "comma, e.g. 100000,00)"])
    if len(amount) > 15:
        raise Mt700Error([f":{tag}: the amount {amount!r} is longer than 15 characters"])
    return m


def amount_to_minor(amount: str, exponent: int, tag: str = "32B") -> int:
    """A SWIFT amount (digits, one decimal comma, e.g. ``100000,00`` or ``100000,``) in integer
    minor units of a currency with ``exponent`` decimals. Never through a float.

    Raises:
        Mt700Error: a dot, no comma, more than 15 characters, more decimals than the currency
            has (SWIFT refuses even zeros there), zero, or above the ledger's largest amount
            (``MAX_AMOUNT``).
    """
    m = _amount_format(amount, tag)
    whole, frac = m[1], m[2]
    if len(frac) > exponent:
        raise Mt700Error([f":{tag}: {amount!r} has {len(frac)} decimals; the currency has "
                          f"{exponent}"])
    minor = int(whole + frac.ljust(exponent, "0"))  # the digits, the comma moved: no float
    if minor == 0:
        raise Mt700Error([f":{tag}: the amount is zero"])
    if minor > MAX_AMOUNT:
        raise Mt700Error([f":{tag}: {amount!r} is above the ledger's largest amount "
                          f"({MAX_AMOUNT} minor units)"])
    return minor


def minor_to_amount(minor: int, exponent: int) -> str:
    """Integer minor units -> a SWIFT amount: ``12345`` with exponent 2 is ``123,45``, with
    exponent 0 ``12345,`` (the comma is always written)."""
    if type(minor) is not int or minor < 0:
        raise Mt700Error([f":32B: {minor!r} is not an amount in minor units"])
    whole, frac = divmod(minor, 10**exponent) if exponent else (minor, 0)
    return f"{whole}," + (str(frac).rjust(exponent, "0") if exponent else "")


_TENOR = re.compile(
    r"^(?:AT )?(?:(SIGHT)|(\d{1,4}) DAYS? (?:AFTER|FROM) (?:THE )?(" +
    "|".join(re.escape(b) for b in TENOR_BASES) + r"))(?: FOR .*)?$")


def _tenor(tag: str, v: str, problems: list[str], notes: list[str]) -> int | None:
    text = " ".join(v.upper().split())
    m = _TENOR.match(text)
    if not m:
        problems.append(f":{tag}: cannot read a tenor from {text!r} (AT SIGHT, or "
                        f"<n> DAYS AFTER SIGHT / B/L DATE / ...)")
        return None
    if m[1]:
        return 0
    days, basis = int(m[2]), m[3]
    if days > 3650:
        problems.append(f":{tag}: {days} days; the ledger's usance is at most 3650 days")
        return None
    if basis != "SIGHT":
        notes.append(f":{tag}: {days} days after {basis}: the ledger counts usance days from "
                     "the issuing bank's acceptance of the presentation")
    return days


def _document_kind(item: str) -> RequiredDocument | None:
    """The document an item of :46A: names first (longest words on a tie), or None."""
    text = " ".join(item.upper().split())
    best: tuple[int, int, RequiredDocument] | None = None
    for doc in DOCUMENTS:
        for word in doc.keywords:
            m = re.search(r"(?<![A-Z0-9])" + re.escape(word) + r"(?![A-Z0-9])", text)
            if m and (best is None or (m.start(), -len(word)) < (best[0], best[1])):
                best = (m.start(), -len(word), doc)
    return None if best is None else best[2]


_ITEM_START = re.compile(r"^\s*(\+|\d{1,3}[.)]\s|\d{1,3}[.)]$|[A-Z][.)]\s)")


def _document_items(text: str) -> list[str]:
    """The items of :46A: — each starts with "+" or a number ("1." "2)"), its lines after it
    continue it; a field with no such marks has one item per line."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not any(_ITEM_START.match(ln) for ln in lines):
        return [ln.strip() for ln in lines]
    items: list[str] = []
    for ln in lines:
        if _ITEM_START.match(ln) or not items:
            items.append(ln.strip())
        else:
            items[-1] += " " + ln.strip()
    return items


def _other_documents(item: str, kind: RequiredDocument) -> list[str]:
    """The words of documents other than ``kind`` that ``item`` also names (a match inside a
    longer one — INVOICE in CUSTOMS INVOICE — does not count)."""
    text = " ".join(item.upper().split())
    found = [(m.start(), m.end(), doc, word) for doc in DOCUMENTS for word in doc.keywords
             for m in re.finditer(r"(?<![A-Z0-9])" + re.escape(word) + r"(?![A-Z0-9])", text)]
    out: list[str] = []
    for s, e, doc, word in found:
        inside = any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _, _ in found)
        if doc is not kind and not inside and word not in out:
            out.append(word)
    return out


def _documents(text: str) -> tuple[tuple[str, str | None], ...]:
    """Each :46A: item and its ledger document type. An item whose first document is a ledger
    type but that names another too ("COMMERCIAL INVOICE AND PACKING LIST") is also listed as
    a document the ledger does not check (red-team round 5: the second was dropped silently;
    the ledger would pay without it): split it into items, or issue with --unmapped-ok."""
    out: list[tuple[str, str | None]] = []
    for item in _document_items(text):
        kind = _document_kind(item)
        out.append((item, None if kind is None else kind.doc_type))
        if kind is not None and kind.doc_type is not None:
            others = _other_documents(item, kind)
            if others:
                out.append((f"{item} (also names {', '.join(others)})", None))
    return tuple(out)


def _option(fields: Mapping[str, str], number: str) -> tuple[str, str] | None:
    """The one option of a party field ("41" -> ("41D", text)), or None."""
    found = [(t, v) for t, v in fields.items() if t[:2] == number and len(t) == 3]
    return found[0] if found else None


def _available(fields: Mapping[str, str], problems: list[str]) -> str:
    opt = _option(fields, "41")
    if opt is None:
        return ""
    tag, v = opt
    lines = v.split("\n")
    by = " ".join(lines[-1].upper().split())
    if len(lines) < 2:
        problems.append(f":{tag}: needs the bank (or ANY BANK) and a line 'BY ...'")
        return ""
    if tag == "41A" and not _BIC.fullmatch(lines[0].strip()):
        problems.append(f":41A: {lines[0]!r} is not a BIC")
    if len(lines[-1]) > 14:
        problems.append(f":{tag}: {lines[-1]!r}: the 'BY ...' line has at most 14 characters")
    if by == "BY MIXED PYMT":
        problems.append(f":{tag}: BY MIXED PYMT: mixed payment (42M) has no ledger form")
    elif by not in AVAILABLE_BY:
        problems.append(f":{tag}: {lines[-1]!r} is none of {', '.join(AVAILABLE_BY)}")
    return by


def _party(tag: str, v: str, problems: list[str]) -> tuple[tuple[str, ...], str | None]:
    lines = v.split("\n")
    account = None
    if tag == "59" and lines and lines[0].startswith("/"):
        account, lines = lines[0][1:], lines[1:]
        if not account or len(account) > 34:
            problems.append(":59: the account line is '/' and 1 to 34 characters")
    if tag == "59" and account is None and len(lines) > 4:  # 5 lines only with an account
        problems.append(":59: a name and address has at most 4 lines of 35 characters")
    if not lines or not lines[0].strip():
        problems.append(f":{tag}: has no name")
        return (), account
    return tuple(ln.strip() for ln in lines), account


def read_fields(text: str, problems: list[str], mt: str = "700",
                table: Mapping[str, FieldSpec] = FIELDS,
                mandatory: Iterable[str] = (),
                exclusive: Iterable[tuple[str, ...]] = ()) -> tuple[Header | None, dict[str, str]]:
    """A category-7 message's header and fields as every reader here starts: line ends, the
    FIN envelope, the fields of ``table``, the ``mandatory`` ones present (first problem
    listed), each field's shape, at most one field of each ``exclusive`` group."""
    text = _line_ends(text, problems)
    header, body = _envelope(text, problems, mt)
    fields = _fields(body, problems, table, mt)
    missing = [t for t in mandatory if t not in fields]
    if missing:
        problems.insert(0, "mandatory fields missing: " + ", ".join(f":{t}:" for t in missing))
    for tag, v in fields.items():
        _check_shape(tag, v, problems, table)
    _exclusive(fields, exclusive, problems)
    return header, fields


def check_reference(tag: str, value: str, problems: list[str]) -> None:
    """SWIFT's rule for a reference (:20:, :21:): not starting or ending with '/', no '//'."""
    if value and (value.startswith("/") or value.endswith("/") or "//" in value):
        problems.append(f":{tag}: {value!r} must not start or end with '/' nor contain '//'")


def parse(text: str) -> Mt700:
    """Read an MT700: a whole FIN message (blocks {1:}{2:}[{3:}]{4:...-}[{5:}]) or only its
    text block's fields. Line ends may be CRLF or LF; every field is checked strictly against
    its SWIFT format.

    Raises:
        Mt700Error: listing every problem found, each naming its field tag: missing mandatory
            fields, unknown or repeated tags, lines too long or too many, characters outside
            the SWIFT set, malformed dates, amounts, tolerances or tenors, and terms the
            ledger cannot hold (asymmetric tolerance, MT701 continuation, mixed payment,
            conditional partial shipments, a form or rules other than irrevocable UCP 600).
    """
    problems: list[str] = []
    notes: list[str] = []
    header, fields = read_fields(text, problems, exclusive=EXCLUSIVE)
    missing = [t for t in MANDATORY
               if (t == "41a" and _option(fields, "41") is None) or (t != "41a" and t not in fields)]
    if missing:
        problems.insert(0, "mandatory fields missing: " + ", ".join(f":{t}:" for t in missing))

    def get(tag: str) -> str:
        return fields.get(tag, "").strip()

    seq = get("27")
    if seq and seq != "1/1":
        if re.fullmatch(r"1/[2-8]", seq):
            problems.append(f":27: {seq}: the credit continues in MT701 messages, which this "
                            "bridge does not read")
        else:
            problems.append(f":27: {seq!r} is not 1/1")
    form = get("40A")
    if form and form not in FORMS:
        problems.append(f":40A: {form!r}: the ledger's credits are {' or '.join(FORMS)}")
    lc_number = get("20")
    check_reference("20", lc_number, problems)
    issue = _date("31C", get("31C"), problems) if "31C" in fields else None
    rules = get("40E").split("/")[0]
    if rules and rules not in RULES:
        problems.append(f":40E: {rules!r}: the ledger's credits follow {' or '.join(RULES)}")
    expiry, place = None, ""
    if "31D" in fields:
        v = get("31D")
        expiry = _date("31D", v[:6], problems)
        place = v[6:].strip()
        if not place:
            problems.append(":31D: the place of expiry is missing after the date")
    applicant, _ = _party("50", fields["50"], problems) if "50" in fields else ((), None)
    beneficiary, account = (_party("59", fields["59"], problems) if "59" in fields
                            else ((), None))
    currency, amount = "", ""
    if "32B" in fields:
        v = get("32B")
        if not re.fullmatch(r"[A-Z]{3}", v[:3]):
            problems.append(f":32B: {v!r} does not start with a currency code (3 capitals)")
        currency, amount = v[:3], v[3:]
        try:  # the format; the decimals are checked with the currency's exponent (genesis)
            _amount_format(amount, "32B")
        except Mt700Error as e:
            problems.extend(e.problems)
    tolerance = (_tolerance(get("39A"), problems) or 0) if "39A" in fields else 0
    if "39C" in fields:
        notes.append(":39C: additional amounts covered are not on the ledger (only the amount "
                     "and its tolerance)")
    by = _available(fields, problems)
    usance = 0
    tenor_tag = "42C" if "42C" in fields else "42P" if "42P" in fields else None
    if tenor_tag is not None:
        usance = _tenor(tenor_tag, fields[tenor_tag], problems, notes) or 0
    elif by == "BY DEF PAYMENT":
        problems.append(":41a: BY DEF PAYMENT needs :42P: with the deferred payment's tenor")
    if "42M" in fields:
        problems.append(":42M: mixed payment has no ledger form")
    partial = True
    if "43P" in fields:
        v = " ".join(get("43P").upper().split())
        if v == "CONDITIONAL":
            problems.append(":43P: CONDITIONAL: the ledger allows partial drawings or not; "
                            "its conditions (47A) cannot be kept")
        elif v not in PARTIAL_SHIPMENTS:
            problems.append(f":43P: {get('43P')!r} is none of ALLOWED, NOT ALLOWED")
        else:
            partial = PARTIAL_SHIPMENTS[v]
    else:
        notes.append(":43P: absent: partial drawings allowed (UCP 600 art. 31 a)")
    confirm = get("49")
    if confirm and confirm not in CONFIRMATIONS:
        problems.append(f":49: {confirm!r} is none of {', '.join(CONFIRMATIONS)}")
    documents = _documents(fields["46A"]) if "46A" in fields else ()
    if problems:
        raise Mt700Error(problems)
    assert issue is not None and expiry is not None
    return Mt700(header=header, fields=fields, lc_number=lc_number, issue_date=issue,
                 expiry_date=expiry, expiry_place=place, applicant=applicant,
                 beneficiary=beneficiary, beneficiary_account=account, currency=currency,
                 amount=amount, tolerance_bps=tolerance, available_by=by, usance_days=usance,
                 partial_drawings=partial, documents=documents, notes=tuple(notes))


def name_candidates(lines: tuple[str, ...]) -> list[str]:
    """What may be a party's name in :50: / :59:: its first line, or its first two, three or
    four lines joined (a name longer than 35 characters continues on the next line)."""
    return [" ".join(lines[:n]) for n in range(1, min(len(lines), 4) + 1)]


def ledger_terms(msg: Mt700, exponent: int) -> dict[str, object]:
    """``issue_lc``'s arguments from an MT700 (all but ``applicant``, ``beneficiary`` and
    ``trade_id``), ``amount`` in minor units of a currency with ``exponent`` decimals.
    ``required_docs`` is left out when the message has no :46A: (the ledger then requires an
    invoice).

    Raises:
        Mt700Error: the amount has more decimals than the currency, or it, with its tolerance,
            is above the ledger's largest amount.
    """
    minor = amount_to_minor(msg.amount, exponent)
    if minor + minor * msg.tolerance_bps // 10_000 > MAX_AMOUNT:
        raise Mt700Error([f":32B: with :39A: the credit can pay more than the ledger's largest "
                          f"amount ({MAX_AMOUNT} minor units)"])
    out: dict[str, object] = {
        "lc_number": msg.lc_number, "amount": minor, "currency": msg.currency,
        "expiry_date": msg.expiry_date.isoformat(), "tolerance_bps": msg.tolerance_bps,
        "partial_drawings": msg.partial_drawings, "usance_days": msg.usance_days}
    if msg.documents and msg.required_docs:
        out["required_docs"] = msg.required_docs
    return out


# ---------------------------------------------------------------------------- writing


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words (a word longer
    than a line is cut); more than ``lines`` lines are returned as they are, for the caller to
    report."""
    out: list[str] = []
    cur = ""
    for word in text.split():
        while len(word) > width:
            if cur:
                out.append(cur)
                cur = ""
            out.append(word[:width])
            word = word[width:]
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            out.append(cur)
            cur = word
    if cur:
        out.append(cur)
    return out


def _yymmdd(d: datetime.date, tag: str, problems: list[str]) -> str:
    if not 2000 <= d.year <= 2099:
        problems.append(f":{tag}: {d.isoformat()} is outside 2000-2099 (SWIFT dates are YYMMDD)")
    return d.strftime("%y%m%d")


def _doc_label(doc_type: str) -> str | None:
    for doc in DOCUMENTS:
        if doc.doc_type == doc_type:
            return doc.label
    return None


def render(t: LcTerms) -> str:
    """An MT700 (blocks {1:}{2:}{4:...-}, CRLF line ends) for an on-ledger letter of credit:
    sender ``t.sender_bic`` (the issuing bank), receiver ``t.receiver_bic``; fields 27, 40A, 20,
    31C, 40E, 31D, 50, 59, 32B, 41A, 49 always, 39A, 42C (with drawee 42A), 43P and 46A from the
    credit's terms. Every line is checked against the SWIFT X set and its field's length.

    Raises:
        Mt700Error: listing everything the message cannot carry (characters, lengths, an amount
            over 15 characters, a tolerance that is not a whole percentage up to 99, a bank that
            is not a BIC, a document type with no :46A: wording), each naming its field.
    """
    problems: list[str] = []
    for what, bic in (("sender", t.sender_bic), ("receiver", t.receiver_bic)):
        if not _BIC.fullmatch(bic):
            problems.append(f"header: the {what} {bic!r} is not a BIC")
    s11, r11 = bic11(t.sender_bic), bic11(t.receiver_bic)
    fields: list[tuple[str, list[str]]] = [("27", ["1/1"]), ("40A", [FORMS[0]]),
                                           ("20", [t.lc_number]),
                                           ("31C", [_yymmdd(t.issue_date, "31C", problems)]),
                                           ("40E", [RULES[0]]),
                                           ("31D", [_yymmdd(t.expiry_date, "31D", problems)
                                                    + t.expiry_place])]
    for tag, name in (("50", t.applicant), ("59", t.beneficiary)):
        lines = _wrap(name, 35, 4)
        if len(lines) > 4:
            problems.append(f":{tag}: the name {name!r} needs more than 4 lines of 35 characters")
        fields.append((tag, lines))
    amount = minor_to_amount(t.amount, t.exponent)
    if len(amount) > 15:
        problems.append(f":32B: {t.currency} {amount} has more than 15 characters: an MT700 "
                        "cannot carry this amount")
    fields.append(("32B", [t.currency + amount]))
    if t.tolerance_bps:
        pct, rest = divmod(t.tolerance_bps, 100)
        if rest or pct > 99:
            problems.append(f":39A: a tolerance of {t.tolerance_bps} basis points is not a whole "
                            "percentage from 1 to 99")
        fields.append(("39A", [f"{pct:02d}/{pct:02d}"]))
    issuer = s11
    fields.append(("41A", [issuer, "BY ACCEPTANCE" if t.usance_days else "BY PAYMENT"]))
    if t.usance_days:
        fields.append(("42C", [f"AT {t.usance_days} DAYS AFTER SIGHT"]))
        fields.append(("42A", [issuer]))
    fields.append(("43P", ["ALLOWED" if t.partial_drawings else "NOT ALLOWED"]))
    if t.required_docs:
        docs = []
        for d in sorted(t.required_docs):
            label = _doc_label(d)
            if label is None:
                problems.append(f":46A: the ledger document type {d!r} has no MT700 wording")
            else:
                docs.append(label)
        fields.append(("46A", docs))
    fields.append(("49", ["WITHOUT"]))
    return fin_message("700", s11, r11, fields, problems)


def bic11(bic: str) -> str:
    """A BIC of 8 or 11 characters as 11 (the branch ``XXX`` when none)."""
    return bic if len(bic) == 11 else bic + "XXX"


def fin_message(mt: str, sender: str, receiver: str, fields: list[tuple[str, list[str]]],
                problems: list[str], table: Mapping[str, FieldSpec] = FIELDS) -> str:
    """An input FIN message (blocks {1:}{2:}{4:...-}, CRLF line ends) of type ``mt`` from
    ``sender`` to ``receiver`` (11-character BICs) with ``fields`` in order, each checked
    against ``table`` and SWIFT's delimiters.

    Raises:
        MtError: ``problems`` (the caller's, and what this check finds), if any.
    """
    body = []
    for tag, lines in fields:
        value = "\n".join(lines)
        _check_shape(tag, value, problems, table)
        for i, line in enumerate(lines, 1):
            if line.startswith((":", "-")):
                problems.append(f":{tag}: line {i} starts with {line[0]!r}, which SWIFT reads "
                                "as a delimiter")
        if tag == "20" and (value.startswith("/") or value.endswith("/") or "//" in value):
            problems.append(f":20: {value!r} must not start or end with '/' nor contain '//'")
        body.append(f":{tag}:" + "\r\n".join(lines))
    if problems:
        raise MtError(problems)
    return ("{1:F01" + sender[:8] + "A" + sender[8:] + "0000000000}"
            + "{2:I" + mt + receiver[:8] + "X" + receiver[8:] + "N}"
            + "{4:\r\n" + "\r\n".join(body) + "\r\n-}")
