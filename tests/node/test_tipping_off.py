"""No tipping off (FATF Recommendation 21; decision 144): a monitoring alert on an account —
structuring, a round trip, any rule that does not refuse — reaches the account's home bank and
the supervisors, never the account holder, by any route; a watch-list refusal tells its sender
the code, not which party. One test per route, each failing on the code before decision 144;
then the alert review (decision 145) end to end through the real REST routes and the CLI.

The world is the trade cluster (the ``desk`` fixture): ``auditor`` is a regulator, ``bank_a``..
``bank_c`` validators, and ``bank_d`` (no validator) the home bank of ``customer`` (the same
BIC)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli, cli_alerts, proofs
from contracts import risk
from tests.fixtures import Desk, key_file
from tests.node.test_access import ANY_ID, get_as
from tests.node.test_access_privacy import bank_d_and_its_customer, in_one_block, sse_items

#: what a sender reads of a watch-list refusal (node.access.WITHHELD_MESSAGES, docs/risk.md)
WITHHELD = ("refused for compliance reasons (a watch-list check); the sender's bank can say "
            "more")


def pk(d: Desk, who: str) -> str:
    return d.ids[who].public_key.hex()


def pay(d: Desk, frm: str, to: str, amount: int) -> Any:
    return d.tx(frm, "settlement", "transfer", {"to": pk(d, to), "currency": "USD",
                                                "amount": amount})


async def structuring(d: Desk) -> dict[str, Any]:
    """``customer`` (home bank bank_d) under a 1,000 per-payment limit pays the importer three
    times just under it: the third payment raises a ``structuring`` alert. Its outcome."""
    await bank_d_and_its_customer(d)
    await d.commit(d.issue(1_000_000, "customer"))
    await d.commit(d.issue(1_000_000, "importer"))
    out = await d.commit(d.tx("auditor", "risk", "set_limit", {
        "subject": pk(d, "customer"), "kind": "max_per_tx", "currency": "USD", "max": 1000,
        "rule_id": "cap"}))
    assert out["status"] == "committed", out
    for amount in (950, 960):
        assert (await d.commit(pay(d, "customer", "importer", amount)))["status"] == "committed"
    out = await d.commit(pay(d, "customer", "importer", 990))
    assert out["status"] == "committed", out
    return out


async def missing(d: Desk, path: str, real: str) -> tuple[int, Any]:
    """What a refusal must be: the regulator's answer for ``path`` with ``real`` replaced by an
    id of nothing, ``real`` put back."""
    st, body = await get_as(d, "auditor", path.replace(real, ANY_ID))
    assert st == 404, body
    return 404, json.loads(json.dumps(body).replace(ANY_ID, real))


async def watch_exporter2(d: Desk) -> None:
    digest = risk.watch_digest(risk.watch_key(d.genesis.fingerprint_key_bytes()), "id",
                               pk(d, "exporter2"))
    out = await d.commit(d.tx("auditor", "risk", "add_watch", {"entries": [digest]}))
    assert out["status"] == "committed", out


# ------------------------------------------------------------------------ REST state, risk route


async def test_the_owner_reads_neither_its_alerts_nor_its_pattern_memory(desk: Desk) -> None:
    d = desk
    await structuring(d)
    cust = pk(d, "customer")
    for path in (f"/v1/state/risk/alerts/{cust}", f"/v1/state/risk/stats/{cust}/USD"):
        assert await get_as(d, "customer", path) == await missing(d, path, cust), path
        for who in ("bank_d", "auditor"):
            st, body = await get_as(d, who, path)
            assert st == 200, (who, path, body)
    st, body = await get_as(d, "bank_d", f"/v1/state/risk/alerts/{cust}")
    assert [a["rule"] for a in body["value"]] == ["structuring"]
    # its own limits and their usage stay the owner's to read
    for path in (f"/v1/state/risk/profile/{cust}", f"/v1/state/risk/use/{cust}"):
        if (await get_as(d, "auditor", path))[0] == 200:
            assert (await get_as(d, "customer", path))[0] == 200, path


async def test_the_risk_account_route_shows_the_owner_no_alerts(desk: Desk) -> None:
    d = desk
    await structuring(d)
    path = f"/v1/risk/accounts/{pk(d, 'customer')}"
    st, own = await get_as(d, "customer", path)
    assert st == 200 and [r["rule_id"] for r in own["rules"]] == ["cap"], own
    assert "alerts" not in own and "structuring" not in json.dumps(own), own
    for who in ("bank_d", "auditor"):
        st, body = await get_as(d, who, path)
        assert st == 200 and [a["rule"] for a in body["alerts"]] == ["structuring"], (who, body)


# ------------------------------------------------------------------------------ events (SSE)


async def _until(resp: Any, pred: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async for item in sse_items(resp):
        seen.append(item)
        if pred(item):
            return seen
    raise AssertionError(f"the stream ended first: {seen}")


def _block_with(amount: int) -> Any:
    return lambda i: i["type"] == "block" and any(
        e["data"].get("amount") == amount and e["name"] == "transferred" for e in i["events"])


async def test_the_event_stream_sends_no_monitoring_alert_to_its_subject(desk: Desk) -> None:
    """The customer's stream carries its own payments, never the ``structuring`` alert on them
    nor a watch-list refusal's alert; its home bank's carries both."""
    d = desk
    await bank_d_and_its_customer(d)
    await watch_exporter2(d)
    async with d.http.get("/v1/events", as_=d.ids["customer"]) as own, \
            d.http.get("/v1/events", as_=d.ids["bank_d"]) as bank:
        await structuring_payments(d)
        refused = await d.commit(pay(d, "customer", "exporter2", 5))
        assert refused["error"]["code"] == "sanctioned_party", refused
        await d.commit(pay(d, "customer", "importer", 7))  # a later block naming the customer
        got_own = await asyncio.wait_for(_until(own, _block_with(7)), 10)
        got_bank = await asyncio.wait_for(_until(bank, lambda i: i["type"] == "alert"
                                                 and i["rule"] == "sanctioned_party"), 10)
    assert [i["type"] for i in got_own if i["type"] == "block"]  # it did read its blocks
    assert [i for i in got_own if i["type"] == "alert"] == [], got_own
    assert all(e["name"] != "alert" for i in got_own if i["type"] == "block"
               for e in i["events"]), got_own
    assert [i["rule"] for i in got_bank if i["type"] == "alert"] == ["structuring",
                                                                     "sanctioned_party"]


async def structuring_payments(d: Desk) -> None:
    await d.commit(d.issue(1_000_000, "customer"))
    out = await d.commit(d.tx("auditor", "risk", "set_limit", {
        "subject": pk(d, "customer"), "kind": "max_per_tx", "currency": "USD", "max": 1000,
        "rule_id": "cap"}))
    assert out["status"] == "committed", out
    for amount in (950, 960, 990):
        assert (await d.commit(pay(d, "customer", "importer", amount)))["status"] == "committed"


# ----------------------------------------------------------------------------- a transaction


async def test_a_party_does_not_read_the_round_trip_alert_naming_it(desk: Desk) -> None:
    """The importer pays the customer back: a ``round_trip`` alert naming both. The customer,
    a party to the importer's payment, reads its own ``transferred`` event and not the alert;
    its home bank reads the alert in the account's list."""
    d = desk
    await structuring(d)
    out = await d.commit(pay(d, "importer", "customer", 500))
    assert out["status"] == "committed", out
    st, proof = await get_as(d, "auditor", f"/v1/proofs/tx/{out['tx_id']}")
    assert [e["data"]["rule"] for e in proof["receipt"]["events"] if e["name"] == "alert"] == [
        "round_trip"]
    st, body = await get_as(d, "customer", f"/v1/tx/{out['tx_id']}")
    assert st == 200, body
    assert [e["name"] for e in body["events"]] == ["transferred"], body
    st, body = await get_as(d, "bank_d", f"/v1/risk/accounts/{pk(d, 'customer')}")
    assert [a["rule"] for a in body["alerts"]] == ["structuring", "round_trip"]


async def refused_payment(d: Desk) -> dict[str, Any]:
    """``customer`` pays the watched exporter2: refused ``sanctioned_party``. Its outcome as
    ``POST /v1/tx?wait=commit`` answered it."""
    await bank_d_and_its_customer(d)
    await d.commit(d.issue(1_000, "customer"))
    await watch_exporter2(d)
    out = await d.commit(pay(d, "customer", "exporter2", 5))
    assert out["status"] == "rejected", out
    return out


async def test_a_watch_list_refusal_answers_its_submitter_the_code_not_the_detail(
        desk: Desk) -> None:
    """``POST /v1/tx?wait=commit``: the code ``sanctioned_party``, a generic message."""
    out = await refused_payment(desk)
    assert out["error"] == {"code": "sanctioned_party", "message": WITHHELD}, out


async def test_a_watch_list_refusal_reads_generic_to_its_sender_only(desk: Desk) -> None:
    """``GET /v1/tx``: the sender reads the code and a generic message; its home bank and the
    supervisors read the receipt as recorded, which is unchanged on chain."""
    d = desk
    out = await refused_payment(d)
    st, body = await get_as(d, "customer", f"/v1/tx/{out['tx_id']}")
    assert st == 200 and body["error"] == {"code": "sanctioned_party", "message": WITHHELD}
    for who in ("bank_d", "auditor"):
        st, body = await get_as(d, who, f"/v1/tx/{out['tx_id']}")
        assert st == 200 and body["error"]["code"] == "sanctioned_party", (who, body)
        assert body["error"]["message"] != WITHHELD, (who, body)
    st, proof = await get_as(d, "auditor", f"/v1/proofs/tx/{out['tx_id']}")
    assert proof["receipt"]["error"]["message"] == body["error"]["message"]  # on chain as it was


async def test_a_watch_list_refusal_on_the_tx_stream_is_generic(desk: Desk) -> None:
    """``/v1/tx/stream`` (WebSocket): the answer carries the code and a generic message."""
    d = desk
    await refused_payment(d)
    async with d.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps(pay(d, "customer", "exporter2", 6).to_json()))
        [answer] = json.loads((await asyncio.wait_for(ws.receive(), 15)).data)
    assert answer["status"] == "rejected", answer
    assert answer["error"] == {"code": "sanctioned_party", "message": WITHHELD}, answer


async def beside(d: Desk, tx: Any) -> dict[str, Any]:
    """``tx`` committed in one block with an issue to the exporter (another identity's
    transaction); its outcome."""
    return (await in_one_block(d, tx, d.issue(1, "exporter")))[0]


async def test_in_format_3_the_sender_gets_an_inclusion_only_proof_alert_or_not(
        desk3: Desk) -> None:
    """Decision 147. The sender gets its transaction's proof without the receipt (which holds
    the alerts it raised), for a payment that raised an alert and one that did not alike: the
    same fields, the same verdict but for the ids, the outcome "not proven". Its home bank and
    the supervisors get the whole proof, alerts included."""
    d = desk3
    await bank_d_and_its_customer(d)
    await structuring_payments_but_the_last(d)
    loud = await beside(d, pay(d, "customer", "importer", 990))
    quiet = await beside(d, pay(d, "customer", "importer", 5))
    shapes, verdicts = [], []
    for out, alerts in ((loud, ["structuring"]), (quiet, [])):
        path = f"/v1/proofs/tx/{out['tx_id']}"
        st, doc = await get_as(d, "customer", path)
        assert st == 200, doc
        assert not {"receipt", "receipt_encoding", "receipt_path"} & set(doc), doc
        assert "structuring" not in json.dumps(doc)
        v = proofs.verify_proof(d.genesis, proofs.parse_document(json.dumps(doc)))
        assert v.inclusion_only and v.receipt is None and v.tx_id.hex() == out["tx_id"]
        lines = v.lines()
        assert f"outcome:        {proofs.NOT_PROVEN}" in lines
        assert not [x for x in lines if "committed" in x or "rejected" in x], lines
        shapes.append(shape(doc))
        verdicts.append([x.split(":")[0] for x in lines])
        for who in ("bank_d", "auditor"):
            st, full = await get_as(d, who, path)
            assert st == 200, (who, full)
            assert [e["data"]["rule"] for e in full["receipt"]["events"]
                    if e["name"] == "alert"] == alerts, (who, full)
            assert proofs.inclusion_only(full) == doc  # the sender's is the whole one, cut
            assert proofs.verify_proof(d.genesis, full).receipt["status"] == "committed"
    assert shapes[0] == shapes[1] and verdicts[0] == verdicts[1]


async def test_the_sender_gets_no_proof_of_a_block_holding_only_its_own_transactions(
        desk3: Desk) -> None:
    """An inclusion-only proof still shows the header, and the header's receipts_root: in a
    block of the sender's transactions only, the sender knows every receipt leaf but for the
    alerts (its transaction leaf, what it reads of the outcome, its own events), so it could
    hash the receipt "without an alert" and compare. Shown here with the auditor's proof, then
    refused: the sender gets a missing proof's answer for such a block, alert or not."""
    from chainfin import codec, merkle

    d = desk3
    await bank_d_and_its_customer(d)
    await structuring_payments_but_the_last(d)
    loud = await d.commit(pay(d, "customer", "importer", 990))  # alone in its block
    quiet = await d.commit(pay(d, "customer", "importer", 5))
    for out, raised in ((loud, True), (quiet, False)):
        path = f"/v1/proofs/tx/{out['tx_id']}"
        st, full = await get_as(d, "auditor", path)
        assert st == 200 and full["block"]["header"]["tx_count"] == 1, full
        tx = proofs.verify_proof(d.genesis, full).tx
        guess = codec.decode(bytes.fromhex(full["receipt_encoding"]))
        guess["events"] = [e for e in guess["events"] if e["name"] != "alert"]
        root = merkle.root([tx.leaf() + codec.encode(guess)]).hex()
        assert (root != full["block"]["header"]["receipts_root"]) is raised  # the oracle
        assert await get_as(d, "customer", path) == await missing(d, path, out["tx_id"])
    # two of its own transactions in one block: no proof either (it knows both leaves)
    a, _ = await in_one_block(d, pay(d, "customer", "importer", 7),
                              pay(d, "customer", "importer", 8))
    path = f"/v1/proofs/tx/{a['tx_id']}"
    assert await get_as(d, "customer", path) == await missing(d, path, a["tx_id"])


async def structuring_payments_but_the_last(d: Desk) -> None:
    """:func:`structuring` up to the payment that raises the alert (990 under the 1,000 cap)."""
    await d.commit(d.issue(1_000_000, "customer"))
    await d.commit(d.issue(1_000_000, "importer"))
    out = await d.commit(d.tx("auditor", "risk", "set_limit", {
        "subject": pk(d, "customer"), "kind": "max_per_tx", "currency": "USD", "max": 1000,
        "rule_id": "cap"}))
    assert out["status"] == "committed", out
    for amount in (950, 960):
        assert (await d.commit(pay(d, "customer", "importer", amount)))["status"] == "committed"


def shape(v: Any) -> Any:
    """A JSON document's shape: its field names and nesting, lists by their first item."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


# -------------------------------------------------------------------------- chainfin alerts


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINFIN_KEY", raising=False)


async def test_chainfin_alerts_prints_the_account_holder_nothing(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await structuring(d)
    base = str(d.http.make_url("")).rstrip("/")
    own = key_file(d.ids["customer"], tmp_path)
    assert await asyncio.to_thread(cli.main, ["alerts", "--node", base, "--key", own]) == 0
    printed = capsys.readouterr()
    assert printed.out == "" and "no past alerts" in printed.err, printed
    # its home bank's key: its customers' open alerts
    bank = key_file(d.ids["bank_d"], tmp_path)
    assert await asyncio.to_thread(cli.main, ["alerts", "--node", base, "--key", bank]) == 0
    printed = capsys.readouterr()
    assert "structuring" in printed.out and "customers' open alerts" in printed.err, printed


# ---------------------------------------------------------------- the alert review, end to end


async def test_a_home_bank_reviews_its_customers_alert_through_rest_and_the_cli(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    out = await structuring(d)
    base = str(d.http.make_url("")).rstrip("/")
    alert = out["tx_id"] + "-0"
    # the queue: the home bank's and the supervisors', with the alert's age; not the subject's
    for who in ("bank_d", "auditor"):
        st, q = await get_as(d, who, "/v1/risk/alerts/queue")
        assert st == 200 and [a["alert"] for a in q["alerts"]] == [alert], (who, q)
        assert q["alerts"][0]["rule"] == "structuring" and q["alerts"][0]["age_ms"] >= 0
    assert q["open"] == 1
    st, q = await get_as(d, "bank_b", "/v1/risk/alerts/queue")  # not its customer
    assert st == 200 and q["alerts"] == [], q
    assert (await get_as(d, "customer", "/v1/risk/alerts/queue"))[0] == 404
    case = f"/v1/risk/alerts/{alert}"
    for path in (case, f"/v1/state/risk/alert/{alert}", "/v1/state/risk/queue/*/0"):
        st, _ = await get_as(d, "customer", path)
        assert st == 404, path
    async with d.http.get("/metrics") as r:
        assert "chainfin_risk_alerts_open 1\n" in await r.text()

    # the compliance officer's CLI: the queue, then a review with a note kept off chain
    bank = key_file(d.ids["bank_d"], tmp_path)
    assert await asyncio.to_thread(cli.main, ["alerts", "queue", "--node", base,
                                              "--key", bank]) == 0
    assert f"alert {alert}" in capsys.readouterr().out
    note = tmp_path / "note.txt"
    note.write_text("called the customer's RM: seasonal stock purchases, invoices on file\n")
    argv = ["alerts", "review", "--node", base, "--key", bank, "--alert", alert,
            "--disposition", "false_positive", "--note", str(note)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "committed" and result["result"]["status"] == "reviewed", result
    assert await asyncio.to_thread(cli.main, argv) == 1  # a second review: case_closed
    assert "case_closed" in capsys.readouterr().err
    # the bank's queue is empty now, and says so (it printed nothing at all)
    assert await asyncio.to_thread(cli.main, ["alerts", "queue", "--node", base,
                                              "--key", bank]) == 0
    printed = capsys.readouterr()
    assert printed.out == "" and "0 open alerts of this bank's customers" in printed.err, printed

    st, body = await get_as(d, "bank_d", case)
    assert st == 200 and body["status"] == "reviewed", body
    [rv] = body["reviews"]
    assert rv["by"] == pk(d, "bank_d") and rv["state"] == "reviewed"
    assert "disposition" not in rv and "note_sha256" not in rv  # sealed (decision 151)
    assert set(rv["sealed"]) == {pk(d, "bank_d"), pk(d, "auditor")} == set(body["seal_to"])
    # a validating bank that is not the reviewer reads the block: no disposition in it
    st, tx = await get_as(d, "bank_b", f"/v1/tx/{result['tx_id']}")
    assert st == 200, tx
    st, block = await get_as(d, "bank_b", f"/v1/blocks/{tx['height']}")
    assert st == 200, block
    text = json.dumps(block)
    assert "review_alert" in text or result["tx_id"] in text
    for secret in ("false_positive", hashlib.sha256(note.read_bytes()).hexdigest()):
        assert secret not in text and secret not in json.dumps(tx)
    assert (await get_as(d, "bank_b", case))[0] == 404  # not its customer's
    # the reviewer and the supervisor open it with `chainfin alerts case`; the commitment holds
    for who in ("bank_d", "auditor"):
        key = bank if who == "bank_d" else key_file(d.ids[who], tmp_path)
        assert await asyncio.to_thread(cli.main, ["alerts", "case", "--node", base, "--key",
                                                  key, "--alert", alert, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        [row] = doc["reviews"]
        assert row["disposition"] == "false_positive", (who, doc)
        assert row["note_sha256"] == hashlib.sha256(note.read_bytes()).hexdigest()
        assert row["check"].startswith("ok"), row
    for who in ("bank_d", "auditor"):
        st, q = await get_as(d, who, "/v1/risk/alerts/queue")
        assert st == 200 and q["alerts"] == [], (who, q)
    async with d.http.get("/metrics") as r:
        assert "chainfin_risk_alerts_open 0\n" in await r.text()
    # the review transaction is the reviewer's: the subject is no party to it
    assert (await get_as(d, "customer", f"/v1/tx/{result['tx_id']}"))[0] == 404
    assert (await get_as(d, "customer", case))[0] == 404


async def test_the_subject_cannot_review_nor_learn_its_alert_exists(desk: Desk) -> None:
    d = desk
    out = await structuring(d)
    for ref in (out["tx_id"] + "-0", out["tx_id"] + "-9"):
        r = await d.commit(d.tx("customer", "risk", "review_alert", {
            "alert": ref, "state": "reviewed", "commitment": "00" * 32,
            "sealed": {pk(d, "customer"): "00" * 560}}))
        assert r["status"] == "rejected" and r["error"]["code"] == "unknown_alert", r


async def test_alerts_case_reports_a_box_that_does_not_match_its_commitment(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dishonest reviewer commits to ``reported`` and seals ``false_positive`` to the
    supervisor (decision 151): the ledger cannot see it, ``chainfin alerts case`` with the
    supervisor's key does (exit 1); the reviewer's own box still checks. A validating bank
    other than the reviewer reads no case."""
    d = desk
    out = await structuring(d)
    base = str(d.http.make_url("")).rstrip("/")
    alert = out["tx_id"] + "-0"
    st, case = await get_as(d, "bank_d", f"/v1/risk/alerts/{alert}")
    assert st == 200 and case["status"] == "open", case
    honest = cli_alerts.review_record(alert, "reported", b"grounds", "FIU-1")
    lie = dict(honest, disposition="false_positive", report_sha256=None)
    call = cli_alerts.review_args(honest, case["seal_to"])
    call["sealed"][pk(d, "auditor")] = cli_alerts.review_args(lie, case["seal_to"])[
        "sealed"][pk(d, "auditor")]
    r = await d.commit(d.tx("bank_d", "risk", "review_alert", call))
    assert r["status"] == "committed", r
    auditor = key_file(d.ids["auditor"], tmp_path)
    argv = ["alerts", "case", "--node", base, "--alert", alert, "--key"]
    assert await asyncio.to_thread(cli.main, [*argv, auditor]) == 1
    printed = capsys.readouterr()
    assert "FAILED: the sealed record does not match the review's commitment" in printed.out
    assert "1 sealed review(s) fail their check" in printed.err
    bank = key_file(d.ids["bank_d"], tmp_path)
    assert await asyncio.to_thread(cli.main, [*argv, bank]) == 0
    printed = capsys.readouterr()
    assert "disposition reported" in printed.out and "ok: matches" in printed.out, printed
    other = key_file(d.ids["bank_b"], tmp_path)
    assert await asyncio.to_thread(cli.main, [*argv, other]) != 0
    assert "no alert" in capsys.readouterr().err
