"""trade_documents through REST on an in-process 4-validator cluster (the ``desk``
fixture of tests/conftest.py):
each attack of issue 15 is a signed transaction to ``POST /v1/tx?wait=commit``, each refusal is
checked to change none of the ``GET /v1/state/trade_documents/...`` records nor a balance.

Block time is the primary's clock here: expiry is reached by an accepted amendment that moves it
into the past, and maturity by moving the nodes' clock (``node.runtime.now_ms``) days ahead."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fixtures import Desk, T, key_file
from tests.unit.trade_cases import BILL_OF_LADING, DECLARATION, INVOICE, INVOICE_AMOUNT, h


async def test_trade_attacks_through_rest(desk: Desk) -> None:
    d = desk
    inv = await d.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                       content_hash=h("inv"))
    trade, inv_id = inv["trade_id"], inv["doc_id"]
    decl = (await d.send("exporter", "register", doc_type="customs_declaration",
                         fields=DECLARATION, content_hash=h("decl"), trade_id=trade))["doc_id"]
    bl = (await d.send("exporter", "register", doc_type="bill_of_lading",
                       fields=BILL_OF_LADING, content_hash=h("bl"), trade_id=trade))["doc_id"]
    watch = [f"trade/{trade}", f"doc/{inv_id}", f"doc/{decl}", f"doc/{bl}"]

    # re-registered invoice with one cent more, or another date; a re-numbered copy
    for i, change in enumerate(({"amount": INVOICE_AMOUNT + 1}, {"issue_date": "2025-11-21"})):
        await d.refused("duplicate_document", "exporter", "register", watch,
                        doc_type="invoice", fields={**INVOICE, **change},
                        content_hash=h(("rekeyed", i)))
    await d.refused("suspected_duplicate", "exporter", "register", watch, doc_type="invoice",
                    fields={**INVOICE, "number": "INV-2025-001/B"}, content_hash=h("copy"))
    # an exporter registering another seller's invoice; a declaration naming another exporter
    await d.refused("not_document_party", "exporter2", "register", watch, doc_type="invoice",
                    fields={**INVOICE, "number": "X-1"}, content_hash=h("x1"))
    await d.refused("document_mismatch", "exporter2", "register", watch,
                    doc_type="customs_declaration", trade_id=trade, content_hash=h("d2"),
                    fields={**DECLARATION, "declaration_number": "CD-OTHER",
                            "exporter": "Borealis Trading Co"})
    # financing before customs attests
    fin_args = {"trade_id": trade, "currency": "USD", "maturity_date": "2099-12-31"}
    await d.refused("not_attested", "bank_a", "request_financing", watch, amount=1000,
                    **fin_args)
    await d.send("customs", "attest", doc_id=decl, result="match", declared_amount=98_000_00)
    # bank A finances 80 % of the pool; bank B's financing of the declaration beyond it refused
    pool = 98_000_00
    e0 = await d.usd("exporter")
    fa = (await d.send("bank_a", "request_financing", amount=pool * 8 // 10,
                       **fin_args))["financing_id"]
    assert await d.usd("exporter") == e0 + pool * 8 // 10
    watch.append(f"fin/{fa}")
    await d.refused("over_financed", "bank_b", "request_financing", watch,
                    amount=pool * 2 // 10 + 1, doc_id=decl, currency="USD",
                    maturity_date="2099-12-31")
    # partial repayments move money to bank A
    a0 = await d.usd("bank_a")
    r = await d.send("exporter", "repay", financing_id=fa, amount=10_000_00)
    assert r["outstanding"] == pool * 8 // 10 - 10_000_00 and r["status"] == "open"
    assert await d.usd("bank_a") == a0 + 10_000_00
    fin = await d.value(f"fin/{fa}")
    assert fin["repaid"] == 10_000_00 and fin["status"] == "open"

    # a letter of credit: amendment without acceptance has no effect
    lc = (await d.send("bank_c", "issue_lc", applicant=d.ids["importer"].public_key.hex(),
                       beneficiary=d.ids["exporter"].public_key.hex(), amount=90_000_00,
                       currency="USD", expiry_date="2099-12-31", lc_number="LC-REST-1",
                       tolerance_bps=500, required_docs=["invoice", "bill_of_lading"],
                       trade_id=trade))["lc_id"]
    watch.append(f"lc/{lc}")
    docs = [inv_id, bl]
    await d.send("bank_c", "amend_lc", lc_id=lc, changes={"amount": 95_000_00})
    assert (await d.value(f"lc/{lc}"))["amount"] == 90_000_00
    # over the tolerance (90,000.00 + 5 % = 94,500.00)
    await d.refused("amount_exceeds_lc", "exporter", "present", watch, lc_id=lc,
                    doc_ids=docs, amount=94_500_01)
    # mismatched parties: another exporter's documents
    other = (await d.send("exporter2", "register", doc_type="invoice", content_hash=h("o"),
                          fields={**INVOICE, "seller": "Borealis Trading Co"}))["doc_id"]
    await d.refused("document_mismatch", "exporter", "present", watch, lc_id=lc,
                    doc_ids=[other, bl], amount=1000)
    # the financed invoice presented: bank A is paid its outstanding first, the rest the exporter
    pres = (await d.send("exporter", "present", lc_id=lc, doc_ids=docs,
                         amount=94_500_00))["presentation_id"]
    a0, e0 = await d.usd("bank_a"), await d.usd("exporter")
    paid = await d.send("bank_c", "accept_presentation", presentation_id=pres)
    owed = pool * 8 // 10 - 10_000_00
    assert [p["amount"] for p in paid["payments"]] == [owed, 94_500_00 - owed]
    assert await d.usd("bank_a") == a0 + owed
    assert await d.usd("exporter") == e0 + 94_500_00 - owed
    assert (await d.value(f"fin/{fa}"))["status"] == "repaid"
    assert (await d.value(f"trade/{trade}"))["status"] == "repaid"
    p = await d.value(f"pres/{pres}")
    assert p["status"] == "paid" and p["doc_ids"] == sorted(docs)


async def test_presentation_after_expiry_through_rest(desk: Desk) -> None:
    d = desk
    inv = await d.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                       content_hash=h("inv"))
    lc = (await d.send("bank_c", "issue_lc", applicant=d.ids["importer"].public_key.hex(),
                       beneficiary=d.ids["exporter"].public_key.hex(), amount=INVOICE_AMOUNT,
                       currency="USD", expiry_date="2099-12-31", lc_number="LC-EXP",
                       required_docs=["invoice"]))["lc_id"]
    await d.send("bank_c", "amend_lc", lc_id=lc, changes={"expiry_date": "2020-01-31"})
    # not accepted yet: still open
    await d.send("exporter", "accept_amendment", lc_id=lc)
    await d.refused("lc_expired", "exporter", "present", [f"lc/{lc}", f"doc/{inv['doc_id']}"],
                    lc_id=lc, doc_ids=[inv["doc_id"]], amount=1000)
    status, out = await d.get(f"/v1/state/{T}/lc/{lc}")
    assert status == 200 and out["value"]["expiry_date"] == "2020-01-31"


async def test_chainfin_trade_show_prints_what_a_credit_officer_reads(desk: Desk,
                                                                     tmp_path: Path) -> None:
    d = desk
    officer = key_file(d.ids["bank_a"], tmp_path)  # the financing bank reads the trade
    trade, _, _ = await d.attested_trade()
    await d.send("bank_a", "request_financing", trade_id=trade, amount=78_400_00,
                 currency="USD", maturity_date="2099-12-31")
    url = str(d.http.make_url("")).rstrip("/")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", "trade", "show", "--node", url, "--key", officer, "--trade", trade,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    for needle in (f"trade {trade}  status financed", "customs: attested match",
                   "declared USD 98,000.00", "pool: USD 98,000.00",
                   "financed (ever) USD 78,400.00", "remaining USD 19,600.00",
                   "customs_declaration", "matures 2099-12-31  open"):
        assert needle in text, (needle, text)
    # the exporter reads its own trade too (it cannot read blocks: the chain's time comes from
    # the public status, not the latest block, which answered it 404)
    owner = key_file(d.ids["exporter"], tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", "trade", "show", "--node", url, "--key", owner,
        "--trade", trade, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and b"matures 2099-12-31  open" in out, err.decode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", "trade", "show", "--node", url, "--key", officer, "--trade",
        "00" * 32, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0 and b"no trade" in err


async def test_financing_is_overdue_by_block_time_through_rest(desk: Desk,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """Block time comes from the nodes' clock: before the maturity date has passed on it,
    ``mark_overdue`` is refused; once the clock is past it with money outstanding, the
    financing and its trade are ``overdue``."""
    import datetime as dt

    from node import runtime

    d = desk
    trade, _, _ = await d.attested_trade()
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    fin = (await d.send("bank_a", "request_financing", trade_id=trade, amount=50_000_00,
                        currency="USD", maturity_date=tomorrow))["financing_id"]
    await d.refused("not_overdue", "exporter", "mark_overdue", [f"fin/{fin}"],
                    financing_id=fin)
    await d.send("exporter", "repay", financing_id=fin, amount=1_000_00)  # partly repaid
    real = runtime.now_ms
    monkeypatch.setattr(runtime, "now_ms", lambda: real() + 3 * 86_400_000)
    out = await d.send("exporter", "mark_overdue", financing_id=fin)
    assert out["status"] == "overdue"
    f = await d.value(f"fin/{fin}")
    assert f["status"] == "overdue" and f["repaid"] == 1_000_00
    assert (await d.value(f"trade/{trade}"))["status"] == "overdue"
