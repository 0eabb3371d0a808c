"""The explorer's payment and credit pages (decision 186) mirror the contracts' words: the ISO
reason codes `app.js` names (camt.056, camt.029, pacs.004) are
``contracts/settlement_recall.py``'s, its access report reads as many entries as ``chainfin
credit report``, and the routes the pages are reached by are wired (the browser test,
tests/browser/test_payment_credit_pages.py, checks what each reader sees)."""

from __future__ import annotations

import json
import re

from chainfin import cli_credit
from contracts import settlement_recall
from node.api import STATIC_DIR

APP = (STATIC_DIR / "app.js").read_text()


def _js_table(name: str) -> dict[str, str]:
    m = re.search(r"const " + name + r" = (\{.*?\});", APP, re.S)
    assert m, name
    body = re.sub(r"(\b[A-Z0-9]{4}\b):", r'"\1":', m[1].replace("\n", " "))
    return dict(json.loads(body))


def test_the_reason_codes_are_the_contracts() -> None:
    assert _js_table("RECALL_REASONS") == {
        k: words for k, (words, _) in settlement_recall.RECALL_REASONS.items()}
    assert _js_table("REJECT_REASONS") == settlement_recall.REJECT_REASONS
    assert _js_table("RETURN_REASONS") == settlement_recall.RETURN_REASONS


def test_the_access_report_reads_what_the_cli_reads() -> None:
    m = re.search(r"const CREDIT_LATEST = (\d+);", APP)
    assert m and int(m[1]) == cli_credit.REPORT_LATEST


def test_the_pages_are_routed_and_linked() -> None:
    for page in ('page === "payment"', 'page === "credit"', 'href="#/payment/',
                 '"#/payment/" + (await identityIdOf'):
        assert page in APP, page
    html = (STATIC_DIR / "index.html").read_text()
    assert '<a id="credit-link" href="#/credit" hidden>' in html
