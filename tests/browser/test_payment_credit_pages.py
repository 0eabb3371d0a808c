"""The explorer's payment page (``#/payment/ID``) and the data subject's credit page
(``#/credit``), in a real browser against a real 4-node testnet (decision 186).

The chain: bank0 registers a customer that pays (``payer_co``), bank1 one that is paid
(``payee_co``). The payer pays USD 123.45 under a UETR and an end-to-end id; it recalls the
payment (``DUPL``), the payee's bank answers no (camt.029 ``CUST``), the payer recalls again
(``AM09``) and the payee returns USD 23.45 of it (pacs.004 ``FOCR``). A second payment gets a
fraud recall (``FRAD``): the payee's bank handles it, the payee is not told; a third is never
recalled. bank0 publishes a
credit record about the payer; the payer consents to bank2 (for ``credit_decision``, 30 days,
bank0's records only); bank2 and bank1 ask for the record (bank1 without consent: refused);
the payer disputes it.

Each page is checked against the routes' own answers, read in Python with the same keys: the
payer, the payer's bank, the payee, the payee's bank, another bank and a regulator each see on
the payment page what ``GET /v1/tx``, ``/v1/blocks`` and ``/v1/state/settlement/recall/…``
give them (amounts in major units with the currency's exponent, the recall's reason, status
and answer, the return linked, the block's certificate or that it is not theirs), and nothing
of what the routes refuse them (the FRAD recall is not on the payee's page, whose recall card
is the never-recalled payment's word for word); the originator's address and customer id and
the beneficiary's name (FATF R.16, ``travel``) to the two banks and the regulator only (decision
226); a bank that reads
nothing gets the very page of a payment that does not exist; the payee's bank opens a payment
by payer and UETR from the payment index it reads. The credit page shows the subject
and a regulator the records, consent, access report and dispute the state routes give them;
every other identity gets one fixed card. ``CHAINFIN_SHOTS=docs/img`` writes
``explorer-payment.png`` and ``explorer-credit.png`` there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainfin.client import ClientError, SyncClient
from chainfin.crypto import Identity, load_identity, save_identity
from contracts import credit_sharing
from contracts.trade import view as trade_view
from tests.browser import test_explorer as te

browser = te.browser  # the explorer tests' chromium, over this module's `chain`

PAYER, PAYEE = "Ridgeway Tools Ltd", "Saltmarsh Imports"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[te.Chain]:
    with te.started_chain(tmp_path_factory, "payment-page", _READERS) as c:
        c.ids = _build(c)
        yield c


def _id(c: te.Chain, name: str) -> Identity:
    return load_identity(c.dir / "clients" / f"{name}.json")


def _pk(c: te.Chain, name: str) -> str:
    return _id(c, name).public_key.hex()


_READERS: dict[str, SyncClient] = {}


def _reader(c: te.Chain, name: str) -> SyncClient:
    if name not in _READERS:
        _READERS[name] = c.tn.client(0, identity=_id(c, name))
    return _READERS[name]


def _get(c: te.Chain, who: str, path: str) -> Any:
    """The route's answer to ``who``: the JSON, or None for its 404."""
    try:
        return _reader(c, who).get(path)
    except ClientError as e:
        assert e.status == 404, (who, path, e)
        return None


def _call(c: te.Chain, who: str, contract: str, method: str, args: dict[str, Any]
          ) -> dict[str, Any]:
    r: dict[str, Any] = c.client.call(_id(c, who), contract, method, args, wait=True)
    assert r.get("status") == "committed", (method, r)
    return r


def _build(c: te.Chain) -> dict[str, str]:
    for name, bank, legal in (("payer_co", "bank0", PAYER), ("payee_co", "bank1", PAYEE)):
        ident = Identity.generate(name)
        save_identity(ident, c.dir / "clients" / f"{name}.json")
        _call(c, bank, "governance", "register_identity",
              {"pubkey": ident.public_key.hex(), "name": legal, "role": "exporter"})
    payer, payee = _pk(c, "payer_co"), _pk(c, "payee_co")
    _call(c, "bank0", "governance", "set_travel_info", {  # R.16 data (decisions 221, 226)
        "pubkey": payer, "address": {"lines": ["4 Ridgeway Road"], "town": "Albany",
                                     "country": "US"}, "customer_id": "CUST-0042"})
    _call(c, "usd_issuer", "settlement", "issue", {"currency": "USD", "to": payer,
                                                   "amount": 1_000_000})
    _call(c, "usd_issuer", "settlement", "issue", {"currency": "USD", "to": payee,
                                                   "amount": 1_000_000})
    uetr, uetr2 = str(uuid.uuid4()), str(uuid.uuid4())
    pay = _call(c, "payer_co", "settlement", "transfer", {
        "to": payee, "currency": "USD", "amount": 12_345, "uetr": uetr,
        "end_to_end_id": "E2E-INV-4471", "remittance_info": "invoice 4471"})["tx_id"]
    recall1 = _call(c, "payer_co", "settlement", "recall", {
        "original_tx": pay, "uetr": uetr, "reason": "DUPL", "info": "sent twice"})["tx_id"]
    _call(c, "bank1", "settlement", "reject_recall", {"original_tx": pay, "reason": "CUST",
                                                      "info": "the customer refused"})
    _call(c, "bank0", "settlement", "recall", {"original_tx": pay, "uetr": uetr,
                                               "payer": payer, "reason": "AM09"})
    ret = _call(c, "payee_co", "settlement", "return_payment", {
        "original_tx": pay, "payer": payer, "uetr": uetr, "currency": "USD", "amount": 2_345,
        "reason": "FOCR", "return_id": "RTR-77"})["tx_id"]
    fraud = _call(c, "payer_co", "settlement", "transfer", {
        "to": payee, "currency": "USD", "amount": 500, "uetr": uetr2})["tx_id"]
    frad = _call(c, "bank0", "settlement", "recall", {"original_tx": fraud, "uetr": uetr2,
                                                      "payer": payer, "reason": "FRAD"})["tx_id"]
    uetr3 = str(uuid.uuid4())
    plain = _call(c, "payer_co", "settlement", "transfer", {
        "to": payee, "currency": "USD", "amount": 700, "uetr": uetr3})["tx_id"]
    # credit sharing: a record about the payer, a consent, two requests, a dispute
    sealed = credit_sharing.seal_record(b"record", bytes(16), [_pk(c, "bank0"),
                                                               _pk(c, "regulator")])
    rec = _call(c, "bank0", "credit_sharing", "publish", {
        "subject": payer, "commitment": credit_sharing.make_commitment(b"record", bytes(16)),
        "sealed": sealed})["result"]["record_id"]
    _call(c, "payer_co", "credit_sharing", "grant_consent", {
        "bank": _pk(c, "bank2"), "purposes": ["credit_decision"], "days": 30,
        "publisher": _pk(c, "bank0")})
    _call(c, "bank2", "credit_sharing", "request_access", {"record_id": rec,
                                                           "purpose": "credit_decision"})
    _call(c, "bank1", "credit_sharing", "request_access", {"record_id": rec,
                                                           "purpose": "collections"})
    _call(c, "payer_co", "credit_sharing", "dispute", {"record_id": rec,
                                                       "reason": "paid in full in March"})
    return {"pay": pay, "ret": ret, "fraud": fraud, "plain": plain, "uetr3": uetr3, "recall1": recall1, "frad": frad, "uetr": uetr, "record": rec,
            "payer": payer, "payee": payee}


def _f(drv: Any, name: str) -> str:
    from selenium.webdriver.common.by import By

    return str(drv.find_element(By.CSS_SELECTOR, f"#view [data-f='{name}']").text)


def _has(drv: Any, name: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(drv.find_elements(By.CSS_SELECTOR, f"#view [data-f='{name}']"))


def _open_page(drv: Any, c: te.Chain, hash_: str, who: str) -> str:
    """Open ``hash_`` as ``who``; the page's rendered text once it settled."""
    te._open(drv, c, hash_, key=who)  # (returns once the page re-rendered signed)
    return str(drv.find_element("id", "view").text)


def _shot(drv: Any, path: Path, height: int) -> None:
    """A screenshot of the whole page (``height`` pixels tall), then the usual window back."""
    drv.set_window_size(1280, height)
    drv.save_screenshot(str(path))
    drv.set_window_size(1280, 1000)
    print(f"\nscreenshot: {path}")


# --------------------------------------------------------------------------- payment page


def test_a_payment_is_what_the_routes_give_each_reader(chain: te.Chain, browser: Any,
                                                       tmp_path: Path) -> None:
    ids = chain.ids
    pay, ret = ids["pay"], ids["ret"]
    payer_pk = ids["payer"]
    usd = lambda v: trade_view.money(v, "USD", 2)  # noqa: E731
    seen: dict[str, str] = {}
    for who in ("payer_co", "bank0", "payee_co", "bank1", "regulator", "bank2"):
        tx = _get(chain, who, f"/v1/tx/{pay}?tx=1")
        rec = _get(chain, who, f"/v1/state/settlement/recall/{pay}")
        text = seen[who] = _open_page(browser, chain, f"#/payment/{pay}", who)
        if tx is None and rec is None:  # another bank: a missing payment's page, word for word
            assert who == "bank2"
            fake = pay[:-1] + ("0" if pay[-1] != "0" else "1")
            want = _open_page(browser, chain, f"#/payment/{fake}", who)
            assert "Not found or not visible to you" in text
            assert text == want.replace(fake, pay)
            continue
        assert _f(browser, "amount").startswith(usd(12_345)), who
        assert "12345 minor units, exponent 2" in _f(browser, "amount")
        assert PAYER in _f(browser, "payer") and PAYEE in _f(browser, "payee"), who
        assert _f(browser, "uetr") == ids["uetr"]
        # the R.16 data (decision 226): shown as GET /v1/tx gives it, to the two banks and the
        # supervisors; the payer and the payee are told it is not theirs to read
        if tx is not None and tx.get("travel"):
            assert who in ("bank0", "bank1", "regulator"), who
            assert _f(browser, "travel-address") == "4 Ridgeway Road, Albany, US", who
            assert _f(browser, "travel-customer-id") == "CUST-0042"
            assert PAYER in _f(browser, "travel-originator") and payer_pk in \
                _f(browser, "travel-originator")
            assert PAYEE in _f(browser, "travel-beneficiary")
        else:
            assert who in ("payer_co", "payee_co"), who
            assert "not visible to you" in _f(browser, "no-travel")
            assert not _has(browser, "travel-address")
        # the end-to-end id: in the envelope (its sender's side) or the payee's own event
        if tx is not None:
            assert _f(browser, "e2e") == "E2E-INV-4471", who
        block = _get(chain, who, f"/v1/blocks/{(tx or rec['value'])['height']}")
        if block is not None:  # the certificate by name: the supervisors'
            assert f"signed by {len(block['certificate']['votes'])} validators" \
                in _f(browser, "signers")
        else:
            assert "not visible to you" in _f(browser, "no-block"), who
        if rec is None:  # the payee: its bank answers for it, so no recall record (and no FRAD)
            assert who == "payee_co"
            assert "not found or not visible to you" in _f(browser, "no-recall")
            for word in ("AM09", "DUPL", "camt.056", "recall-reason"):
                assert word not in browser.find_element("id", "payment-recall").text
            continue
        r = rec["value"]
        assert _f(browser, "returned").startswith(usd(r["returned"])) and r["returned"] == 2_345
        assert _f(browser, "returns") == "1" and _f(browser, "recalls") == "2"
        assert _f(browser, "recall-reason") == "AM09 wrong amount"
        assert _f(browser, "recall-status") == "returned"
        assert "bank0" in _f(browser, "recall-by")  # the payer's bank, for its customer
        answer = _f(browser, "answer")
        assert "return" in answer and usd(2_345) in answer and "FOCR" in answer
        link = browser.find_element("css selector", "#payment-recall a.payment-link")
        assert link.get_attribute("href").endswith(f"#/payment/{ret}")
    shots = Path(os.environ.get("CHAINFIN_SHOTS", tmp_path))
    _open_page(browser, chain, f"#/payment/{pay}", "bank0")
    te._pin_genesis(browser, chain)
    _shot(browser, shots / "explorer-payment.png", 1950)
    browser.find_element("css selector", "#payment button.verify").click()
    verdict = te._wait(browser, lambda d: d.find_element(
        "css selector", "#payment [data-verdict]"), 30)
    assert verdict.get_attribute("data-verdict") == "valid", verdict.text  # a home bank's proof
    # the return's own page: a payment back, linked to its original
    _open_page(browser, chain, f"#/payment/{ret}", "payee_co")
    assert _f(browser, "amount").startswith(usd(2_345))
    assert "FOCR" in _f(browser, "return-of") and "RTR-77" in _f(browser, "return-of")


def test_a_fraud_recall_is_the_payee_banks_not_the_payees(chain: te.Chain,
                                                          browser: Any) -> None:
    fraud = chain.ids["fraud"]
    assert _get(chain, "payee_co", f"/v1/state/settlement/recall/{fraud}") is None
    text = _open_page(browser, chain, f"#/payment/{fraud}", "payee_co")
    assert "FRAD" not in text and "fraud" not in text.lower()
    assert "not found or not visible to you" in _f(browser, "no-recall")
    # word for word the recall card of a payment never recalled: no tipping off
    hidden = browser.find_element("id", "payment-recall").text
    _open_page(browser, chain, f"#/payment/{chain.ids['plain']}", "payee_co")
    assert browser.find_element("id", "payment-recall").text == hidden
    for who in ("bank1", "bank0"):  # the payee's bank (from the record), the payer's
        rec = _get(chain, who, f"/v1/state/settlement/recall/{fraud}")
        assert rec is not None
        _open_page(browser, chain, f"#/payment/{fraud}", who)
        assert _f(browser, "recall-reason") == "FRAD fraudulent origin"
        assert _f(browser, "payee-informed").startswith("no")
        assert _f(browser, "recall-status") == "open"
    # a recall's page points to its payment: the payer's (its envelope), the payee's (its own
    # event: a DUPL recall is told to it); the FRAD recall's is the payee's missing transaction
    for who, rid in (("payer_co", chain.ids["recall1"]), ("payee_co", chain.ids["recall1"])):
        _open_page(browser, chain, f"#/payment/{rid}", who)
        link = te._css(browser, "#payment-pointer a.payment-link")
        assert link.get_attribute("href").endswith("#/payment/" + chain.ids["pay"]), who
    frad = chain.ids["frad"]
    assert _get(chain, "payee_co", f"/v1/tx/{frad}") is None
    fake = frad[:-1] + ("0" if frad[-1] != "0" else "1")
    assert _open_page(browser, chain, f"#/payment/{frad}", "payee_co") == _open_page(
        browser, chain, f"#/payment/{fake}", "payee_co").replace(fake, frad)
    # by payer and UETR: the payee's bank reads the payment index (and, since decision 222, the
    # transfer's status and events, not its envelope)
    ids = chain.ids
    addr = f"#/payment/{ids['payer']}/{ids['uetr3']}"
    for who in ("bank1", "bank2"):
        tx = _get(chain, who, f"/v1/tx/{ids['plain']}")
        idx = _get(chain, who, f"/v1/state/settlement/uetr/{ids['payer']}/{ids['uetr3']}")
        text = _open_page(browser, chain, addr, who)
        if idx is None:  # another bank: the page of a UETR never paid
            assert who == "bank2" and tx is None
            other = str(uuid.uuid4())
            assert text == _open_page(browser, chain, addr.replace(ids["uetr3"], other),
                                      who).replace(other, ids["uetr3"])
            assert "Not found or not visible to you" in text
            continue
        assert te._css(browser, "#payment-id").text == idx["value"]["tx_id"] == ids["plain"]
        assert _f(browser, "amount").startswith("USD 7.00")
        assert PAYER in _f(browser, "payer") and PAYEE in _f(browser, "payee")
        if tx is None:  # a node before decision 222
            assert "from its payment index: the transaction itself is not found" in text
        else:  # decision 222: the payee's bank reads the transfer's status and its events
            assert (tx["status"], "tx" in tx) == ("committed", False)
            assert _f(browser, "status").startswith("committed")
            assert "the transaction itself is not found" not in text
    # a UETR in the search box: the signed-in payer's payment under it
    _open_page(browser, chain, "#/", "payer_co")
    q = browser.find_element("id", "q")
    q.send_keys(chain.ids["uetr"])
    browser.find_element("id", "go").click()
    assert te._css(browser, "#payment-id").text == chain.ids["pay"]


# --------------------------------------------------------------------------- credit page


def test_the_credit_page_is_the_subjects_and_the_regulators(chain: te.Chain, browser: Any,
                                                            tmp_path: Path) -> None:
    ids = chain.ids
    subj, rec = ids["payer"], ids["record"]
    base = "/v1/state/credit_sharing/"
    shots = Path(os.environ.get("CHAINFIN_SHOTS", tmp_path))
    for who in ("payer_co", "regulator"):
        head = _get(chain, who, f"{base}access/{subj}")
        entries = [_get(chain, who, f"{base}access/{subj}/{i}")["value"]
                   for i in range(1, head["value"]["n"] + 1)]
        _open_page(browser, chain, "#/credit" + ("" if who == "payer_co" else f"/{subj}"), who)
        te._css(browser, "#credit-report-list")
        page = browser.execute_script("return window.chainfinExplorer.lastCredit")
        assert page["subject"] == subj and page["records"] == [rec]
        assert page["disputes"] == [rec]
        assert page["consents"] == [_pk(chain, "bank2")]
        want = {}
        for e in entries:
            want.setdefault(e["request_id"], e["status"])
            if e["status"] == "delivered":
                want[e["request_id"]] = "delivered"
        assert dict(page["requests"]) == want and len(want) == 2
        assert sorted(want.values())[-1] == "refused"
        purposes = [el.text for el in browser.find_elements(
            "css selector", "tr.credit-access [data-f=purpose]")]
        assert purposes == ["credit_decision", "collections"]
        consent = _get(chain, who, f"{base}consent/{subj}/{_pk(chain, 'bank2')}")["value"]
        assert _f(browser, "purposes") == "credit_decision" == consent["purposes"][0]
        assert _f(browser, "publisher").startswith("bank0") and _f(browser, "publisher").endswith(
            " only") and consent["publisher"] == _pk(chain, "bank0")
        assert trade_view._utc(consent["until_ms"]) in _f(browser, "until")
        dispute = _get(chain, who, f"{base}dispute/{rec}")["value"]
        assert _f(browser, "dispute-reason") == dispute["reason"] == "paid in full in March"
        assert "sealed" in browser.find_element("id", "credit-records").text
        # decision 201: the record's retention end (the default: MAX_RETENTION_DAYS)
        kept = _get(chain, who, f"{base}record/{rec}")["value"]["retain_until_ms"]
        assert trade_view._utc(kept) in _f(browser, "kept")
        assert "ciphertext" not in browser.page_source
        for ct in _get(chain, who, f"{base}record/{rec}")["value"]["sealed"].values():
            assert ct[:32] not in browser.page_source  # metadata only
        if who == "payer_co":
            _shot(browser, shots / "explorer-credit.png", 1250)
    te._open(browser, chain, f"#/credit/{subj}", key=None)  # no identity: the node's 401
    assert "Reads need an identity" in te._css(browser, "#need-identity").text
    # anyone else: one fixed card, whatever it may read of the subject elsewhere
    cards = set()
    for who in ("bank0", "bank2", "bank1", "payee_co", "auditor"):
        _open_page(browser, chain, f"#/credit/{subj}", who)
        cards.add(te._css(browser, "#credit-none").text)
        assert PAYER not in browser.find_element("id", "view").text
    assert len(cards) == 1
