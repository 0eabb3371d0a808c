"""The explorer's compliance pages — the alert queue (``#/alerts``) and one case
(``#/alert/ID``) — in a real browser against a real 4-node testnet.

The chain: bank0 registers a customer (its home bank); the regulator caps the customer and the
exporter (a genesis identity: no home bank) at USD 10.00 a payment; the customer pays just under
the cap three times (a ``structuring`` alert, as the demo raises it) and then over it (a
refused payment: a kept ``limit_exceeded`` alert), the exporter pays over it (a
``limit_exceeded`` alert for the supervisors only); bank0 reviews the customer's
``limit_exceeded`` alert, its disposition sealed (decision 151).

What is checked against the node's own answers (``GET /v1/risk/alerts/queue`` and
``GET /v1/risk/alerts/{alert}`` read in Python with the same keys): the page's queue for the
regulator and for the home bank is the API's — the same alerts in the same order, each row's
rule, height, accounts (by name), amount (``view.money`` of the detail), age (``alerts
queue``'s format) and transaction, the open count (and, for a supervisor, reviewed = raised
less open, from ``risk/alert_count``; for a bank the API's counts of its customers' open and
reviewed alerts, and its queue a page at a time following the API's cursor); a bank that is no
home bank gets the API's empty queue;
an alert's subject (the customer, the exporter) gets exactly the page an identity without any
alert gets, and the case page a nonexistent alert gets (the API's 404s, no hint); a reviewed
case shows "reviewed", who reviewed it and when, "sealed", and no disposition word, and its
alert record and its review Verify VALID against the pinned genesis (a state proof: a
supervisor's); the search box reaches a case by its id; an open queue page follows its event
stream — a new alert appears (the home bank's, a refused payment's kept one for the regulator),
a reviewed one goes, and on the home bank's page a regulator's review of its customer's alert
takes the row off and counts it reviewed (``alert_reviewed`` reaches the home bank: decision
163) — without a reload. The page's screenshot is docs/img/explorer-alerts.png
(refreshed by running with CHAINFIN_SHOTS=docs/img).

Browser and fixtures as tests/browser/test_explorer.py (its ``browser`` fixture, over this
module's testnet).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli_alerts
from chainfin.client import ClientError, SyncClient
from chainfin.crypto import Identity, load_identity, save_identity
from contracts.trade import view as trade_view
from tests.browser import test_explorer as te

browser = te.browser  # the explorer tests' chromium, over this module's `chain`

CUSTOMER_NAME = "Harbour Lights Trading"
#: risk_cases.DISPOSITIONS and how a page might word them: none may show on a sealed case
DISPOSITION_WORDS = ("escalated", "reported", "false_positive", "false positive", "closed",
                     "reopened")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[te.Chain]:
    """A 4-node testnet holding three alerts (``c.alerts``: structuring, exporter, reviewed)."""
    with te.started_chain(tmp_path_factory, "alerts-page", _READERS) as c:
        c.alerts = _raise_alerts(c)
        yield c


def _id(c: te.Chain, name: str) -> Identity:
    return load_identity(c.dir / "clients" / f"{name}.json")


_READERS: dict[str, SyncClient] = {}


def _reader(c: te.Chain, name: str) -> SyncClient:
    """A REST client of node 0 signing its reads as ``name`` (closed with the testnet)."""
    if name not in _READERS:
        _READERS[name] = c.tn.client(0, identity=_id(c, name))
    return _READERS[name]


def _call(c: te.Chain, who: str, contract: str, method: str, args: dict[str, Any],
          status: str = "committed") -> dict[str, Any]:
    r: dict[str, Any] = c.client.call(_id(c, who), contract, method, args, wait=True)
    assert r.get("status") == status, (method, r)
    return r


def _pay(c: te.Chain, who: str, amount: int, status: str = "committed") -> str:
    return str(_call(c, who, "settlement", "transfer", {
        "to": _id(c, "importer").public_key.hex(), "currency": "USD", "amount": amount},
        status)["tx_id"])


def _raise_alerts(c: te.Chain) -> dict[str, str]:
    customer = Identity.generate("customer")
    save_identity(customer, c.dir / "clients" / "customer.json")
    cust, exp = customer.public_key.hex(), _id(c, "exporter").public_key.hex()
    _call(c, "bank0", "governance", "register_identity",
          {"pubkey": cust, "name": CUSTOMER_NAME, "role": "exporter"})
    for pk in (cust, exp):
        _call(c, "usd_issuer", "settlement", "issue",
              {"currency": "USD", "to": pk, "amount": 1_000_000})
        _call(c, "regulator", "risk", "set_limit", {"subject": pk, "kind": "max_per_tx",
                                                     "currency": "USD", "max": 1000,
                                                     "rule_id": "cap-" + pk[:8]})
    near = [_pay(c, "customer", 950), _pay(c, "customer", 960)]
    structuring = _pay(c, "customer", 990) + "-0"  # the 3rd near the cap within 24 h
    exporter = _pay(c, "exporter", 1001, "rejected") + "-0"  # kept: limit_exceeded
    reviewed = _pay(c, "customer", 1500, "rejected") + "-0"
    # the home bank reviews its customer's refusal: the disposition sealed (decision 151)
    seal_to = _reader(c, "bank0").get(f"/v1/risk/alerts/{reviewed}")["seal_to"]
    record = cli_alerts.review_record(reviewed, "false_positive",
                                      b"the customer's treasurer mistyped the amount", None)
    _call(c, "bank0", "risk", "review_alert", cli_alerts.review_args(record, seal_to))
    return {"structuring": structuring, "exporter": exporter, "reviewed": reviewed,
            "customer": cust, "exporter_pk": exp, "near": near}


def _open(drv: Any, c: te.Chain, hash_: str, key: str, ready: str) -> Any:
    te._open(drv, c, hash_, key=key)
    return te._css(drv, ready)


def _f(el: Any, name: str) -> str:
    from selenium.webdriver.common.by import By

    return str(el.find_element(By.CSS_SELECTOR, f"[data-f='{name}']").text)


def _page_queue(drv: Any) -> dict[str, Any]:
    import json

    doc: dict[str, Any] = json.loads(
        drv.execute_script("return window.chainfinExplorer.lastAlerts.json"))
    return doc


STABLE = ("alert", "rule", "accounts", "tx_id", "height", "time_ms", "detail", "status")


def _check_queue(drv: Any, c: te.Chain, who: str) -> list[str]:
    """The page's queue is the API's for ``who``: the alert ids shown, in order."""
    from selenium.webdriver.common.by import By

    api = _reader(c, who).get("/v1/risk/alerts/queue")
    page = _page_queue(drv)
    assert page["height"] <= api["height"]  # (a block without alerts changes none of these)
    assert [{k: a[k] for k in STABLE} for a in page["alerts"]] \
        == [{k: a[k] for k in STABLE} for a in api["alerts"]]
    rows = drv.find_elements(By.CSS_SELECTOR, "#alerts-queue tr.alert-row")
    assert [r.get_attribute("data-alert") for r in rows] == [a["alert"] for a in api["alerts"]]
    names = {c.alerts["customer"]: CUSTOMER_NAME, c.alerts["exporter_pk"]: "exporter"}
    for row, a, p in zip(rows, api["alerts"], page["alerts"], strict=True):
        assert _f(row, "rule") == a["rule"]
        assert row.find_element(By.CSS_SELECTOR, "a[href^='#/block/']").text == f"#{a['height']}"
        assert _f(row, "age") == cli_alerts._age(page["time_ms"] - a["time_ms"]) \
            == cli_alerts._age(p["age_ms"])
        for acct in a["accounts"]:
            assert names[acct] in _f(row, "accounts")
        assert _f(row, "amount") == trade_view.money(a["detail"]["amount"],
                                                     a["detail"]["currency"], 2)
        tx = row.find_element(By.CSS_SELECTOR, "[data-f=tx] a")
        assert tx.get_attribute("href").endswith("#/tx/" + a["tx_id"])
        assert row.find_element(By.CSS_SELECTOR, "a.alert-link").get_attribute(
            "href").endswith("#/alert/" + a["alert"])
    counts = drv.find_element(By.ID, "alerts-counts")
    if "open" in api:  # a supervisor's: every open alert; reviewed = raised less open
        assert int(_f(counts, "open")) == api["open"] == len(api["alerts"])
        raised = 0  # every rule's count: risk/alert_count/<rule>
        for rule in c.client.get("/v1/risk/rules")["alert_rules"]:
            raised += int(c.client.state_value("risk", f"alert_count/{rule}") or 0)
        assert int(_f(counts, "reviewed")) == raised - api["open"]
    else:  # a bank's: its customers' alerts, open and reviewed, counted by the node
        assert api["queue"] == "bank" and api["next"] is None
        assert int(_f(counts, "open")) == api["counts"]["open"] == len(api["alerts"])
        assert int(_f(counts, "reviewed")) == api["counts"]["reviewed"]
    return [a["alert"] for a in api["alerts"]]


# --------------------------------------------------------------------------- tests


def test_the_queue_is_the_apis_for_a_regulator_and_the_home_bank(
        chain: te.Chain, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    al = chain.alerts
    te._open(browser, chain, "#/alerts", key=None)
    assert not browser.find_element(By.ID, "alerts-link").is_displayed()  # no identity yet
    assert "Reads need an identity" in te._css(browser, "#need-identity").text
    te._load_key(browser, chain, "regulator")
    link = browser.find_element(By.ID, "alerts-link")
    assert link.is_displayed() and link.get_attribute("href").endswith("#/alerts")
    te._css(browser, "#alerts-queue tr.alert-row")
    # oldest first: the customer's structuring, then the exporter's refusal; the reviewed one not
    assert _check_queue(browser, chain, "regulator") == [al["structuring"], al["exporter"]]
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-alert='{al['structuring']}']")
    assert _f(row, "rule") == "structuring" and _f(row, "amount") == "USD 9.90"
    assert "near_limit_payments 3" in _f(row, "detail")
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-alert='{al['exporter']}']")
    assert "max USD 10.00" in _f(row, "detail") and _f(row, "amount") == "USD 10.01"
    te._pin_genesis(browser, chain)
    shots = Path(os.environ.get("CHAINFIN_SHOTS", tmp_path))
    browser.save_screenshot(str(shots / "explorer-alerts.png"))
    print(f"\nalert queue screenshot: {shots}/explorer-alerts.png")
    # the open count is the supervisors' queue record's (risk/queue/*), proven in the page
    counts = browser.find_element(By.ID, "alerts-counts")
    counts.find_element(By.CSS_SELECTOR, "button.verify").click()
    verdict = te._wait(browser, lambda d: counts.find_element(By.CSS_SELECTOR, "[data-verdict]"),
                       30)
    assert verdict.get_attribute("data-verdict") == "valid", verdict.text
    assert "state key:      risk / queue/*" in verdict.text and '"open": 2' in verdict.text
    # the age as `chainfin alerts queue` prints it (cli_alerts._age), on the JS port
    ages = [0, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000, 90_061_000,
            12 * 86_400_000 + 7 * 3_600_000, 400 * 86_400_000]
    assert browser.execute_script("return arguments[0].map(window.chainfinExplorer.alerts.age)",
                                  ages) == [cli_alerts._age(ms) for ms in ages]

    # the home bank: its customer's open alert only (the exporter is no customer of its)
    _open(browser, chain, "#/alerts", "bank0", "#alerts-queue tr.alert-row")
    assert _check_queue(browser, chain, "bank0") == [al["structuring"]]
    # a bank that is no home bank of theirs: the API's empty queue, said as such
    _open(browser, chain, "#/alerts", "bank1", "#alerts-empty")
    assert _check_queue(browser, chain, "bank1") == []
    assert "No open alerts of this bank's customers" in browser.find_element(
        By.ID, "alerts-queue").text


def test_a_subject_sees_what_the_api_gives_it_nothing(chain: te.Chain, browser: Any) -> None:
    """The customer and the exporter (subjects) get the page an identity without any alert
    gets; the subject's case page is the one of an alert that does not exist."""
    from selenium.webdriver.common.by import By

    al = chain.alerts
    texts = {}
    for who in ("customer", "exporter", "importer"):  # two subjects, one named by no alert
        with pytest.raises(ClientError) as e:
            _reader(chain, who).get("/v1/risk/alerts/queue")
        assert e.value.status == 404
        card = _open(browser, chain, "#/alerts", who, "#alerts-none")
        assert browser.find_element(By.ID, "alerts-link").is_displayed()  # shown to all alike
        assert e.value.message in card.text
        texts[who] = browser.find_element(By.ID, "view").get_attribute("innerHTML")
    assert texts["customer"] == texts["exporter"] == texts["importer"]
    for word in ("structuring", "limit_exceeded", al["structuring"][:16], "alert-row"):
        assert word not in texts["customer"]

    fake = al["structuring"][:-1] + "9"  # the same transaction, an alert it never raised
    for who, real in (("customer", al["structuring"]), ("customer", al["reviewed"]),
                      ("exporter", al["exporter"]), ("bank1", al["structuring"])):
        with pytest.raises(ClientError) as e:
            _reader(chain, who).get(f"/v1/risk/alerts/{real}")
        assert e.value.status == 404
        got = _open(browser, chain, f"#/alert/{real}", who, ".notfound").text
        assert "Not found or not visible to you" in got and e.value.message in got
        want = _open(browser, chain, f"#/alert/{fake}", who, ".notfound").text
        assert got == want.replace(fake, real)
        assert "structuring" not in got and "reviewed" not in got


def test_a_reviewed_case_shows_it_sealed_and_verifies(chain: te.Chain, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    al = chain.alerts
    ref = al["reviewed"]
    api = _reader(chain, "regulator").get(f"/v1/risk/alerts/{ref}")
    assert api["status"] == "reviewed" and len(api["reviews"]) == 1
    [rv] = api["reviews"]
    # the search box reaches a case by its id
    te._open(browser, chain, "#/", key="regulator")
    te._pin_genesis(browser, chain)
    q = browser.find_element(By.ID, "q")
    q.clear()
    q.send_keys(ref)
    browser.find_element(By.ID, "go").click()
    assert te._css(browser, "#alert-id").text == ref
    view = browser.find_element(By.ID, "view")
    assert _f(view, "status") == "reviewed"
    status = browser.find_element(By.ID, "alert-status").text
    assert "reviewed by bank0" in status and "sealed" in status
    assert "sealed to the regulators and the reviewer; open with chainfin alerts case" in status
    assert _f(view, "reviewed-at") == trade_view._utc(rv["time_ms"])
    alert = view.find_element(By.CSS_SELECTOR, ".rec[data-rec=alert]")
    assert (_f(alert, "rule"), _f(alert, "raised-at"), _f(alert, "block"), _f(alert, "amount")) \
        == ("limit_exceeded", trade_view._utc(api["time_ms"]), f"#{api['height']}", "USD 15.00")
    assert CUSTOMER_NAME in _f(alert, "accounts")
    assert alert.find_element(By.CSS_SELECTOR, "[data-f=tx] a").get_attribute(
        "href").endswith("#/tx/" + api["tx_id"])
    assert _f(alert, "tx-status") == "rejected" and "settlement.transfer" in _f(alert, "tx")
    review = view.find_element(By.CSS_SELECTOR, ".rec[data-rec=review]")
    assert "bank0" in review.text and "regulator" in _f(review, "sealed-to")
    assert rv["commitment"] in review.text and _f(review, "state") == "reviewed"

    def no_disposition() -> None:
        html = browser.find_element(By.ID, "view").get_attribute("innerHTML").lower()
        for word in DISPOSITION_WORDS:
            assert word not in html, word

    no_disposition()
    for rec, key in ((alert, f"risk / alert/{ref}"), (review, f"risk / review/{ref}/0")):
        rec.find_element(By.CSS_SELECTOR, "button.verify").click()
        verdict = te._wait(browser, lambda d, rec=rec: rec.find_element(
            By.CSS_SELECTOR, "[data-verdict]"), 30)
        assert verdict.get_attribute("data-verdict") == "valid", verdict.text
        assert f"state key:      {key}" in verdict.text
    no_disposition()  # the proven records carry none either

    # the home bank reads its reviewed case; its Verify gets no state proof (supervisors')
    _open(browser, chain, f"#/alert/{ref}", "bank0", "#alert-id")
    assert "reviewed by bank0" in browser.find_element(By.ID, "alert-status").text
    no_disposition()
    rec = browser.find_element(By.CSS_SELECTOR, ".rec[data-rec=alert]")
    rec.find_element(By.CSS_SELECTOR, "button.verify").click()
    verdict = te._wait(browser, lambda d: rec.find_element(By.CSS_SELECTOR, "[data-verdict]"), 30)
    assert "No proof" in verdict.text and "404" in verdict.text
    # an open case, for its home bank: not reviewed yet, its transaction linked
    _open(browser, chain, f"#/alert/{al['structuring']}", "bank0", "#alert-id")
    assert _f(browser.find_element(By.ID, "view"), "status") == "open"
    assert "not reviewed yet" in browser.find_element(By.ID, "alert-status").text
    assert browser.find_element(By.CSS_SELECTOR, "[data-f=no-reviews]")
    # its pattern (decision 217): the earlier near payments the API names, oldest first, then
    # the alert's own, each a link to its payment page
    case = _reader(chain, "bank0").get(f"/v1/risk/alerts/{al['structuring']}")
    assert case["detail"]["near_limit_txs"] == al["near"]
    own = al["structuring"].rsplit("-", 1)[0]
    links = browser.find_elements(By.CSS_SELECTOR, "#near-limit-txs li a.payment-link")
    assert [a.get_attribute("href").split("#", 1)[1] for a in links] == [
        f"/payment/{t}" for t in (*al["near"], own)]
    assert browser.find_element(By.CSS_SELECTOR, "#near-limit-txs li:last-child [data-f=own]")
    # each with its amount in decimals (a pattern of amounts, not of ids) and its payee
    items = browser.find_elements(By.CSS_SELECTOR, "#near-limit-txs li")
    assert [_f(li, "near-amount") for li in items] == ["USD 9.50", "USD 9.60", "USD 9.90"]
    assert all("importer" in li.text for li in items)
    assert "near_limit_txs" not in browser.find_element(By.ID, "view").text.replace(
        "(near_limit_txs)", "")  # not also as JSON
    links[0].click()  # the oldest: the customer's USD 9.50, as its bank reads it
    te._wait(browser, lambda d: d.find_element(By.ID, "payment-id").text == al["near"][0])
    assert "USD 9.50" in browser.find_element(By.CSS_SELECTOR, "#payment [data-f=amount]").text


def test_the_queue_follows_the_pages_event_stream(chain: te.Chain, browser: Any) -> None:
    """An open queue page re-reads the queue when its one event stream brings a block with an
    alert raised or a review recorded (not per block: each read of another's data is logged):
    the home bank's page gets its customer's new alert, the regulator's a refused payment's
    kept alert, and loses the alert the regulator reviews — all without a reload."""
    from selenium.webdriver.common.by import By

    al = chain.alerts

    def follow(who: str) -> None:
        _open(browser, chain, "#/alerts", who, "#alerts-queue tr.alert-row")
        te._wait(browser, lambda d: d.find_element(By.ID, "live").text == "live")
        browser.execute_script("window.__same_page = 1")

    def row_of(alert: str) -> Any:
        row = te._css(browser, f"tr.alert-row[data-alert='{alert}']", 15)
        assert browser.execute_script("return window.__same_page") == 1  # not reloaded
        return row

    follow("bank0")
    new = _pay(chain, "customer", 995) + "-0"  # a 4th payment near the cap: structuring again
    assert _f(row_of(new), "rule") == "structuring"
    assert _check_queue(browser, chain, "bank0") == [al["structuring"], new]

    follow("regulator")
    kept = _pay(chain, "customer", 1200, "rejected") + "-0"  # refused: its alert is kept
    assert _f(row_of(kept), "rule") == "limit_exceeded"
    assert _check_queue(browser, chain, "regulator") == [al["structuring"], al["exporter"], new,
                                                         kept]
    seal_to = _reader(chain, "regulator").get(f"/v1/risk/alerts/{new}")["seal_to"]
    record = cli_alerts.review_record(new, "escalated", b"passed to the MLRO", None)
    _call(chain, "regulator", "risk", "review_alert", cli_alerts.review_args(record, seal_to))
    te._wait(browser, lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"tr.alert-row[data-alert='{new}']"))
    assert browser.execute_script("return window.__same_page") == 1
    assert _check_queue(browser, chain, "regulator") == [al["structuring"], al["exporter"], kept]
    assert re.fullmatch(r"\d+h\d\dm", _f(row_of(kept), "age"))


def test_a_banks_page_counts_pages_and_follows_a_regulators_review(
        chain: te.Chain, browser: Any) -> None:
    """The home bank's page: its customers' open and reviewed counts (the API's), its queue a
    page at a time following the API's cursor (a page size of 1 here), and a regulator's review
    of its customer's alert taking the row off and counting it reviewed without a reload: the
    ``alert_reviewed`` event, which names the regulator only, now reaches the home bank's
    stream. Before decision 165 a bank had no counts, no cursor, and its page learnt of a
    regulator's review on a reload."""
    from selenium.webdriver.common.by import By

    _open(browser, chain, "#/alerts", "bank0", "#alerts-queue tr.alert-row")
    want = _check_queue(browser, chain, "bank0")
    assert len(want) >= 2, want  # (the earlier tests leave two or more open)
    api = _reader(chain, "bank0").get("/v1/risk/alerts/queue")
    # a page at a time: one row a page, the next link following the API's cursor
    browser.execute_script("window.chainfinExplorer.alerts.pageSize = 1;"
                           "location.hash = '#/alerts/after/-1.-1'")
    shown, after = [], "-1.-1"
    for _ in range(len(want)):
        te._wait(browser, lambda d, a=after: d.execute_script(
            "return location.hash") == f"#/alerts/after/{a}" and _page_queue(d).get(
            "next", "x") != "x" and d.find_elements(By.CSS_SELECTOR, "tr.alert-row"))
        page = _reader(chain, "bank0").get(f"/v1/risk/alerts/queue?limit=1&after={after}")
        rows = browser.find_elements(By.CSS_SELECTOR, "#alerts-queue tr.alert-row")
        assert [r.get_attribute("data-alert") for r in rows] == [a["alert"] for a in
                                                                 page["alerts"]]
        counts = browser.find_element(By.ID, "alerts-counts")
        assert (int(_f(counts, "open")), int(_f(counts, "reviewed"))) == (
            api["counts"]["open"], api["counts"]["reviewed"])
        assert int(_f(counts, "shown")) == 1
        shown += [r.get_attribute("data-alert") for r in rows]
        if page["next"] is None:
            assert not browser.find_elements(By.ID, "alerts-next")
            break
        link = browser.find_element(By.ID, "alerts-next")
        assert link.get_attribute("href").endswith(f"#/alerts/after/{page['next']}")
        after = page["next"]
        link.click()
    assert shown == want
    browser.execute_script("window.chainfinExplorer.alerts.pageSize = 100;"
                           "location.hash = '#/alerts'")
    te._wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.alert-row"))
             == len(want))
    te._wait(browser, lambda d: d.find_element(By.ID, "live").text == "live")
    browser.execute_script("window.__same_page = 1")

    # a regulator reviews the customer's oldest open alert: the bank's page drops it
    target = want[0]
    seal_to = _reader(chain, "regulator").get(f"/v1/risk/alerts/{target}")["seal_to"]
    record = cli_alerts.review_record(target, "reported", b"filed with the FIU", "FIU-2")
    _call(chain, "regulator", "risk", "review_alert", cli_alerts.review_args(record, seal_to))
    te._wait(browser, lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"tr.alert-row[data-alert='{target}']"))
    assert browser.execute_script("return window.__same_page") == 1  # not reloaded
    counts = browser.find_element(By.ID, "alerts-counts")
    assert (int(_f(counts, "open")), int(_f(counts, "reviewed"))) == (
        api["counts"]["open"] - 1, api["counts"]["reviewed"] + 1)
    assert _check_queue(browser, chain, "bank0") == want[1:]
