"""The explorer's trade page (``#/trade/ID``) in a real browser against a real 4-node testnet:
a trade built as the demo builds it (invoice, customs declaration and bill of lading registered,
attested, verified, financed by two banks; an LC issued, amended, a presentation refused, one
honoured with its proceeds assigned; a second amendment left pending).

What is checked: the page's report — the JS port of ``contracts.trade.view.trade_report`` — is
the Python report of the same records at the same block time, field for field, and the page
shows the same amounts (formatted as ``view.money`` formats them), statuses and counts; the port
agrees with Python on variants of the records no live chain holds yet (disputed, hidden, overdue,
claimed, amounts past 2^53, a refusal holding its documents, waived and honoured, returned:
decision 146), and the page shows a presentation's reference, dates, refusal disposal, hold,
waiver, return and payment as ``view.refusal_notes`` words them; a record's Verify says VALID; the search box and the document page
reach the trade; an identity that is no party to the trade sees "not visible to you", and a
record hidden from the reader shows so in its place; the buyer (the LC applicant), a co-financier
and the LC's issuing bank each get the report of what their key reads (a trade's financing is
its exporter's and its banks': node/access.py), on the live chain and as variants. The page's
screenshot is docs/img/explorer-trade.png (refreshed by running with CHAINFIN_SHOTS=docs/img).

The same chain holds a demand guarantee (bank2's, for the importer, to the exporter: a reduction
scheduled, a demand open, an amendment pending): its page (``#/guarantee/ID``) is ``chainfin
guarantee show``'s report (``cli_guarantee.readable`` of the same reads) for its guarantor, its
beneficiary (reaching it by the search box) and a regulator, and a bank no party to it gets the
page of a guarantee that does not exist (decision 197); docs/img/explorer-guarantee.png.

Browser and fixtures as tests/browser/test_explorer.py (its ``browser`` fixture, over this
module's testnet).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli_guarantee
from chainfin.crypto import load_identity
from contracts.trade import view as trade_view
from contracts.trade.state import examination_deadline_ms, last_day
from node import access
from testnet.launch import LEGAL_NAMES
from tests.browser import test_explorer as te

browser = te.browser  # the explorer tests' chromium, over this module's `chain`


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[te.Chain]:
    """A 4-node testnet holding one trade (``c.ids``: its records' ids)."""
    with te.started_chain(tmp_path_factory, "trade-page") as c:
        c.ids = _build_trade(c)
        yield c


def _build_trade(c: te.Chain) -> dict[str, str]:
    who = {n: load_identity(c.dir / "clients" / f"{n}.json")
           for n in ("usd_issuer", "exporter", "importer", "customs", "bank0", "bank2", "bank3")}
    pk = {n: i.public_key.hex() for n, i in who.items()}

    last: dict[str, str] = {}

    def call(name: str, method: str, args: dict[str, Any], contract: str = "trade_documents"
             ) -> dict[str, Any]:
        r = c.client.call(who[name], contract, method, args, wait=True)
        assert r.get("status") == "committed", (method, r)
        last["tx"] = r["tx_id"]
        return r["result"]  # type: ignore[no-any-return]

    seller, buyer = LEGAL_NAMES["exporter"], LEGAL_NAMES["importer"]
    expiry = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 60 * 86400))

    def content(tag: str) -> str:
        return hashlib.sha256(b"trade page " + tag.encode()).hexdigest()

    for bank in ("bank0", "bank2", "bank3"):
        call("usd_issuer", "issue", {"currency": "USD", "to": pk[bank], "amount": 50_000_000},
             contract="settlement")
    r = call("exporter", "register", {"doc_type": "invoice", "content_hash": content("inv"), "fields": {
        "seller": seller, "buyer": buyer, "number": "INV-2026-TP1", "issue_date": "2026-11-20",
        "amount": 12_500_000, "currency": "USD"}})
    inv, trade = r["doc_id"], r["trade_id"]
    decl = call("exporter", "register", {
        "doc_type": "customs_declaration", "trade_id": trade, "content_hash": content("cd"),
        "fields": {"declaration_number": "CDTP12026", "exporter": seller,
                   "amount": "125,000.00", "currency": "USD"}})["doc_id"]
    bl = call("exporter", "register", {
        "doc_type": "bill_of_lading", "trade_id": trade, "content_hash": content("bl"),
        "fields": {"carrier": "MAEU", "bl_number": "MAEUTP101", "shipper": seller,
                   "consignee": buyer, "vessel": "Maersk Essen", "port_of_loading": "Yantian",
                   "port_of_discharge": "Los Angeles",
                   # testnet init requires a B/L's containers (decision 265)
                   "containers": ["MSKU7712342"]}})["doc_id"]
    call("customs", "attest", {"doc_id": decl, "result": "match", "declared_amount": 12_500_000})
    call("bank0", "verify", {"doc_id": inv})
    fin = call("bank0", "request_financing", {"doc_id": inv, "amount": 10_000_000,
                                              "currency": "USD", "maturity_date": expiry})
    # a co-financier: bank3 finances USD 5,000.00 more (repaid second from the LC's proceeds)
    cofin = call("bank3", "request_financing", {"doc_id": inv, "amount": 500_000,
                                                "currency": "USD", "maturity_date": later})
    lc = call("bank2", "issue_lc", {
        "applicant": pk["importer"], "beneficiary": pk["exporter"], "amount": 12_500_000,
        "currency": "USD", "expiry_date": expiry, "required_docs": ["invoice", "bill_of_lading"],
        "lc_number": "LCTP1", "trade_id": trade})["lc_id"]
    call("bank2", "amend_lc", {"lc_id": lc, "number": 1,
                               "changes": {"partial_drawings": True, "tolerance_bps": 500}})
    call("exporter", "accept_amendment", {"lc_id": lc, "number": 1})
    p1 = call("exporter", "present", {"lc_id": lc, "doc_ids": [inv, bl], "amount": 12_500_000,
                                      "reference": "BLTP-PRES-1"})["presentation_id"]
    call("bank2", "refuse_presentation", {"presentation_id": p1,
                                          "discrepancies": ["description_mismatch"]})
    p2 = call("exporter", "present", {"lc_id": lc, "doc_ids": [inv, bl], "amount": 12_500_000,
                                      "reference": "BLTP-PRES-2"})["presentation_id"]
    call("bank2", "accept_presentation", {"presentation_id": p2})
    call("bank2", "amend_lc", {"lc_id": lc, "number": 2, "changes": {"expiry_date": later}})
    # a performance guarantee bank2 gives the exporter for the importer (the #/guarantee page):
    # a reduction scheduled, a demand open (its examination deadline), an amendment pending
    cut = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 10 * 86400))
    gtee = call("bank2", "issue_guarantee", {
        "applicant": pk["importer"], "beneficiary": pk["exporter"], "amount": 5_000_000,
        "currency": "USD", "form": "DGAR", "guarantee_type": "performance",
        "guarantee_number": "PGTP-1", "underlying_ref": "CONTRACT TP-2026-1",
        "expiry_date": later, "reductions": [{"date": cut, "amount": 4_000_000}]})["guarantee_id"]
    gdem = call("exporter", "demand", {"guarantee_id": gtee, "amount": 1_250_000,
                                       "supporting_statement": "goods not delivered"})["demand_id"]
    call("bank2", "amend_guarantee", {"guarantee_id": gtee, "changes": {"amount": 6_000_000}})
    gamend = last["tx"]
    # one expired on its event (the guarantor records it): its page takes no demand
    gexp = call("bank2", "issue_guarantee", {
        "applicant": pk["importer"], "beneficiary": pk["exporter"], "amount": 200_000,
        "currency": "USD", "form": "DGAR", "guarantee_type": "bid", "guarantee_number": "BGTP-2",
        "underlying_ref": "TENDER TP-2", "expiry_event": "tender awarded to another bidder"}
        )["guarantee_id"]
    call("bank2", "expire_guarantee", {"guarantee_id": gexp, "event_evidence": "award letter"})
    return {"trade": trade, "invoice": inv, "declaration": decl, "bill_of_lading": bl,
            "financing": fin["financing_id"], "cofinancing": cofin["financing_id"], "lc": lc,
            "refused": p1, "paid": p2, "guarantee": gtee, "gdemand": gdem, "gamend": gamend,
            "gexpired": gexp}


def _python_report(c: te.Chain, now_ms: int, who: str | None = None) -> dict[str, Any]:
    """``chainfin trade show --json``'s report (cli_trade_show's reads), as the auditor, or as
    the client ``who`` (what that key may read)."""
    client = c.client if who is None else c.tn.client(
        0, identity=load_identity(c.dir / "clients" / f"{who}.json"))
    try:
        def fetch(key: str) -> Any:
            return client.state_value("trade_documents", key)

        rep = trade_view.trade_report(fetch, c.ids["trade"], now_ms,
                                      params=client.state_value("governance", "params"))
        cur = client.state_value("governance", "currency/" + rep["trade"]["currency"]) or {}
        rep["exponent"] = int(cur.get("exponent", 2))
        return rep
    finally:
        if who is not None:
            client.close()


def _page_report(drv: Any) -> tuple[dict[str, Any], int]:
    got = drv.execute_script("return window.chainfinExplorer.lastTradeReport")
    return json.loads(got["json"]), int(got["nowMs"])


def _text(el: Any, sel: str) -> str:
    from selenium.webdriver.common.by import By

    return str(el.find_element(By.CSS_SELECTOR, f"[data-f='{sel}']").text)


def _open_trade(drv: Any, c: te.Chain, key: str = "auditor") -> None:
    te._open(drv, c, f"#/trade/{c.ids['trade']}", key=key)
    te._css(drv, "#trade-id, #trade-hidden")


# --------------------------------------------------------------------------- tests


def test_trade_page_shows_what_trade_show_reports(chain: te.Chain, browser: Any,
                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    ids = chain.ids
    # the search box reaches a trade by its id (not a transaction id: SHA-256 of the invoice's)
    te._open(browser, chain)
    te._pin_genesis(browser, chain)
    q = browser.find_element(By.ID, "q")
    q.clear()
    q.send_keys(ids["trade"])
    browser.find_element(By.ID, "go").click()
    assert te._css(browser, "#trade-id").text == ids["trade"]

    page, now_ms = _page_report(browser)
    rep = _python_report(chain, now_ms)
    assert page == json.loads(json.dumps(rep))  # the port: same fields, statuses and sums
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-f='needs-ack']")  # none distinct

    m = lambda x: trade_view.money(x, "USD", rep["exponent"])  # noqa: E731
    t = rep["trade"]
    assert (rep["pool"], t["financed"], t["outstanding"], rep["lc_paid_out"], rep["remaining"]) \
        == (12_500_000, 10_500_000, 0, 2_000_000, 0)  # the story as built
    view = browser.find_element(By.ID, "view")
    for name, value in (("pool", rep["pool"]), ("financed", t["financed"]),
                        ("outstanding", t["outstanding"]), ("lc-paid-out", rep["lc_paid_out"]),
                        ("remaining", rep["remaining"]), ("trade-amount", t["amount"]),
                        ("repaid", t["financed"] - t["outstanding"])):
        assert _text(view, name) == m(value), name
    assert _text(view, "trade-status") == t["status"] == "repaid"
    assert _text(view, "seller") == t["seller"] and _text(view, "buyer") == t["buyer"]
    blocks = [e.text for e in view.find_elements(By.CSS_SELECTOR, "#trade-blocks [data-f=block]")]
    assert blocks == ["nothing remains in the financing pool"]
    assert "customs: attested match" in _text(view, "customs")

    docs = view.find_elements(By.CSS_SELECTOR, ".rec[data-rec=doc]")
    assert [d.get_attribute("data-id") for d in docs] == list(rep["documents"]) == t["docs"]
    for el in docs:
        d = rep["documents"][el.get_attribute("data-id")]
        amount = d["fields"].get("amount")
        assert _text(el, "amount") == (m(amount) if amount else "-")
        assert _text(el, "status") == d["status"]
        assert bool(el.find_elements(By.CSS_SELECTOR, "[data-f=verified]")) == bool(d["verified_by"])
        if d["presentation_id"]:
            assert _text(el, "presented") == "presented: drawing paid"
    decl_el = view.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['declaration']}']")
    assert _text(decl_el, "attested") == "attested by customs: match"
    assert _text(decl_el, "declared") == m(12_500_000)

    fins = view.find_elements(By.CSS_SELECTOR, ".rec[data-rec=fin]")
    assert len(fins) == len(rep["financings"]) == 2
    for el, fid in zip(fins, (ids["financing"], ids["cofinancing"]), strict=True):
        f = rep["financings"][fid]
        assert (_text(el, "status-now"), _text(el, "amount"), _text(el, "repaid"),
                _text(el, "maturity")) == (f["status_now"], m(f["amount"]), m(f["repaid"]),
                                           f["maturity_date"])
        assert f["status_now"] == "repaid"

    lcs = view.find_elements(By.CSS_SELECTOR, ".rec[data-rec=lc]")
    assert len(lcs) == len(rep["letters_of_credit"]) == 1
    lc = rep["letters_of_credit"][ids["lc"]]
    assert (_text(lcs[0], "amount"), _text(lcs[0], "drawn"), _text(lcs[0], "status"),
            _text(lcs[0], "expiry"), _text(lcs[0], "amendments")) \
        == (m(lc["amount"]), m(lc["drawn"]), lc["status"], lc["expiry_date"],
            str(lc["amendments"]))
    assert _text(lcs[0], "amendment") == "amendment 2 pending" and lc["amendment"]["number"] == 2
    pres = lcs[0].find_elements(By.CSS_SELECTOR, ".rec[data-rec=pres]")
    assert [p.get_attribute("data-id") for p in pres] == list(lc["presentation_records"]) \
        == [ids["refused"], ids["paid"]]
    for el in pres:
        p = lc["presentation_records"][el.get_attribute("data-id")]
        assert (_text(el, "amount"), _text(el, "status"), _text(el, "examine-by")) \
            == (m(p["amount"]), p["status"], last_day(p["examination_deadline_ms"]))
    assert _text(pres[0], "discrepancies") == "description_mismatch"
    for el, ref in zip(pres, ("BLTP-PRES-1", "BLTP-PRES-2"), strict=True):  # decision 146
        p = lc["presentation_records"][el.get_attribute("data-id")]
        assert p["reference"] == ref == _text(el, "reference")
        assert _text(el, "presented-at") == trade_view._utc(p["presented_ms"])
    refusal = lc["presentation_records"][ids["refused"]]["refused"]
    assert (_text(pres[0], "refused-at"), _text(pres[0], "disposal")) == (
        trade_view._utc(refusal["timestamp_ms"]), trade_view.DISPOSAL_WORDS["RETURN"])
    paid = lc["presentation_records"][ids["paid"]]["paid"]
    assert _text(pres[1], "paid-at").startswith(trade_view._utc(paid["timestamp_ms"]) + " by ")
    assert paid["tx_id"][:16] in _text(pres[1], "paid-at")
    assert "repays financing" in pres[1].text and "the beneficiary" in pres[1].text
    assert m(2_000_000) in pres[1].text and m(10_000_000) in pres[1].text
    assert m(500_000) in pres[1].text

    # the raw records stay available, every read the report made
    raw = browser.find_elements(By.CSS_SELECTOR, "#raw .rawrec")
    assert f"trade_documents/trade/{ids['trade']}" in [r.get_attribute("data-key") for r in raw]
    assert len(raw) == 1 + len(t["docs"]) + len(t["financings"]) + len(t["lcs"]) + len(
        lc["presentations"])

    shots = Path(os.environ.get("CHAINFIN_SHOTS", tmp_path))
    browser.set_window_size(1280, 2400)
    try:
        browser.save_screenshot(str(shots / "explorer-trade.png"))
        browser.find_element(By.ID, "trade-lcs").screenshot(str(shots / "explorer-trade-lc.png"))
    finally:
        browser.set_window_size(1280, 1000)
    print(f"\ntrade page screenshots: {shots}/explorer-trade.png, explorer-trade-lc.png")

    # each record's Verify: its state proof, checked in the browser
    for sel, key in ((".rec[data-rec=trade]", f"trade/{ids['trade']}"),
                     (f".rec[data-id='{ids['paid']}']", f"pres/{ids['paid']}")):
        rec = browser.find_element(By.CSS_SELECTOR, sel)
        rec.find_element(By.CSS_SELECTOR, "button.verify").click()
        verdict = te._wait(browser, lambda d, rec=rec: rec.find_element(
            By.CSS_SELECTOR, "[data-verdict]"), 30)
        assert verdict.get_attribute("data-verdict") == "valid", verdict.text
        assert f"state key:      trade_documents / {key}" in verdict.text


def test_document_page_links_to_its_trade(chain: te.Chain, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    te._open(browser, chain, f"#/doc/{chain.ids['bill_of_lading']}")
    te._css(browser, "#doc-trade a.trade-link").click()
    assert te._css(browser, "#trade-id").text == chain.ids["trade"]
    # a trade id typed on the document page: the trade is one click away
    te._open(browser, chain, f"#/doc/{chain.ids['trade']}")
    assert "This id is a trade" in te._css(browser, "#doc-trade").text
    assert browser.find_element(By.CSS_SELECTOR, ".state[data-key^='trade_documents/trade/']")


def test_who_sees_the_trade(chain: te.Chain, browser: Any) -> None:
    """The exporter (a party) reads its trade (the same report); a bank that is no party to it
    sees "not visible to you", not a broken page; without a key, reads need an identity."""
    from selenium.webdriver.common.by import By

    _open_trade(browser, chain, "exporter")
    page, now_ms = _page_report(browser)
    assert page == json.loads(json.dumps(_python_report(chain, now_ms)))
    # a state proof is for supervisors: the exporter's Verify says the node gave none (404)
    rec = browser.find_element(By.CSS_SELECTOR, ".rec[data-rec=trade]")
    rec.find_element(By.CSS_SELECTOR, "button.verify").click()
    verdict = te._wait(browser, lambda d: rec.find_element(By.CSS_SELECTOR, "[data-verdict]"), 30)
    assert "No proof" in verdict.text and "404" in verdict.text

    _open_trade(browser, chain, "bank1")  # bank B: neither verified, financed nor issued
    card = te._css(browser, "#trade-hidden")
    assert "not visible to you" in card.text and "bank1" in card.text
    assert not browser.find_elements(By.CSS_SELECTOR, ".rec")

    te._open(browser, chain, f"#/trade/{chain.ids['trade']}", key=None)
    assert "Reads need an identity" in te._css(browser, "#need-identity").text


def test_the_buyer_a_co_financier_and_the_lc_bank_see_only_their_part(
        chain: te.Chain, browser: Any) -> None:
    """A trade's financing is its exporter's, its financing banks' and the supervisors'
    (node/access.py ``financing_view``): on a live chain, the page's report is the Python
    report of what each key reads, and the page shows what is hidden as hidden. The buyer (the
    LC applicant) sees no pool, no financing and no payee of the LC's proceeds; a co-financier
    (bank3) the pool and its own financing, the other bank's hidden in its place and its
    repayment from the proceeds without its payee; the LC's issuing bank (bank2) whom its
    proceeds repaid, without maturities."""
    from selenium.webdriver.common.by import By

    ids = chain.ids
    m = lambda x: trade_view.money(x, "USD")  # noqa: E731
    bank0 = load_identity(chain.dir / "clients" / "bank0.json").public_key.hex()

    _open_trade(browser, chain, "importer")
    page, now_ms = _page_report(browser)
    rep = _python_report(chain, now_ms, "importer")
    assert page == json.loads(json.dumps(rep))
    assert rep["financings"] is None and rep["pool"] is None and rep["remaining"] is None
    assert "financed" not in rep["trade"] and "status" not in rep["trade"]
    view = browser.find_element(By.ID, "view")
    assert "not visible to you" in _text(view, "fins-hidden")
    assert "not visible to you" in _text(view, "pool-hidden")
    assert "not visible to you" in _text(view, "trade-status")
    assert not view.find_elements(By.CSS_SELECTOR, ".rec[data-rec=fin]")
    paid = view.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['paid']}']")
    assert _text(paid, "status") == "paid" and "repays financing" not in paid.text
    assert m(10_000_000) not in view.text and ids["financing"][:16] not in view.text
    assert "payments" not in rep["letters_of_credit"][ids["lc"]]["presentation_records"][
        ids["paid"]]

    _open_trade(browser, chain, "bank3")
    page, now_ms = _page_report(browser)
    rep = _python_report(chain, now_ms, "bank3")
    assert page == json.loads(json.dumps(rep))
    assert rep["financings"][ids["financing"]] is None
    assert rep["financings"][ids["cofinancing"]]["status_now"] == "repaid"
    view = browser.find_element(By.ID, "view")
    assert _text(view, "financed") == m(10_500_000) and _text(view, "remaining") == m(0)
    hidden = view.find_elements(By.CSS_SELECTOR, ".rec.hidden[data-rec=fin]")
    assert [h.get_attribute("data-key") for h in hidden] == [
        f"trade_documents/fin/{ids['financing']}"]
    assert "not visible to you" in hidden[0].text
    own = view.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['cofinancing']}']")
    assert _text(own, "amount") == m(500_000)
    paid = view.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['paid']}']")
    assert "to another bank's financing" in paid.text and m(500_000) in paid.text
    payments = page["letters_of_credit"][ids["lc"]]["presentation_records"][ids["paid"]][
        "payments"]
    assert bank0 not in json.dumps(payments) and ids["financing"] not in json.dumps(payments)
    assert len(payments) == 3 and "repays financing" in paid.text  # its own

    _open_trade(browser, chain, "bank2")
    page, now_ms = _page_report(browser)
    rep = _python_report(chain, now_ms, "bank2")
    assert page == json.loads(json.dumps(rep))
    assert rep["pool"] is None and rep["trade"]["outstanding"] == 0
    fins = browser.find_elements(By.CSS_SELECTOR, ".rec[data-rec=fin]")
    assert [f.get_attribute("data-id") for f in fins] == [ids["financing"], ids["cofinancing"]]
    for el in fins:
        assert _text(el, "status-now") == "proceeds assigned"
        assert "not shown" in _text(el, "maturity")
    assert all(f is not None and f["status_now"] is None and "maturity_date" not in f
               for f in rep["financings"].values())
    view = browser.find_element(By.ID, "view")
    assert _text(view, "outstanding") == m(0)


_JS_REPORTS = """
const [cases, done] = arguments;
(async () => {
  const T = window.chainfinExplorer.trade;
  const out = [];
  for (const c of cases) {
    const recs = T.parseExact(c.records);
    const fetch = async (k) => (Object.prototype.hasOwnProperty.call(recs, k) ? recs[k] : null);
    try {
      out.push(T.toJsonText(await T.tradeReport(fetch, c.trade_id, BigInt(c.now_ms), 2n,
                                                T.parseExact(c.params))));
    } catch (e) {
      out.push(e instanceof T.NoTrade ? "NoTrade" : "JS ERROR " + e + " " + e.stack);
    }
  }
  return out;
})().then(done, (e) => done(String(e)));
"""


def _records(c: te.Chain) -> dict[str, Any]:
    """Every record of the trade, by key (as the auditor reads them)."""
    get = lambda k: c.client.state_value("trade_documents", k)  # noqa: E731
    t = get("trade/" + c.ids["trade"])
    recs = {"trade/" + c.ids["trade"]: t}
    for kind, ids in (("doc/", t["docs"]), ("fin/", t["financings"]), ("lc/", t["lcs"])):
        for i in ids:
            recs[kind + i] = get(kind + i)
    for i in t["lcs"]:
        for p in recs["lc/" + i]["presentations"]:
            recs["pres/" + p] = get("pres/" + p)
    return recs


def test_the_port_agrees_with_python_on_variants(chain: te.Chain, browser: Any) -> None:
    """tradeReport (JS) and trade_report (Python) on the same records, varied where a live
    chain has not gone: hidden records, a disputed or unattested declaration, a pool not yet
    fixed, another advance rate, overdue financings and passed examination deadlines, a claimed
    honour, a consent to cancel, amounts past 2^53, a refusal holding the documents (within and
    past its 30 days), waived and honoured, returned (decision 146); and money / last_day /
    _utc on the same integers."""
    ids = chain.ids
    base = _records(chain)
    tk, lk, pk = f"trade/{ids['trade']}", f"lc/{ids['lc']}", f"pres/{ids['paid']}"
    now = base[pk]["examination_deadline_ms"] - 1
    params = chain.client.state_value("governance", "params")

    def variant(change: Any = None) -> dict[str, Any]:
        r = copy.deepcopy(base)
        if change:
            change(r)
        return r

    def hide(*keys: str) -> Any:
        return lambda r: [r.pop(k) for k in keys]

    def unfix(r: dict[str, Any]) -> None:
        r[tk]["pool"] = None

    def unattested(r: dict[str, Any]) -> None:
        r[tk]["pool"] = None
        r[f"doc/{ids['declaration']}"]["attestation"] = None
        r[f"doc/{ids['declaration']}"]["fields"]["amount"] = 11_000_001

    def lower_attested(r: dict[str, Any]) -> None:
        r[tk]["pool"] = None
        r[f"doc/{ids['declaration']}"]["attestation"].update(result="mismatch",
                                                              declared_amount=9_999_999)

    def disputed(r: dict[str, Any]) -> None:
        r[f"doc/{ids['declaration']}"]["disputed"] = {"reason": "not_declarant", "height": 9}

    def no_declaration(r: dict[str, Any]) -> None:
        r[tk]["declaration"] = None
        r[tk]["pool"] = None

    def pending(r: dict[str, Any]) -> None:
        p = r[pk]
        p.update(status="presented", payments=[])
        r[f"pres/{ids['refused']}"].pop("examination_deadline_ms")

    def claimed(r: dict[str, Any]) -> None:
        r[pk]["claimed"] = {"height": 5, "timestamp_ms": now}
        r[pk]["trade_id"] = None
        r[lk].update(cancel_consent=True, cancel_consent_until_ms=now + 1)

    def elsewhere(r: dict[str, Any]) -> None:
        r[pk]["trade_id"] = "ab" * 32
        r[lk]["cancel_consent"] = True  # recorded before decision 138: no time, lapsed

    def huge(r: dict[str, Any]) -> None:
        big = 10**18 - 1
        r[tk].update(amount=big, pool=None, financed=big // 3, outstanding=7)
        r[f"doc/{ids['declaration']}"]["attestation"]["declared_amount"] = big - 2
        r[pk]["payments"][-1]["amount"] = 2**60 + 1
        r[f"fin/{ids['financing']}"].update(amount=2**55 + 3, repaid=2**55 + 2)

    def overdue(r: dict[str, Any]) -> None:
        r[f"fin/{ids['financing']}"]["repaid"] = 9_999_999

    # decision 146: a refusal that holds the documents, its waiver, honour and return
    rk = f"pres/{ids['refused']}"
    refused_at = base[rk]["refused"]["timestamp_ms"]
    held_until = refused_at + 30 * 86_400_000

    def held(disposal: str = "HOLD") -> Any:
        def change(r: dict[str, Any]) -> None:
            r[rk].update(status="held", refused={"height": 7, "timestamp_ms": refused_at,
                                                 "disposal": disposal,
                                                 "held_until_ms": held_until})
        return change

    def waived_and_honoured(r: dict[str, Any]) -> None:
        held("NOTIFY")(r)
        r[rk].update(status="paid", waiver={"height": 8, "timestamp_ms": refused_at + 1000},
                     paid={"height": 9, "timestamp_ms": refused_at + 2000, "tx_id": "cd" * 32},
                     payments=[{"to": r[lk]["beneficiary"], "amount": 1_000,
                                "financing_id": None}])

    def returned(r: dict[str, Any]) -> None:
        held()(r)
        r[rk].update(status="refused", returned={"height": 8, "timestamp_ms": refused_at + 5,
                                                 "by": "beneficiary"})

    def no_refusal_record(r: dict[str, Any]) -> None:  # before decision 146, or an empty one
        r[rk]["refused"] = {}
        r[pk].pop("refused", None)

    def unbounded(r: dict[str, Any]) -> None:
        held()(r)
        r[rk]["refused"]["held_until_ms"] = None

    fk, ck = f"fin/{ids['financing']}", f"fin/{ids['cofinancing']}"

    def as_buyer(r: dict[str, Any]) -> None:
        for k in access.TRADE_FINANCING_FIELDS:
            r[tk].pop(k)
        r.pop(fk), r.pop(ck)
        r[pk].pop("payments")

    def as_co_financier(r: dict[str, Any]) -> None:
        r.pop(fk)
        r[pk]["payments"][0].update(to=access.WITHHELD, financing_id=access.WITHHELD)

    def as_lc_bank(r: dict[str, Any]) -> None:
        for k in set(access.TRADE_FINANCING_FIELDS) - set(access.ASSIGNED_TRADE_FIELDS):
            r[tk].pop(k)
        for k in (fk, ck):
            r[k] = {x: v for x, v in r[k].items() if x in access.ASSIGNED_FIN_FIELDS}
        r[fk]["repaid"] = 1  # outstanding again

    changes: list[tuple[Any, int, Any]] = [
        (None, now, params), (None, now + 10**12, params), (None, now, None), (None, now, {}),
        (hide(f"doc/{ids['bill_of_lading']}", f"fin/{ids['financing']}"), now, params),
        (hide(lk), now, params), (hide(pk), now, params),
        (unfix, now, {"max_advance_rate_bps": 8_001}), (unattested, now, params),
        (lower_attested, now, {"max_advance_rate_bps": 9_999}), (disputed, now, params),
        (no_declaration, now, params), (pending, now, params), (pending, now + 1, params),
        (claimed, now, params), (claimed, now + 1, params), (elsewhere, now, params),
        (huge, now, {"max_advance_rate_bps": 9_999}), (overdue, now + 10**12, params),
        (overdue, 0, params), (hide(tk), now, params),
        (held(), now, params), (held(), held_until - 1, params), (held(), held_until, params),
        (held("NOTIFY"), held_until + 10**9, params), (waived_and_honoured, now, params),
        (waived_and_honoured, held_until, params), (returned, held_until, params),
        (no_refusal_record, now, params), (unbounded, held_until, params),
        # as node/access.py shows them: the buyer, a co-financier, the LC's issuing bank
        (as_buyer, now, params), (as_co_financier, now, params), (as_lc_bank, now, params),
        (as_lc_bank, now + 10**12, params),
    ]
    cases, want = [], []
    for change, at, prm in changes:
        recs = variant(change)
        cases.append({"records": json.dumps(recs), "trade_id": ids["trade"], "now_ms": str(at),
                      "params": json.dumps(prm)})
        try:
            want.append(json.loads(json.dumps(trade_view.trade_report(
                lambda k, recs=recs: copy.deepcopy(recs.get(k)), ids["trade"], at,
                params=copy.deepcopy(prm)))))
        except KeyError:
            want.append("NoTrade")
    te._open(browser, chain, key=None)
    got = browser.execute_async_script(_JS_REPORTS, cases)
    assert isinstance(got, list), got
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        assert (g if g == "NoTrade" or g.startswith("JS ERROR") else json.loads(g)) == w, n
    statuses = {w["financings"][ids["financing"]]["status_now"] for w in want
                if isinstance(w, dict) and (w["financings"] or {}).get(ids["financing"])}
    # the variants reach every status, and the LC's issuing bank's view (no status: None)
    assert statuses == {"repaid", "open", "overdue", None}
    assert [w["financings"] is None and w["pool"] is None for w in want[-4:]] == [
        True, False, False, False]
    lapsed = [w["letters_of_credit"][ids["lc"]]["presentation_records"][ids["refused"]].get(
        "hold_lapsed_now") for w in want[-13:-4]]
    assert lapsed == [False, False, True, True, False, True, True, None, None], lapsed

    amounts = [None, 0, 1, 5, 99, 100, 123450, 10**6, 2**53 + 1, 10**18 - 1]
    fmt = [(a, ccy, e) for a in amounts for ccy, e in (("USD", 2), ("JPY", 0), ("KWD", 3))]
    times = [examination_deadline_ms(t) for t in (0, 1_764_806_400_000, 1_765_000_000_123,
                                                  4_102_444_800_000)]
    js = browser.execute_script("""
        const T = window.chainfinExplorer.trade, [fmt, times] = arguments;
        return [fmt.map(([a, c, e]) => T.money(a === null ? null : BigInt(a), c, BigInt(e))),
                times.map((t) => T.lastDay(BigInt(t))), times.map((t) => T.utc(BigInt(t) + 59999n))];
    """, [[None if a is None else str(a), c, e] for a, c, e in fmt], [str(t) for t in times])
    assert js == [[trade_view.money(a, c, e) for a, c, e in fmt], [last_day(t) for t in times],
                  [trade_view._utc(t + 59_999) for t in times]]
    assert datetime.date.fromisoformat(js[1][0])  # real dates
    counted_by = getattr(trade_view, "counted_by", None)  # decision 142's calendars
    if counted_by is not None:
        pres = [{}, {"calendar": None}, {"calendar": "GB"},
                {"calendar": "GB", "weekends_only": True}, {"calendar": "US", "weekends_only": False}]
        assert browser.execute_script(
            "return arguments[0].map((p) => window.chainfinExplorer.trade.countedBy(p))", pres) \
            == [counted_by(p) for p in pres]


def test_a_record_hidden_from_the_reader_shows_in_its_place(chain: te.Chain,
                                                            browser: Any) -> None:
    """The page renders a report whose document, financing, LC or presentation the node
    answered 404 for: each says "not found or not visible to you" where it would be."""
    from selenium.webdriver.common.by import By

    ids = chain.ids
    recs = _records(chain)
    for k in (f"doc/{ids['bill_of_lading']}", f"fin/{ids['financing']}",
              f"pres/{ids['refused']}"):
        recs.pop(k)
    recs[f"pres/{ids['paid']}"].update(calendar="GB", weekends_only=True)
    te._open(browser, chain, key=None)
    browser.execute_async_script("""
        const [records, tradeId, done] = arguments;
        const T = window.chainfinExplorer.trade, recs = T.parseExact(records);
        const fetch = async (k) => (Object.prototype.hasOwnProperty.call(recs, k) ? recs[k] : null);
        T.tradeReport(fetch, tradeId, 0n, 2n, null).then((rep) => {
          document.getElementById("view").innerHTML = T.render(rep, null, 0n, 1, []);
          done(true);
        }, (e) => done(String(e)));
    """, json.dumps(recs), ids["trade"])
    hidden = browser.find_elements(By.CSS_SELECTOR, ".rec.hidden")
    assert sorted(h.get_attribute("data-rec") for h in hidden) == ["doc", "fin", "pres"]
    for h in hidden:
        assert "not found or not visible to you" in h.text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".rec[data-rec=doc]")) == 3
    paid = browser.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['paid']}']")
    assert _text(paid, "counted-by") \
        == "[calendar GB: weekends only, no holiday list for a year of the period]"


def test_a_held_refusal_its_waiver_and_return_show_on_the_page(chain: te.Chain,
                                                               browser: Any) -> None:
    """Decision 146 on the page: a refusal's disposal and date, the bound of a hold (and that
    it lapsed), the applicant's waiver, the return of the documents, the payment's date and
    transaction; worded as ``view.refusal_notes`` words them."""
    from selenium.webdriver.common.by import By

    ids = chain.ids
    base = _records(chain)
    rk, lk = f"pres/{ids['refused']}", f"lc/{ids['lc']}"
    at = base[rk]["refused"]["timestamp_ms"]
    until = at + 30 * 86_400_000
    utc = trade_view._utc

    def page(recs: dict[str, Any], now_ms: int) -> Any:
        te._open(browser, chain, key=None)
        browser.execute_async_script("""
            const [records, tradeId, now, done] = arguments;
            const T = window.chainfinExplorer.trade, recs = T.parseExact(records);
            const fetch = async (k) => (Object.prototype.hasOwnProperty.call(recs, k) ? recs[k] : null);
            T.tradeReport(fetch, tradeId, BigInt(now), 2n, null).then((rep) => {
              document.getElementById("view").innerHTML = T.render(rep, null, BigInt(now), 1, []);
              done(true);
            }, (e) => done(String(e)));
        """, json.dumps(recs), ids["trade"], str(now_ms))
        return browser.find_element(By.CSS_SELECTOR, f".rec[data-id='{ids['refused']}']")

    recs = copy.deepcopy(base)
    recs[rk].update(status="held", refused={"height": 7, "timestamp_ms": at, "disposal": "HOLD",
                                            "held_until_ms": until})
    el = page(recs, until - 1)
    assert _text(el, "status") == "held"
    assert _text(el, "disposal") == trade_view.DISPOSAL_WORDS["HOLD"]
    assert _text(el, "refused-at") == utc(at)
    assert _text(el, "held-until") == f"(until {utc(until)} at most)"
    el = page(recs, until)
    assert _text(el, "held-until") == f"hold lapsed {utc(until)}: they can only be returned"
    notes = trade_view.refusal_notes({**recs[rk], "hold_lapsed_now": True})
    assert f"hold lapsed {utc(until)}: they can only be returned" in notes  # Python's words

    recs[rk].update(status="paid", waiver={"height": 8, "timestamp_ms": at + 60_000},
                    paid={"height": 9, "timestamp_ms": at + 120_000, "tx_id": "cd" * 32},
                    payments=[{"to": recs[lk]["beneficiary"], "amount": 1_000,
                               "financing_id": None}])
    recs[rk]["refused"]["disposal"] = "NOTIFY"
    el = page(recs, until)
    assert _text(el, "waived") == f"discrepancies waived by the applicant {utc(at + 60_000)}"
    assert _text(el, "disposal") == trade_view.DISPOSAL_WORDS["NOTIFY"]
    assert not el.find_elements(By.CSS_SELECTOR, "[data-f='held-until']")  # no longer held
    assert _text(el, "paid-at") == f"{utc(at + 120_000)} by {'cd' * 8}…"
    assert "discrepancies waived by the applicant" in trade_view.refusal_notes(recs[rk])

    recs = copy.deepcopy(base)
    recs[rk].update(status="refused", returned={"height": 8, "timestamp_ms": at + 5_000,
                                                "by": "beneficiary"},
                    refused={"height": 7, "timestamp_ms": at, "disposal": "HOLD",
                             "held_until_ms": until})
    el = page(recs, at + 5_000)
    assert _text(el, "returned") == ("documents returned on the beneficiary's instruction "
                                     + utc(at + 5_000))
    assert _text(el, "returned") in trade_view.refusal_notes(recs[rk])


def test_a_bill_of_ladings_containers_and_its_container_clash(chain: te.Chain,
                                                              browser: Any) -> None:
    """Decisions 228-230 on the page: a B/L's containers, voyage and gross weight; a B/L
    registered although one of its boxes was under another trade's live shipment says which box
    and whose shipment (that document and its trade, where the reader reads it; else that it is
    not visible), and the first B/L's copy says which of its boxes the copy names and in which
    trade. Before: none of these on the page (containers and voyage were in the record only)."""
    from selenium.webdriver.common.by import By

    ids = chain.ids
    recs = _records(chain)
    bl = recs[f"doc/{ids['bill_of_lading']}"]
    first, copy_id, other_trade = "ab" * 32, "cd" * 32, "ef" * 32
    bl["fields"].update(containers=["CSQU3054383", "MSKU9070323"], voyage="512E",
                        gross_weight_kg=18_400)
    bl["declared_distinct"] = {"reason": "box reused after unloading", "similar_to": first,
                               "container": "CSQU3054383", "container_of": first}
    bl["distinct_copies"] = [{"doc_id": copy_id, "reason": "another cargo"}]
    others = {first: {**bl, "trade_id": other_trade, "declared_distinct": None},
              copy_id: {**bl, "trade_id": other_trade, "fields": {
                  **bl["fields"], "containers": ["MSKU9070323", "TGHU1234560"]}}}

    def page(others: dict[str, Any]) -> Any:
        te._open(browser, chain, key=None)
        err = browser.execute_async_script("""
            const [records, others, tradeId, done] = arguments;
            const T = window.chainfinExplorer.trade, recs = T.parseExact(records);
            const fetch = async (k) => (Object.prototype.hasOwnProperty.call(recs, k) ? recs[k] : null);
            T.tradeReport(fetch, tradeId, 0n, 2n, null).then((rep) => {
              document.getElementById("view").innerHTML = T.render(rep, null, 0n, 1, [],
                                                                   T.parseExact(others));
              done(null);
            }, (e) => done(String(e)));
        """, json.dumps(recs), json.dumps(others), ids["trade"])
        assert err is None, err
        return browser.find_element(By.CSS_SELECTOR,
                                    f".rec[data-id='{ids['bill_of_lading']}']")

    el = page(others)
    assert _text(el, "containers") == "CSQU3054383 MSKU9070323"
    assert _text(el, "voyage") == "512E"
    assert _text(el, "gross-weight") == "18,400 kg"
    assert _text(el, "clash") == "container CSQU3054383 of another shipment"
    clash = _text(el, "container-clash")
    assert clash.startswith(f"container CSQU3054383 was under the live shipment of {first[:16]}…"
                            f" in trade {other_trade[:16]}…")
    assert "declared distinct" in clash
    hrefs = [a.get_attribute("href") for a in el.find_elements(By.CSS_SELECTOR, "a.trade-link")]
    assert any(h.endswith(f"#/trade/{other_trade}") for h in hrefs)
    assert _text(el, "copy-container") == (f"— it names container MSKU9070323 of this shipment, "
                                           f"in trade {other_trade[:16]}…")
    # what a bank must do before financing it (distinct_not_acknowledged otherwise)
    needs = _text(browser.find_element(By.ID, "trade-blocks"), "needs-ack")
    assert needs.startswith("2 reason(s) on record") and "acknowledge_distinct: true" in needs
    # the other shipment's document unread by this key: its id, and that it is not visible
    el = page({first: None, copy_id: None})
    assert "not found or not visible to you" in _text(el, "container-clash")
    assert not el.find_elements(By.CSS_SELECTOR, "[data-f='copy-container']")


# --------------------------------------------------------------------------- the guarantee page


def _python_guarantee(c: te.Chain, who: str, now_ms: int) -> dict[str, Any]:
    """``chainfin guarantee show``'s report (its reads, as ``who``) at ``now_ms``, the parties'
    names aside (the page names them by account)."""
    gid = c.ids["guarantee"]
    client = c.tn.client(0, identity=load_identity(c.dir / "clients" / f"{who}.json"))
    try:
        g = client.state_value("trade_documents", "gtee/" + gid)
        dems = [client.state_value("trade_documents", "gdem/" + d) for d in g["demands"]]
        exp = int(client.state_value("governance", "currency/" + g["currency"])["exponent"])
    finally:
        client.close()
    g = {**g, "demands": [{"demand_id": i, **(d or {})} for i, d in zip(g["demands"], dems,
                                                                         strict=True)]}
    out = {"guarantee_id": gid, **cli_guarantee.readable(g, exp, now_ms, {})}
    return {k: v for k, v in out.items() if not k.endswith("_name")}


def test_the_guarantee_page_for_its_readers(chain: te.Chain, browser: Any,
                                            tmp_path: Path) -> None:
    """#/guarantee/ID is `chainfin guarantee show`'s report (cli_guarantee.readable of the same
    reads at the page's block time) for the guarantor, the beneficiary (reaching it by the
    search box) and a regulator, with amounts in major units, ISO UTC times, the open demand's
    deadline and the pending amendment; a bank no party to it gets the page of a guarantee that
    does not exist (decision 197)."""
    from selenium.webdriver.common.by import By

    gid, did = chain.ids["guarantee"], chain.ids["gdemand"]
    m = lambda x: trade_view.money(x, "USD", 2)  # noqa: E731
    for who in ("bank2", "exporter", "regulator"):
        if who == "exporter":  # the beneficiary types the id (its issue transaction's) in the search box
            te._open(browser, chain, "", key=who)
            q = browser.find_element(By.ID, "q")
            q.clear()
            q.send_keys(gid)
            browser.find_element(By.ID, "go").click()
        else:
            te._open(browser, chain, f"#/guarantee/{gid}", key=who)
        assert te._css(browser, "#guarantee-id").text == gid, who
        got = browser.execute_script("return window.chainfinExplorer.lastGuarantee")
        py = _python_guarantee(chain, who, int(got["nowMs"]))
        assert json.loads(got["json"]) == json.loads(json.dumps(py)), who
        view = browser.find_element(By.ID, "view")
        dem = py["demands"][0]
        assert (_text(view, "status"), _text(view, "amount"), _text(view, "in-force"),
                _text(view, "reserved"), _text(view, "available")) == (
            "issued", "USD 50,000.00", "USD 50,000.00", "USD 12,500.00", "USD 37,500.00"), who
        assert _text(view, "issued-at") == py["issued_at"] and py["issued_at"].endswith("Z")
        card = browser.find_element(By.CSS_SELECTOR, f".rec[data-rec=demand][data-id='{did}']")
        assert (_text(card, "d-status"), _text(card, "d-amount"), _text(card, "d-deadline"),
                _text(card, "d-decide"), _text(card, "d-statement")) == (
            "presented", m(1_250_000), dem["examination_deadline_at"], dem["decide_through"],
            "goods not delivered"), who
        # a deadline at midnight UTC is read as the day it ends, the one `decide_through` names
        if dem["examination_deadline_at"].endswith("T00:00:00Z"):
            assert f"the end of {dem['decide_through']}" in _text(card, "d-deadline-words"), who
        am = browser.find_element(By.ID, "gtee-amendment")
        assert (_text(am, "am-number"), _text(am, "am-proposal"), _text(am, "change-amount"),
                _text(am, "am-at")) == ("1", "1", "USD 60,000.00", py["amendment"]["at"]), who
        red = browser.find_element(By.ID, "gtee-reductions")
        assert "USD 40,000.00" in red.text and "scheduled" in red.text
        assert _text(view, "beneficiary").startswith("exporter")
        if who == "bank2":
            browser.set_window_size(1280, 1800)
            try:
                browser.save_screenshot(str(Path(os.environ.get("CHAINFIN_SHOTS", tmp_path))
                                            / "explorer-guarantee.png"))
            finally:
                browser.set_window_size(1280, 1000)
    # the demand's transaction page links to its guarantee (for a party: here the regulator)
    te._open(browser, chain, f"#/tx/{did}", key="regulator")
    te._css(browser, "#guarantee-link").click()
    te._wait(browser, lambda d: d.find_element(By.ID, "guarantee-id").text == gid)
    # so does a later step of it (here the guarantor's amendment, which names guarantee_id)
    te._open(browser, chain, f"#/tx/{chain.ids['gamend']}", key="bank2")
    te._css(browser, "#guarantee-link").click()
    te._wait(browser, lambda d: d.find_element(By.ID, "guarantee-id").text == gid)
    # an expired guarantee: what is left is not "what a demand may still claim"
    te._open(browser, chain, f"#/guarantee/{chain.ids['gexpired']}", key="bank2")
    view = te._css(browser, "#gtee-amounts")
    assert _text(view, "available") == "USD 2,000.00" and _text(view, "no-demand") == (
        "no demand may be made") and "URDG 758 art. 25" in view.text
    assert "may still claim" not in view.text
    # another bank: the page of a guarantee that does not exist, word for word
    texts = []
    for gid_ in (gid, gid[:-1] + ("0" if gid[-1] != "0" else "1")):
        te._open(browser, chain, f"#/guarantee/{gid_}", key="bank1")
        texts.append(te._css(browser, ".notfound").text.replace(gid_, "ID"))
    assert texts[0] == texts[1] and "not visible to you" in texts[0]
    assert not browser.find_elements(By.ID, "gtee-terms")
