"""A bank's financing of a trade is its own and the exporter's (docs/redteam-privacy.md, "Left"
of round 7, now fixed; docs/api.md "who may read what"): not the buyer's — undisclosed
receivables financing is none of its business — nor a verifying bank's, nor another bank's
that financed the same trade. The issuing bank of an LC of the trade, whose proceeds repay the
financing banks first (decision 43), reads whom it pays and how much, not the terms.

Through a real in-process node (the trade cluster: the ``desk`` fixture; ``auditor`` is a
regulator). The world: the exporter's attested trade (invoice, customs declaration); ``bank_v``
verifies the invoice and does not finance; ``bank_a`` then ``bank_f`` finance it; ``bank_lc``
issues the importer's LC for it (``bank_v``, ``bank_f`` and ``bank_lc`` are no validators:
validators read every block, decision 58); the exporter
presents and ``bank_lc`` honours: ``bank_a`` and ``bank_f`` are repaid first, the rest goes to
the exporter. Each test fails on the code before the fix but the sweep of what held
(:func:`test_the_financing_transaction_names_neither_the_buyer_nor_the_lc_bank`)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.trade import view
from node import access
from tests.fixtures import Desk, key_file
from tests.node.test_access import ANY_ID, check_row, get_as
from tests.node.test_access_privacy import missing_twin, sse_items

T = "trade_documents"
#: what the buyer does not read of a trade (node/access.py TRADE_FINANCING_FIELDS)
FINANCING = ("financings", "pool", "financed", "outstanding", "status")
HIDDEN = "not found or not visible to you"  # contracts.trade.HIDDEN
FIN_A, FIN_F, PRESENTED = 40_000_00, 20_000_00, 70_000_00


def pk(d: Desk, who: str) -> str:
    return d.ids[who].public_key.hex()


def m(amount: int) -> str:
    return view.money(amount, "USD")


@dataclass
class World:
    d: Desk
    trade: str
    inv: str
    fin_a: str
    fin_f: str
    fin_tx: str  # bank_a's request_financing
    lc: str
    pres: str
    paid_tx: str  # bank_lc's accept_presentation


async def other_banks(d: Desk) -> None:
    """``bank_lc``, ``bank_f``, ``bank_v``: banks that are no validators (validators read every
    block, decision 58), each with USD 10,000,000.00."""
    for bank in ("bank_lc", "bank_f", "bank_v"):
        if bank not in d.ids:
            await d.register(bank, "bank")
            await d.commit(d.issue(10**9, bank))


async def financed_trade(d: Desk, pay: bool = True) -> World:
    """The world of this module; with ``pay`` False the presentation is left unexamined."""
    await other_banks(d)
    trade, inv, _ = await d.attested_trade()
    await d.send("bank_v", "verify", doc_id=inv)
    out = await d.commit(d.tx("bank_a", T, "request_financing", {
        "trade_id": trade, "amount": FIN_A, "currency": "USD", "maturity_date": "2099-12-31"}))
    assert out["status"] == "committed", out
    fin_a, fin_tx = out["result"]["financing_id"], out["tx_id"]
    fin_f = (await d.send("bank_f", "request_financing", doc_id=inv, amount=FIN_F,
                          currency="USD", maturity_date="2099-06-30"))["financing_id"]
    lc = (await d.send("bank_lc", "issue_lc", applicant=pk(d, "importer"),
                       beneficiary=pk(d, "exporter"), amount=90_000_00, currency="USD",
                       expiry_date="2099-12-31", lc_number="LC-FIN-PRIV-1",
                       required_docs=["invoice"], trade_id=trade))["lc_id"]
    pres = (await d.send("exporter", "present", lc_id=lc, doc_ids=[inv],
                         amount=PRESENTED))["presentation_id"]
    paid_tx = ""
    if pay:
        out = await d.commit(d.tx("bank_lc", T, "accept_presentation",
                                  {"presentation_id": pres}))
        assert out["status"] == "committed", out
        paid_tx = out["tx_id"]
        assert [(p["to"], p["amount"]) for p in out["result"]["payments"]] == [
            (pk(d, "bank_a"), FIN_A), (pk(d, "bank_f"), FIN_F),
            (pk(d, "exporter"), PRESENTED - FIN_A - FIN_F)], out
    return World(d, trade, inv, fin_a, fin_f, fin_tx, lc, pres, paid_tx)


async def value_as(d: Desk, who: str, key: str) -> Any:
    st, body = await get_as(d, who, f"/v1/state/{T}/{key}")
    assert st == 200, (who, key, body)
    return body["value"]


# ------------------------------------------------------------------------ the financing record


async def test_a_financing_is_its_banks_and_its_exporters(desk: Desk) -> None:
    """``fin/<id>``: its bank, its exporter and the supervisors read it whole; the buyer (the LC
    applicant), a bank that verified a document, another bank that financed the same trade and
    an outsider get exactly what a missing financing gets."""
    w = await financed_trade(desk)
    d = w.d
    for fin, bank, other in ((w.fin_a, "bank_a", "bank_f"), (w.fin_f, "bank_f", "bank_a")):
        path = f"/v1/state/{T}/fin/{fin}"
        await check_row(d, path, [bank, "exporter", "auditor"],
                        ["importer", "bank_v", other, "exporter2"], (fin, ANY_ID))
        whole = await value_as(d, "auditor", f"fin/{fin}")
        for who in (bank, "exporter"):
            assert await value_as(d, who, f"fin/{fin}") == whole, who
        assert whole["maturity_date"] in ("2099-12-31", "2099-06-30")


async def test_the_lc_issuing_bank_reads_whom_its_proceeds_repay_not_the_terms(
        desk: Desk) -> None:
    """The issuing bank of the trade's LC pays the financing banks first (assignment of
    proceeds): it reads which bank, the amount advanced and repaid — not the maturity, the
    status or the document financed; its read is logged as a read of another's data."""
    w = await financed_trade(desk, pay=False)
    d = w.d
    got = await value_as(d, "bank_lc", f"fin/{w.fin_a}")
    assert got == {"trade_id": w.trade, "bank": pk(d, "bank_a"), "exporter": pk(d, "exporter"),
                   "amount": FIN_A, "currency": "USD", "repaid": 0}, got
    assert set(got) == set(access.ASSIGNED_FIN_FIELDS)
    st, out = await get_as(d, "auditor", "/v1/audit/reads")
    assert st == 200, out
    assert (pk(d, "bank_lc"), "lc_issuer", f"GET /v1/state/{T}/fin/{w.fin_a}") in [
        (e["reader"], e["rule"], e["what"]) for e in out["entries"]], out["entries"][-3:]
    # its trade: the financings its proceeds repay, oldest first, and what they still owe
    trade = await value_as(d, "bank_lc", f"trade/{w.trade}")
    assert trade["financings"] == [w.fin_a, w.fin_f]
    assert trade["outstanding"] == FIN_A + FIN_F
    assert not {"pool", "financed", "status"} & set(trade), trade


# ------------------------------------------------------------------------ the trade record


async def test_the_buyer_reads_its_trade_without_its_financing(desk: Desk) -> None:
    """``trade/<id>``: the buyer (the LC applicant) and a bank that only verified a document
    read the trade without ``financings``, ``pool``, ``financed``, ``outstanding`` and
    ``status`` (which follows the financings: ``financed``, ``overdue``); the exporter, its
    financing banks (co-financiers share the pool, and LC proceeds repay the older financing
    first) and the supervisors read all of it. The shape is the same for a trade never
    financed: the answer tells the buyer nothing."""
    w = await financed_trade(desk)
    d = w.d
    whole = await value_as(d, "auditor", f"trade/{w.trade}")
    assert whole["financings"] == [w.fin_a, w.fin_f] and whole["financed"] == FIN_A + FIN_F
    for who in ("exporter", "bank_a", "bank_f"):
        assert await value_as(d, who, f"trade/{w.trade}") == whole, who
    without = {k: v for k, v in whole.items() if k not in FINANCING}
    for who in ("importer", "bank_v"):
        assert await value_as(d, who, f"trade/{w.trade}") == without, who
    # a trade no bank financed: the buyer's answer has the same fields
    other = await d.send("exporter", "register", doc_type="invoice", fields={
        "seller": "ACME Exports Ltd.", "buyer": "GLOBEX corp", "number": "INV-2025-777",
        "issue_date": "2025-03-01", "amount": 5_000_00, "currency": "USD"},
        content_hash="77" * 32)
    lc2 = (await d.send("bank_lc", "issue_lc", applicant=pk(d, "importer"),
                        beneficiary=pk(d, "exporter"), amount=5_000_00, currency="USD",
                        expiry_date="2099-12-31", lc_number="LC-FIN-PRIV-2",
                        required_docs=["invoice"], trade_id=other["trade_id"]))["lc_id"]
    await d.send("exporter", "present", lc_id=lc2, doc_ids=[other["doc_id"]], amount=1_00)
    never = await value_as(d, "importer", f"trade/{other['trade_id']}")
    assert set(never) == set(without), (sorted(never), sorted(without))
    assert access.TRADE_FINANCING_FIELDS == FINANCING


# ------------------------------------------------------------------------ a presentation


async def test_a_paid_presentation_tells_whom_it_repaid_only_to_whom_may_know(
        desk: Desk) -> None:
    """``pres/<id>`` of a drawing whose proceeds repaid the financing banks first: the buyer
    reads it without ``payments`` (they named the banks, the amounts, and the exporter's
    remainder, which gives their sum); a co-financier reads its own payment and the exporter's,
    the other bank's with its payee and financing withheld; the issuing bank that paid them,
    the exporter and the supervisors read all of it."""
    w = await financed_trade(desk)
    d = w.d
    whole = await value_as(d, "auditor", f"pres/{w.pres}")
    assert len(whole["payments"]) == 3
    for who in ("exporter", "bank_lc"):
        assert await value_as(d, who, f"pres/{w.pres}") == whole, who
    for who in ("importer", "bank_v"):
        got = await value_as(d, who, f"pres/{w.pres}")
        assert got == {k: v for k, v in whole.items() if k != "payments"}, who
    got = await value_as(d, "bank_f", f"pres/{w.pres}")
    assert got["payments"] == [
        {"to": "withheld", "amount": FIN_A, "financing_id": "withheld"},
        {"to": pk(d, "bank_f"), "amount": FIN_F, "financing_id": w.fin_f},
        whole["payments"][2]], got
    assert pk(d, "bank_a") not in json.dumps(got) and w.fin_a not in json.dumps(got)
    assert view.WITHHELD == access.WITHHELD == "withheld" and view.HIDDEN == HIDDEN


# ------------------------------------------------------------------------ transactions, events


async def test_a_co_financier_is_no_party_to_the_lc_payment_of_another_banks_financing(
        desk: Desk) -> None:
    """The LC's payment (``presentation_paid``) listed every payee: a co-financier named there
    read, as a party of the issuing bank's transaction and on ``/v1/events``, which other bank
    was repaid and how much. A ``presentation_paid`` now names only its beneficiary; each
    financing bank reads its own ``repaid`` and ``transferred``."""
    d = desk
    await other_banks(d)
    async with d.http.get("/v1/events", as_=d.ids["bank_f"]) as stream:
        w = await financed_trade(d)
        await d.commit(d.issue(7, "bank_f"))  # a later block naming bank_f
        got: list[dict[str, Any]] = []

        async def until_seven() -> None:
            async for item in sse_items(stream):
                got.append(item)
                if item["type"] == "block" and any(
                        e["data"].get("amount") == 7
                        for e in item["events"] if isinstance(e.get("data"), dict)):
                    return

        await asyncio.wait_for(until_seven(), 15)
    names = [e["name"] for i in got if i["type"] == "block" for e in i["events"]]
    assert "repaid" in names and "presentation_paid" not in names, names
    assert pk(d, "bank_a") not in json.dumps(got) and w.fin_a not in json.dumps(got)

    path = f"/v1/tx/{w.paid_tx}"
    st, body = await get_as(d, "bank_f", path)
    assert st == 200, body
    assert {e["name"] for e in body["events"]} == {"transferred", "repaid"}, body
    assert pk(d, "bank_a") not in json.dumps(body) and w.fin_a not in json.dumps(body)
    # the exporter (its beneficiary) still reads the payment whole
    st, body = await get_as(d, "exporter", path)
    paid = [e for e in body["events"] if e["name"] == "presentation_paid"]
    assert st == 200 and len(paid) == 1 and len(paid[0]["data"]["payments"]) == 3, body
    # the buyer is no party to it
    assert await get_as(d, "importer", path) == (404, await missing_twin(d, path, w.paid_tx))


async def test_the_financing_transaction_names_neither_the_buyer_nor_the_lc_bank(
        desk: Desk) -> None:
    """What held: ``request_financing``'s events (``financed``: the bank; ``transferred``: the
    bank and the exporter) name neither the buyer nor the LC's issuing bank nor a
    co-financier, so ``GET /v1/tx`` gives them a missing transaction's answer."""
    w = await financed_trade(desk, pay=False)
    d = w.d
    path = f"/v1/tx/{w.fin_tx}"
    for who in ("importer", "bank_lc", "bank_v", "bank_f"):
        assert await get_as(d, who, path) == (404, await missing_twin(d, path, w.fin_tx)), who
    st, body = await get_as(d, "exporter", path)
    assert st == 200 and "maturity_date" not in json.dumps(body), body


# ------------------------------------------------------------------------ chainfin trade show


async def trade_show(d: Desk, who: str, trade: str, tmp_path: Path) -> str:
    url = str(d.http.make_url("")).rstrip("/")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", "trade", "show", "--node", url, "--key",
        key_file(d.ids[who], tmp_path), "--trade", trade,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_trade_show_prints_each_reader_what_it_may_read(desk: Desk,
                                                               tmp_path: Path) -> None:
    """``chainfin trade show``: the buyer's report has no pool and no financing ("not visible
    to you"); a co-financier's shows the pool and its own financing, the other one hidden; the
    LC's issuing bank's shows whom its proceeds repay, without maturities."""
    w = await financed_trade(desk, pay=False)
    d = w.d
    text = await trade_show(d, "importer", w.trade, tmp_path)
    assert "status (financing not shown)" in text and f"pool: {HIDDEN}" in text, text
    assert f"  {HIDDEN} (a financing is its bank's and its exporter's)" in text, text
    for secret in (w.fin_a[:16], w.fin_f[:16], pk(d, "bank_a")[:16], m(FIN_A), "2099-06-30",
                   "financed"):
        assert secret not in text.replace("(financing not shown)", ""), (secret, text)

    text = await trade_show(d, "bank_f", w.trade, tmp_path)
    assert "status financed" in text and f"financed (ever) {m(FIN_A + FIN_F)}" in text, text
    assert f"  {w.fin_a[:16]}…  {HIDDEN}" in text, text
    assert f"{m(FIN_F)}  repaid {m(0)}  matures 2099-06-30  open" in text, text
    assert "2099-12-31  open" not in text and pk(d, "bank_a")[:16] not in text, text

    text = await trade_show(d, "bank_lc", w.trade, tmp_path)
    assert f"outstanding {m(FIN_A + FIN_F)}" in text and f"pool: {HIDDEN}" in text, text
    assert (f"  {w.fin_a[:16]}…  bank {pk(d, 'bank_a')[:16]}…  {m(FIN_A)}  repaid {m(0)}  "
            f"outstanding {m(FIN_A)}  (proceeds assigned: its terms not shown)") in text, text
    assert "matures" not in text and "2099-06-30" not in text, text
