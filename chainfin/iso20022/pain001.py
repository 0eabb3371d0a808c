"""pain.001 in, pain.002 out: a corporate's payment file and the bank's status report on it.

A treasury or ERP system sends its bank a pain.001.001.09 CustomerCreditTransferInitiation: a
group header (``MsgId``, ``NbOfTxs``, ``CtrlSum``), payment information blocks (``PmtInf``: the
debtor's account, the requested execution date, ``BtchBookg``) and in each its credit transfer
transactions (``CdtTrfTxInf``: ``EndToEndId``, amount, creditor, remittance information). Each
transaction becomes one settlement ``transfer`` signed by the debtor, and the answer is a
pain.002.001.12 CustomerPaymentStatusReport: a status for the group, each block and each
transaction (``ACSC`` booked, ``ACCP`` accepted on a dry run, ``RJCT`` with an ISO reason code,
``PDNG``, ``PART`` for a group or block some of whose transactions were not booked). Both
messages are checked against the official ISO 20022 XSDs shipped in ``xsd/``.

Three levels of refusal, as a bank's payment factory has them:

* the **file** (nothing is booked, the group is ``RJCT``): not XML, a DTD or an entity, invalid
  against the schema (``FF01``), the group's ``NbOfTxs`` (``AM19``) or ``CtrlSum`` (``AM16``)
  not the transactions', or a ``MsgId`` this debtor already had booked (``DU01``);
* a **block** (its transactions are ``RJCT``): its debtor account is not the signer's (``AC02``),
  its execution date is after tomorrow (``CH03``: the ledger settles on commit and keeps no
  value date), its own ``NbOfTxs`` / ``CtrlSum`` (``AM20`` / ``AM17``), a repeated ``PmtInfId``
  (``DU02``), a payment method other than a credit transfer;
* a **transaction**: found before sending (an amount with more decimals than its currency has,
  ``AM12``; a zero amount, ``AM01``; a currency the ledger has not, ``AM03``; a creditor
  account that names no key, ``AC03``; a repeated ``EndToEndId`` or UETR, ``AM05``; the
  settlement contract's own argument rules) or by the ledger (:data:`LEDGER_REASONS`: ``insufficient_funds`` is ``AM04``,
  ``duplicate_payment`` ``AM05``, ``sanctioned_party`` ``RR04``, ...).

Amounts are decimal strings turned into integer minor units by the currency's ISO 4217
exponent (the ledger's genesis); control sums are compared exactly, in integers, never as
floats. This module does no I/O: :mod:`chainfin.iso20022.cli` reads the ledger and sends.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from chainfin.errors import ChainfinError
from chainfin.iso20022 import (
    _B,
    _CTRL_SUM,
    _UETR,
    MAX_MESSAGE_BYTES,
    MAX_TRANSACTIONS,
    NOT_PROVIDED,
    NS,
    SCHEMAS,
    Iso20022Error,
    TxStatus,
    _account,
    _account_key,
    _child,
    _children,
    _clean_name,
    _dt,
    _local,
    _msg_id,
    _now,
    _read_xml,
    _reference,
    _remittance,
    _text,
    _value,
    parse_amount,
    to_minor,
    validate,
)

__all__ = ["Initiation", "PaymentBlock", "Initiated", "Refusal", "FileRefused",
           "parse_pain001", "build_pain002", "derived_uetr", "ledger_reason", "LEDGER_REASONS",
           "PAIN001_VERSION", "PAIN002_VERSION", "Report", "TransferParser", "tx_status", "group_status",
           "Instruction", "build_pain001"]

PAIN001_VERSION = "pain.001.001.09"
PAIN002_VERSION = "pain.002.001.12"

#: the settlement contract's refusal codes as ISO 20022 ExternalStatusReason1Code; a code not
#: here is reported as it is, in ``Rsn/Prtry`` (as the pacs.002 reports every code)
LEDGER_REASONS = {
    "insufficient_funds": "AM04",  # InsufficientFunds
    "duplicate_payment": "AM05",  # Duplication: this debtor already paid under the UETR
    "unknown_identity": "AC03",  # InvalidCreditorAccountNumber: the key is no identity
    "account_frozen": "AC06",  # BlockedAccount
    "sanctioned_party": "RR04",  # RegulatoryReason
    # MissingDebtorNameOrAddress: the travel rule, FATF R.16 (decision 221)
    "incomplete_originator_info": "RR02",
    "limit_exceeded": "AM14",  # AmountExceedsAgreedLimit (the home bank's risk limits)
    "forbidden": "AG01",  # TransactionForbidden (the signer's role may not pay)
    "unknown_currency": "AM03",  # NotAllowedCurrency
    "amount_too_large": "AM02",  # NotAllowedAmount
}


def ledger_reason(code: str | None) -> tuple[str | None, str | None]:
    """``(ISO code, proprietary code)`` of the ledger's refusal ``code``: one of the two."""
    if code in LEDGER_REASONS:
        return LEDGER_REASONS[code], None
    return None, (code or "unknown")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a file, a block or a transaction is refused: an ISO ExternalStatusReason1Code
    (``code``) or, for what has none, a proprietary code (``prtry``), and the words."""

    code: str | None
    text: str
    prtry: str | None = None


@dataclass(frozen=True, slots=True)
class Initiated:
    """One ``CdtTrfTxInf``: what it asks, and either its transfer's arguments or its refusal."""

    index: int  # in the whole message
    block: int  # its PmtInf's position
    end_to_end_id: str | None
    instr_id: str | None
    uetr: str | None  # the message's PmtId/UETR (lower-cased), else derived (:func:`derived_uetr`)
    uetr_given: bool
    amount_text: str
    currency: str
    args: dict[str, Any] | None  # the settlement transfer's arguments; None when refused
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class PaymentBlock:
    """One ``PmtInf``."""

    index: int
    pmt_inf_id: str
    debtor: str | None
    execution_date: date | None
    batch_booking: bool | None
    nb_of_txs: str | None
    ctrl_sum: str | None
    transfers: tuple[Initiated, ...]
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class Initiation:
    msg_id: str
    created: str
    nb_of_txs: str
    ctrl_sum: str | None
    blocks: tuple[PaymentBlock, ...]

    @property
    def transfers(self) -> tuple[Initiated, ...]:
        return tuple(t for b in self.blocks for t in b.transfers)


class FileRefused(Iso20022Error):
    """The whole file is refused (group status ``RJCT``); what could be read of its header
    travels with it for the pain.002."""

    def __init__(self, refusal: Refusal, msg_id: str | None = None, created: str | None = None,
                 nb_of_txs: str | None = None, ctrl_sum: str | None = None) -> None:
        super().__init__(f"{refusal.code or refusal.prtry}: {refusal.text}")
        self.refusal = refusal
        self.msg_id, self.created = msg_id, created
        self.nb_of_txs, self.ctrl_sum = nb_of_txs, ctrl_sum


def derived_uetr(debtor: str, msg_id: str, index: int) -> str:
    """The UETR the ``index``-th transaction of message ``msg_id`` (counted across its blocks)
    is booked under when the file gives none: a function of the debtor, the message id and the
    place only, so that the same ``MsgId`` sent again asks for the same UETRs, which the ledger
    refuses to book twice (``duplicate_payment``) and :mod:`chainfin.iso20022.cli` looks up
    before sending (``DU01``), whatever the new file's blocks and amounts. Written in the
    UUIDv4 form the ledger and ISO 20022 require (version and variant bits set, the other 122
    bits from SHA-256)."""
    h = hashlib.sha256("\x00".join(("chainfin pain.001 uetr", debtor, msg_id,
                                    str(index))).encode()).digest()
    return str(uuid.UUID(bytes=h[:16], version=4))


#: the settlement contract's ``transfer`` argument parser (``Method.parse_args``)
TransferParser = Callable[[Mapping[str, Any]], Any]


def _header_text(root: Any, *path: str) -> str | None:
    """A group header value of a file being refused, for its report: None when it cannot be
    read or a report could not carry it."""
    try:
        v = _text(root, *path)
    except Iso20022Error:
        return None
    return v if v and len(v) <= 35 and v.isprintable() else None


#: a DecimalNumber (CtrlSum) has at most 17 decimals; amounts at most 5
_SCALE = 17
_ONE: int = 10 ** _SCALE


def _fixed(text: str) -> int:
    """A plain decimal's text (``123.45``) times 10**17, exactly: integer arithmetic, so a sum
    of 10,000 amounts of 18 digits is exact where ``Decimal``'s 28 digits would round."""
    whole, _, frac = text.partition(".")
    return int(whole or "0") * _ONE + int((frac + "0" * _SCALE)[:_SCALE] or "0")


def _group_sum(amounts: Sequence[tuple[str, str]], ctrl: str, where: str) -> str | None:
    """Why ``ctrl`` (a ``CtrlSum``) is not the sum of ``amounts`` (their texts and currencies),
    or None when it is: compared exactly, in integers, never as floats (``0.30000000000000004``
    is not ``0.10`` + ``0.20``). Across currencies ISO 20022 adds the amounts as plain
    numbers. The control sum checks the file as written; whether each amount fits its
    currency's decimals is the transaction's check (``AM12``)."""
    if not _CTRL_SUM.fullmatch(ctrl):
        return f"{where} {ctrl[:40]!r} is not a plain decimal number"
    ccys = {c for _, c in amounts}
    total = sum(_fixed(a) for a, _ in amounts)
    if _fixed(ctrl) != total:
        return f"{where} is {ctrl} but the amounts add up to {from_fixed(total)}" + \
            (f" {next(iter(ccys))}" if len(ccys) == 1 else "")
    return None


def from_fixed(v: int) -> str:
    whole, frac = divmod(v, _ONE)
    f = str(frac).rjust(_SCALE, "0").rstrip("0")
    return f"{whole}.{f}" if f else str(whole)


def _nb(text: str | None, count: int, where: str) -> str | None:
    if text is not None and int(text) != count:
        return f"{where} is {text} but there are {count}"
    return None


def _execution_date(blk: Any) -> date:
    v = _text(blk, "ReqdExctnDt", "Dt") or _text(blk, "ReqdExctnDt", "DtTm") or ""
    return date.fromisoformat(v[:10])


def parse_pain001(data: bytes, *, signer: str, exponents: Mapping[str, int],
                  parse_args: TransferParser, accounts: Mapping[str, str] | None = None,
                  today: date | None = None) -> Initiation:
    """Read a pain.001.001.09 for the debtor ``signer`` (the key that signs the transfers):
    the file validated against the official XSD, its totals checked, each block and each
    transaction turned into a settlement ``transfer``'s arguments (checked by ``parse_args``,
    the contract's own parser) or refused with its ISO reason. ``exponents``: the ledger's
    currencies; ``today``: the submitter's UTC date (an execution date after tomorrow is
    refused).

    Raises:
        FileRefused: the file as a whole (see the module's docstring).
    """
    accounts = accounts or {}
    if len(data) > MAX_MESSAGE_BYTES:
        raise FileRefused(Refusal("FF01", f"the file is {len(data):,} bytes; more than "
                                          f"{MAX_MESSAGE_BYTES:,} is refused unread"))
    try:
        root = _read_xml(data)
    except Iso20022Error as e:
        raise FileRefused(Refusal("FF01", str(e))) from None
    ns = root.tag.split("}", 1)[0].lstrip("{") if root.tag.startswith("{") else ""
    other = re.fullmatch(r"urn:iso:std:iso:20022:tech:xsd:(pain\.001\.001\.\d\d)", ns)
    if _local(root) == "Document" and other and ns != NS["pain.001"]:
        # an ERP's older export (SAP and others still write pain.001.001.03): say what to send,
        # and answer under its MsgId so the ERP can match the report to its file
        mid = root.findtext(f"{{{ns}}}CstmrCdtTrfInitn/{{{ns}}}GrpHdr/{{{ns}}}MsgId")
        mid = mid.strip() if mid and len(mid.strip()) <= 35 and mid.isprintable() else None
        raise FileRefused(Refusal("FF01", f"a {other.group(1)} file: this ledger reads "
                                          f"{PAIN001_VERSION} only (ISO 20022's 2019 version, "
                                          "which SEPA and CBPR+ use); export the file in it"),
                          mid)
    if _local(root) != "Document" or ns != NS["pain.001"]:
        raise FileRefused(Refusal("FF01", f"expected a {PAIN001_VERSION} Document, got "
                                          f"{_local(root)} in namespace {ns or '(none)'}"))
    hdr_path = ("CstmrCdtTrfInitn", "GrpHdr")
    msg_id = _header_text(root, *hdr_path, "MsgId")
    try:
        validate("pain.001", root)
    except Iso20022Error as e:
        raise FileRefused(Refusal("FF01", str(e)), msg_id) from None
    try:
        return _initiation(root, signer, exponents, parse_args, accounts, today)
    except FileRefused:
        raise
    except Iso20022Error as e:  # an element twice, or in another namespace
        raise FileRefused(Refusal("FF01", str(e)), msg_id) from None


def _initiation(root: Any, signer: str, exponents: Mapping[str, int],
                parse_args: TransferParser, accounts: Mapping[str, str],
                today: date | None) -> Initiation:
    body = _child(root, "CstmrCdtTrfInitn")
    hdr = _child(body, "GrpHdr")
    msg_id, created = _text(hdr, "MsgId") or "", _text(hdr, "CreDtTm") or ""
    nb, ctrl = _text(hdr, "NbOfTxs") or "", _text(hdr, "CtrlSum")
    if not msg_id.isprintable():
        raise FileRefused(Refusal("FF01", "GrpHdr/MsgId must be printable"))
    head = {"msg_id": msg_id, "created": created, "nb_of_txs": nb, "ctrl_sum": ctrl}
    blocks_el = _children(body, "PmtInf")
    txs_el = [(b, t) for b, blk in enumerate(blocks_el) for t in _children(blk, "CdtTrfTxInf")]
    if len(txs_el) > MAX_TRANSACTIONS:
        raise FileRefused(Refusal("FF01", f"more than {MAX_TRANSACTIONS} transactions"), **head)
    why = _nb(nb, len(txs_el), "GrpHdr/NbOfTxs")
    if why:
        raise FileRefused(Refusal("AM19", why), **head)
    amounts = []
    for _, t in txs_el:
        el = _child(t, "Amt", "InstdAmt")
        if el is None:
            el = _child(t, "Amt", "EqvtAmt", "Amt")
        text = _value(el).strip()
        parse_amount(text, "Amt")  # plain digits: no sign, no exponent
        amounts.append((text, el.get("Ccy") or ""))
    if ctrl is not None:
        why = _group_sum(amounts, ctrl, "GrpHdr/CtrlSum")
        if why:
            raise FileRefused(Refusal("AM16", why), **head)
    blocks: list[PaymentBlock] = []
    seen_blocks: set[str] = set()
    seen_e2e: set[str] = set()
    seen_uetr: set[str] = set()
    index = 0
    for b, blk in enumerate(blocks_el):
        pid = _text(blk, "PmtInfId") or ""
        w = f"PmtInf[{b}]"
        refusal = None
        debtor = None
        try:
            debtor = _account_key(_child(blk, "DbtrAcct"), accounts, f"{w}/DbtrAcct")
        except Iso20022Error as e:
            refusal = Refusal("AC02", str(e))
        when = _execution_date(blk)
        bnb, bctrl = _text(blk, "NbOfTxs"), _text(blk, "CtrlSum")
        tx_els = _children(blk, "CdtTrfTxInf")
        block_amounts = amounts[index:index + len(tx_els)]
        bb = _text(blk, "BtchBookg")
        if refusal is None and debtor != signer:
            refusal = Refusal("AC02", f"{w}/DbtrAcct is {str(debtor)[:16]}…, not the signing "
                                      f"key {signer[:16]}…: a transfer debits its signer")
        if refusal is None and pid in seen_blocks:
            refusal = Refusal("DU02", f"{w}/PmtInfId {pid!r} repeats in this message")
        if refusal is None and _text(blk, "PmtMtd") != "TRF":
            refusal = Refusal("NARR", f"{w}/PmtMtd {_text(blk, 'PmtMtd')}: the ledger makes "
                                      "credit transfers (TRF) only")
        if refusal is None and today is not None and when.toordinal() > today.toordinal() + 1:
            refusal = Refusal("CH03", f"{w}/ReqdExctnDt is {when}, after today ({today}, UTC): "
                                      "the ledger keeps no value date and settles a transfer "
                                      "when it commits; send the file on its execution date")
        if refusal is None:
            why = _nb(bnb, len(tx_els), f"{w}/NbOfTxs")
            refusal = Refusal("AM20", why) if why else None
        if refusal is None and bctrl is not None:
            why = _group_sum(block_amounts, bctrl, f"{w}/CtrlSum")
            refusal = Refusal("AM17", why) if why else None
        seen_blocks.add(pid)
        txs = []
        for pos, tx in enumerate(tx_els):
            t = _transaction(tx, index, b, debtor or signer, seen_e2e, seen_uetr,
                             exponents, parse_args, accounts, f"{w}/CdtTrfTxInf[{pos}]", head)
            if refusal is not None:
                t = replace(t, args=None, refusal=Refusal(refusal.code, f"its PmtInf is refused "
                                                                        f"({refusal.code})"))
            txs.append(t)
            index += 1
        blocks.append(PaymentBlock(b, pid, debtor, when, None if bb is None else bb == "true",
                                   bnb, bctrl, tuple(txs), refusal))
    return Initiation(msg_id, created, nb, ctrl, tuple(blocks))


def structured_remittance(rmt: Any) -> list[str]:
    """``RmtInf/Strd`` -> lines of the transfer's ``remittance_info`` (after any ``Ustrd``), so
    the creditor can still match the payment to its invoice: an ERP writes its invoice numbers
    and the creditor's reference there, not in ``Ustrd``. Per ``Strd``, as SWIFT's field 70
    carries them: the creditor reference (``CdtrRefInf/Ref``) alone, an ISO 11649 ``RF``
    reference as it is and another as ``/RFB/<ref>``; each referred document (``RfrdDocInf``)
    as ``/<type>/<number>`` with its date (``/INV/2026-0044 2026-11-30`` for a commercial
    invoice, ``CINV``; ``/CREN/...`` a credit note...); then ``AddtlRmtInf`` as written.
    Amounts, parties and tax details are not carried (the 140 characters go to references)."""
    if rmt is None:
        return []
    out: list[str] = []
    for st in _children(rmt, "Strd"):
        ref = _text(st, "CdtrRefInf", "Ref")
        if ref and ref.strip():
            r = ref.strip()
            out.append(r if r[:2].upper() == "RF" and r[2:4].isdigit() else f"/RFB/{r}")
        for doc in _children(st, "RfrdDocInf"):
            nb = (_text(doc, "Nb") or "").strip()
            if not nb:
                continue
            kind = (_text(doc, "Tp", "CdOrPrtry", "Cd")
                    or _text(doc, "Tp", "CdOrPrtry", "Prtry") or "").strip()
            kind = "INV" if kind in ("", "CINV") else kind
            when = (_text(doc, "RltdDt") or "").strip()
            out.append(f"/{kind}/{nb}" + (f" {when}" if when else ""))
        out += [_value(a) for a in _children(st, "AddtlRmtInf")]
    return out


def _transaction(tx: Any, index: int, block: int, debtor: str,
                 seen_e2e: set[str], seen_uetr: set[str], exponents: Mapping[str, int],
                 parse_args: TransferParser, accounts: Mapping[str, str], w: str,
                 head: Mapping[str, Any]) -> Initiated:
    e2e = _text(tx, "PmtId", "EndToEndId")
    uetr = _text(tx, "PmtId", "UETR")
    given = uetr is not None
    uetr = uetr.lower() if uetr else derived_uetr(debtor, head["msg_id"], index)
    amt = _child(tx, "Amt", "InstdAmt")
    eqvt = _child(tx, "Amt", "EqvtAmt", "Amt")
    shown = amt if amt is not None else eqvt
    text, ccy = _value(shown).strip(), shown.get("Ccy") or ""
    base = Initiated(index, block, e2e, _text(tx, "PmtId", "InstrId"), uetr, given, text, ccy,
                     None)

    def refuse(code: str, why: str) -> Initiated:
        return replace(base, refusal=Refusal(code, f"{w}: {why}"))

    try:
        e2e_ok = _reference(e2e, 35, f"{w}/PmtId/EndToEndId", required=True)
    except Iso20022Error as e:
        return refuse("NARR", str(e))
    if e2e_ok != NOT_PROVIDED and e2e_ok in seen_e2e:
        return refuse("AM05", f"EndToEndId {e2e_ok!r} repeats in this message")
    seen_e2e.add(str(e2e_ok))
    if not _UETR.fullmatch(uetr) or uetr in seen_uetr:
        return refuse("AM05", f"UETR {uetr} repeats in this message") if uetr in seen_uetr \
            else refuse("NARR", "PmtId/UETR is not a UUIDv4")
    seen_uetr.add(uetr)
    if amt is None:
        return refuse("NARR", "an equivalent amount (Amt/EqvtAmt) asks for an exchange the "
                              "ledger does not make: give Amt/InstdAmt")
    if _child(tx, "ChqInstr") is not None:
        return refuse("NARR", "a cheque (ChqInstr): the ledger makes credit transfers only")
    if ccy not in exponents:
        return refuse("AM03", f"the ledger has no currency {ccy}")
    if parse_amount(text) == 0:
        return refuse("AM01", f"Amt/InstdAmt {text} {ccy} is zero")
    try:
        minor = to_minor(parse_amount(text), exponents[ccy])
    except Iso20022Error:
        return refuse("AM12", f"Amt/InstdAmt {text} {ccy}: an amount in {ccy} is positive with "
                              f"at most {exponents[ccy]} decimals")
    cacct = _child(tx, "CdtrAcct")
    if cacct is None:
        return refuse("AC03", "CdtrAcct is required (the account to credit)")
    try:
        creditor = _account_key(cacct, accounts, f"{w}/CdtrAcct")
    except Iso20022Error as e:
        return refuse("AC03", str(e))
    if creditor == debtor:
        return refuse("AC03", "the creditor account is the debtor's own")
    rmt = _child(tx, "RmtInf")
    try:
        info = _remittance([] if rmt is None else [_value(c) for c in _children(rmt, "Ustrd")]
                           + structured_remittance(rmt), f"{w}/RmtInf")
    except Iso20022Error as e:
        return refuse("NARR", str(e))
    args: dict[str, Any] = {"to": creditor, "currency": ccy, "amount": minor,
                            "end_to_end_id": e2e_ok, "uetr": uetr}
    if info:
        args["remittance_info"] = info
    try:
        parse_args(args)
    except ChainfinError as e:
        code, prtry = ledger_reason(getattr(e, "code", None))
        return replace(base, refusal=Refusal(code, f"{w}: the ledger would refuse it: {e}",
                                             prtry))
    return replace(base, args=args)


# --------------------------------------------------------------------------- pain.002


@dataclass(frozen=True, slots=True)
class Report:
    """What :func:`build_pain002` reports: the file, and per transaction (in the file's order)
    its refusal before sending, or the ledger's status (``statuses``, None on a dry run)."""

    initiation: Initiation | None
    refused: FileRefused | None = None
    statuses: Mapping[int, TxStatus] = field(default_factory=dict)
    dry_run: bool = False
    notes: Mapping[int, str] = field(default_factory=dict)  # per block: a word on booking


def tx_status(t: Initiated, r: Report) -> tuple[str, Refusal | None, TxStatus | None]:
    if t.refusal is not None:
        return "RJCT", t.refusal, None
    if r.dry_run:
        return "ACCP", None, None
    s = r.statuses.get(t.index)
    if s is None:
        return "PDNG", None, None
    if s.status == "committed":
        return "ACSC", None, s
    if s.status in ("rejected", "not_sent"):
        code, prtry = ledger_reason(s.error_code)
        return "RJCT", Refusal(code, _clean_name(s.error_message, 105) or "refused by the "
                                                                          "ledger", prtry), s
    return "PDNG", None, s


def group_status(r: Report) -> str:
    """The report's group status (``GrpSts``)."""
    if r.initiation is None:
        return "RJCT"
    return _group_status([tx_status(t, r)[0] for t in r.initiation.transfers])


def _group_status(sts: Sequence[str]) -> str:
    """A group's or a block's status from its transactions': all alike, that status; some
    accepted and others not, ``PART``; none accepted and some pending, ``PDNG``."""
    kinds = set(sts)
    if len(kinds) == 1:
        return sts[0]
    if kinds & {"ACSC", "ACCP"}:
        return "PART"
    return "PDNG" if "PDNG" in kinds else "RJCT"


def _reason(b: _B, parent: Any, r: Refusal) -> None:
    info = b.sub(parent, "StsRsnInf")
    if r.code:
        b.path(info, "Rsn/Cd", r.code)
    else:
        b.path(info, "Rsn/Prtry", _clean_name(r.prtry, 35) or "unknown")
    text = _clean_name(r.text, 1_000) or ""
    for i in range(0, min(len(text), 315), 105):  # at most three lines of 105
        b.sub(info, "AddtlInf", text[i:i + 105].strip() or ".")


def _per_status(b: _B, parent: Any, sts: Sequence[str]) -> None:
    for st, n in sorted(Counter(sts).items()):
        per = b.sub(parent, "NbOfTxsPerSts")
        b.sub(per, "DtldNbOfTxs", str(n))
        b.sub(per, "DtldSts", st)


def build_pain002(r: Report) -> bytes:
    """The pain.002.001.12 status report of a pain.001, valid against the official XSD (checked
    here: a report that would not validate is a bug)."""
    b = _B("pain.002")
    root = b.root()
    body = b.sub(root, "CstmrPmtStsRpt")
    hdr = b.sub(body, "GrpHdr")
    b.sub(hdr, "MsgId", _msg_id("CF002"))
    b.sub(hdr, "CreDtTm", _dt(_now()))
    og = b.sub(body, "OrgnlGrpInfAndSts")
    ini, ref = r.initiation, r.refused
    msg_id = ini.msg_id if ini else (ref.msg_id if ref else None)
    b.sub(og, "OrgnlMsgId", msg_id or NOT_PROVIDED)
    b.sub(og, "OrgnlMsgNmId", PAIN001_VERSION)
    created = ini.created if ini else (ref.created if ref else None)
    if created and _iso_datetime(created):
        b.sub(og, "OrgnlCreDtTm", created)
    nb = ini.nb_of_txs if ini else (ref.nb_of_txs if ref else None)
    if nb:
        b.sub(og, "OrgnlNbOfTxs", nb)
    ctrl = ini.ctrl_sum if ini else (ref.ctrl_sum if ref else None)
    if ctrl:
        b.sub(og, "OrgnlCtrlSum", ctrl)
    if ini is None:
        b.sub(og, "GrpSts", "RJCT")
        if ref is not None:
            _reason(b, og, ref.refusal)
        out = b.bytes(root)
        validate("pain.002", out)
        return out
    per_block = []
    for blk in ini.blocks:
        per_block.append([tx_status(t, r) for t in blk.transfers])
    all_sts = [s for blk in per_block for s, _, _ in blk]
    b.sub(og, "GrpSts", _group_status(all_sts))
    _per_status(b, og, all_sts)
    for blk, rows in zip(ini.blocks, per_block, strict=True):
        p = b.sub(body, "OrgnlPmtInfAndSts")
        b.sub(p, "OrgnlPmtInfId", blk.pmt_inf_id)
        if blk.nb_of_txs:
            b.sub(p, "OrgnlNbOfTxs", blk.nb_of_txs)
        if blk.ctrl_sum:
            b.sub(p, "OrgnlCtrlSum", blk.ctrl_sum)
        sts = [s for s, _, _ in rows]
        b.sub(p, "PmtInfSts", _group_status(sts))
        if blk.refusal is not None:
            _reason(b, p, blk.refusal)
        elif blk.index in r.notes and set(sts) != {"RJCT"}:  # a block none of whose
            # transactions was taken is not 'booked per transaction': the note would read as
            # the reason of its RJCT
            b.path(p, "StsRsnInf/AddtlInf", _clean_name(r.notes[blk.index], 105) or ".")
        _per_status(b, p, sts)
        for t, (st, why, s) in zip(blk.transfers, rows, strict=True):
            x = b.sub(p, "TxInfAndSts")
            if t.instr_id and len(t.instr_id) <= 35:
                b.sub(x, "OrgnlInstrId", t.instr_id)
            if t.end_to_end_id and len(t.end_to_end_id) <= 35:
                b.sub(x, "OrgnlEndToEndId", t.end_to_end_id)
            if t.uetr and _UETR.fullmatch(t.uetr):
                b.sub(x, "OrgnlUETR", t.uetr)
            b.sub(x, "TxSts", st)
            if why is not None:
                _reason(b, x, why)
            if s is not None and st == "ACSC" and s.time is not None:
                b.sub(x, "AccptncDtTm", _dt(s.time))
            if s is not None and s.tx_id:
                b.sub(x, "AcctSvcrRef", s.tx_id[:35])
            if s is not None and s.height is not None:
                b.sub(x, "ClrSysRef", f"chainfin-block-{s.height}")
    out = b.bytes(root)
    validate("pain.002", out)
    return out


def _iso_datetime(v: str) -> bool:
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


assert "pain.001" in SCHEMAS and "pain.002" in SCHEMAS


# --------------------------------------------------------------------------- pain.001 (examples)


@dataclass(frozen=True, slots=True)
class Instruction:
    """Input of :func:`build_pain001` (tests, examples): one credit transfer of the file."""

    end_to_end_id: str
    amount: str  # decimal text, as the file carries it
    currency: str
    creditor: str  # public key hex
    creditor_name: str = "Creditor"
    remittance_info: str | None = None
    uetr: str | None = None


def build_pain001(debtor: str, instructions: Sequence[Instruction], *,
                  msg_id: str | None = None, pmt_inf_id: str = "PMT-1",
                  execution_date: date | None = None, batch_booking: bool | None = None,
                  ctrl_sum: str | None = None, debtor_name: str = "Debtor",
                  bic: str = "CHFNUS33XXX") -> bytes:
    """A pain.001.001.09 with one ``PmtInf`` for ``debtor`` (its account a CHAINFIN proxy),
    valid against the official XSD. ``ctrl_sum``: the group's and the block's ``CtrlSum``
    (default: the exact sum of the amounts)."""
    b = _B("pain.001")
    root = b.root()
    body = b.sub(root, "CstmrCdtTrfInitn")
    hdr = b.sub(body, "GrpHdr")
    total = ctrl_sum or from_fixed(sum(_fixed(i.amount) for i in instructions))
    b.sub(hdr, "MsgId", msg_id or _msg_id("CF001"))
    b.sub(hdr, "CreDtTm", _dt(_now()))
    b.sub(hdr, "NbOfTxs", str(len(instructions)))
    b.sub(hdr, "CtrlSum", total)
    b.path(hdr, "InitgPty/Nm", debtor_name)
    blk = b.sub(body, "PmtInf")
    b.sub(blk, "PmtInfId", pmt_inf_id)
    b.sub(blk, "PmtMtd", "TRF")
    if batch_booking is not None:
        b.sub(blk, "BtchBookg", "true" if batch_booking else "false")
    b.sub(blk, "NbOfTxs", str(len(instructions)))
    b.sub(blk, "CtrlSum", total)
    b.path(blk, "ReqdExctnDt/Dt", (execution_date or _now().date()).isoformat())
    b.path(blk, "Dbtr/Nm", debtor_name)
    _account(b, blk, "DbtrAcct", debtor)
    b.path(blk, "DbtrAgt/FinInstnId/BICFI", bic)
    for i in instructions:
        tx = b.sub(blk, "CdtTrfTxInf")
        pid = b.sub(tx, "PmtId")
        b.sub(pid, "EndToEndId", i.end_to_end_id)
        if i.uetr:
            b.sub(pid, "UETR", i.uetr)
        b.path(tx, "Amt/InstdAmt", i.amount).set("Ccy", i.currency)
        b.path(tx, "Cdtr/Nm", i.creditor_name)
        _account(b, tx, "CdtrAcct", i.creditor)
        if i.remittance_info:
            b.path(tx, "RmtInf/Ustrd", i.remittance_info)
    out = b.bytes(root)
    validate("pain.001", out)
    return out
