"""A pacs.009 built by hand (the adapter writes none): the ISO 20022 tests' common case."""

from __future__ import annotations

from typing import Any

from lxml import etree

from chainfin import iso20022 as iso


def pacs009(creditor_key: str, amount: str, ccy: str = "USD",
            creditor_bank: str | None = None) -> bytes:
    """One FI-to-FI transfer ``FI-1`` of ``amount`` ``ccy`` to the chainfin key
    ``creditor_key`` (``Prxy`` of type CHAINFIN), optionally naming the creditor's bank."""
    ns = iso.NS["pacs.009"]
    root = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})

    def sub(p: Any, tag: str, text: str | None = None, **a: str) -> Any:
        e = etree.SubElement(p, f"{{{ns}}}{tag}", a)
        e.text = text
        return e

    body = sub(root, "FICdtTrf")
    hdr = sub(body, "GrpHdr")
    sub(hdr, "MsgId", "M9")
    sub(hdr, "CreDtTm", "2026-12-06T00:00:00+00:00")
    sub(hdr, "NbOfTxs", "1")
    tx = sub(body, "CdtTrfTxInf")
    sub(sub(tx, "PmtId"), "EndToEndId", "FI-1")
    sub(tx, "IntrBkSttlmAmt", amount, Ccy=ccy)
    if creditor_bank is not None:
        sub(sub(sub(tx, "Cdtr"), "FinInstnId"), "Nm", creditor_bank)
    prxy = sub(sub(tx, "CdtrAcct"), "Prxy")
    sub(sub(prxy, "Tp"), "Prtry", "CHAINFIN")
    sub(prxy, "Id", creditor_key)
    return bytes(etree.tostring(root))
