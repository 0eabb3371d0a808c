"""Alert review (decision 145, contracts/risk_cases.py): every alert opens a case with a stable
id, queued for its accounts' home banks and the supervisors; a compliance officer of the home
bank or a regulator records dispositions; a reviewed case is reopened only by a regulator; the
queue and its backlog are read from bounded state. Every test fails on the code before it (no
``risk.review_alert``, no case).

Decision 151: the disposition is sealed to the regulators and the reviewer; on chain only
``open`` / ``reviewed`` and a commitment (the sealing tests are in
tests/unit/test_alert_review_sealed.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chainfin import cli_alerts
from chainfin.errors import ChainfinError
from chainfin.execution import Overlay, Receipt, TxContext, bic_key, resolve_sender
from contracts import risk, risk_cases
from contracts.testing import Ledger

S, R, G = "settlement", "risk", "governance"
NOTE_TEXT = b"reviewed the invoices: trade is genuine"
NOTE = hashlib.sha256(NOTE_TEXT).hexdigest()
STR_REF = "FIU-2026-000123"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    for who in ("bank_a", "exporter", "importer"):
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(who), amount=1_000_000)
    return led


def customer(L: Ledger, name: str = "acme", by: str = "bank_a", bic: str = "BANK_A") -> str:
    """An exporter registered by the admin bank ``by`` under ``bic``: its home bank."""
    pk = L.add_identity(name).public_key.hex()
    L.ok(by, G, "register_identity", pubkey=pk, name=name.upper(), role="exporter", bank=bic)
    L.ok("usd_issuer", S, "issue", currency="USD", to=pk, amount=100_000)
    return pk


def structure(L: Ledger, who: str) -> str:
    """Three payments just under a 1,000 per-payment limit: a structuring alert; its id."""
    L.ok("regulator", R, "set_limit", subject=L.pk(who), kind="max_per_tx", currency="USD",
         max=1000, rule_id="cap")
    for amount in (950, 960):
        L.ok(who, S, "transfer", to=L.pk("importer"), currency="USD", amount=amount)
    r = L.tx(who, S, "transfer", to=L.pk("importer"), currency="USD", amount=990)
    assert r.status == "committed"
    [alert] = [e.data for e in r.events if e.name == "alert"]
    assert alert["rule"] == "structuring"
    return str(alert["alert"])


def seal_to(L: Ledger, who: str) -> list[str]:
    """The keys a review by ``who`` is sealed to: the regulators' current keys and its own."""
    keys = {L.pk(who)}
    for r in L.get(G, "regulators") or []:
        keys.add((L.get(G, "id/" + r) or {}).get("key", r))
    return sorted(keys)


def review_call(L: Ledger, who: str, alert: str, disposition: str,
                report_ref: str | None = None) -> dict[str, Any]:
    """The arguments ``chainfin alerts review`` sends (cli_alerts.review_args)."""
    if disposition == "reported" and report_ref is None:
        report_ref = STR_REF
    record = cli_alerts.review_record(alert, disposition, NOTE_TEXT, report_ref)
    return cli_alerts.review_args(record, seal_to(L, who))


def review(L: Ledger, who: str, alert: str, disposition: str, **extra: Any) -> Receipt:
    return L.tx(who, R, "review_alert", **review_call(L, who, alert, disposition) | extra)


def disposition(L: Ledger, who: str, alert: str, n: int) -> str:
    """Review ``n`` of ``alert`` as ``who`` opens it (a regulator, the reviewer)."""
    rec = cli_alerts.open_review(L.ids[who], alert, L.get(R, f"review/{alert}/{n}"))
    assert rec is not None
    return str(rec["disposition"])


def queue(L: Ledger, q: str) -> list[str]:
    page, _ = risk_cases.queue_page(L.get, q, 100)
    return [rec["alert"] for _, rec in page]


def test_an_alert_opens_a_case_with_a_stable_id_queued_for_its_home_bank_and_supervisors(
        L: Ledger) -> None:
    acme = customer(L)
    alert = structure(L, "acme")
    tx_id, _, n = alert.rpartition("-")
    assert len(tx_id) == 64 and n == "0"
    rec = L.get(R, "alert/" + alert)
    assert rec["rule"] == "structuring" and rec["accounts"] == [acme] and rec["status"] == "open"
    assert rec["tx_id"] == tx_id and rec["reviews"] == 0 and rec["detail"]["amount"] == 990
    assert set(rec["queues"]) == {"*", "id:" + L.pk("bank_a"), "bic:" + bic_key("BANK_A")}
    for q in rec["queues"]:
        assert queue(L, q) == [alert]
    assert L.get(R, "queue/*")["open"] == 1
    # the account's latest alerts name the case
    assert L.get(R, f"alerts/{acme}")[-1]["alert"] == alert


def test_the_home_bank_reviews_and_the_case_leaves_every_queue(L: Ledger) -> None:
    customer(L)
    alert = structure(L, "acme")
    out = L.ok("bank_a", R, "review_alert", **review_call(L, "bank_a", alert, "false_positive"))
    assert out == {"alert": alert, "status": "reviewed", "review": 0}
    rec = L.get(R, "alert/" + alert)
    assert rec["status"] == "reviewed" and rec["reviews"] == 1
    rv = L.get(R, f"review/{alert}/0")
    assert rv["by"] == L.pk("bank_a") and rv["state"] == "reviewed" and "disposition" not in rv
    assert rv["height"] == L.height and rv["time_ms"] == L.now_ms
    for who in ("bank_a", "regulator"):
        opened = cli_alerts.open_review(L.ids[who], alert, rv)
        assert opened is not None and opened["disposition"] == "false_positive"
        assert opened["note_sha256"] == NOTE and opened["report_sha256"] is None
    for q in rec["queues"]:
        assert queue(L, q) == []
        assert L.get(R, "queue/" + q)["open"] == 0
    assert L.get(R, "queue/*")["head"] == 1  # the head moved past the reviewed entry


def test_only_the_home_bank_or_a_regulator_reviews(L: Ledger) -> None:
    """The subject itself, another bank, an auditor that is no regulator, a validator: all
    answered ``unknown_alert`` — the same as for an alert that does not exist, so nobody but a
    regulator learns from a refusal whether an alert exists."""
    customer(L)
    alert = structure(L, "acme")
    for who in ("acme", "bank_b", "auditor", "importer", "exporter"):
        r = review(L, who, alert, "closed")
        assert r.error_code == "unknown_alert", (who, r.error_code)
        other = "ab" * 32 + "-0"
        assert str(r.error_message).replace(alert, other) == review(
            L, who, other, "closed").error_message
    assert review(L, "bank_a", alert, "escalated").status == "committed"
    # an escalation is a review like any other (its public state: reviewed): only a regulator
    # reviews the case again
    assert review(L, "bank_a", alert, "reported").error_code == "case_closed"
    assert review(L, "regulator", alert, "closed").status == "committed"


def test_a_bank_with_the_customers_bic_is_its_home_bank_too(L: Ledger) -> None:
    customer(L, "acme", by="bank_a", bic="BANK_E")  # registered by bank_a, banks with bank_e
    alert = structure(L, "acme")
    assert "bic:" + bic_key("BANK_E") in L.get(R, "alert/" + alert)["queues"]
    assert review(L, "bank_e", alert, "escalated").status == "committed"


def test_alerts_naming_no_account_are_for_regulators_alone(L: Ledger) -> None:
    key = risk.watch_key(bytes.fromhex(str(L.genesis.fingerprint_key)))
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(key, "Rosneft Trading"))
    pk = L.add_identity("rt").public_key.hex()
    r = L.tx("bank_a", G, "register_identity", pubkey=pk, name="Rossneft Treyding",
             role="exporter", bank="BANK_A")
    assert r.status == "committed"
    [alert] = [e.data["alert"] for e in r.events if e.name == "alert"]
    assert L.get(R, "alert/" + alert)["queues"] == {"*": 0}
    assert review(L, "bank_a", alert, "closed").error_code == "unknown_alert"
    assert review(L, "regulator", alert, "closed").status == "committed"


def test_bad_shapes_are_refused(L: Ledger) -> None:
    customer(L)
    alert = structure(L, "acme")
    good = review_call(L, "bank_a", alert, "reported")
    box = next(iter(good["sealed"].values()))
    regulator_key = L.pk("regulator")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"state": "reported"}, "bad_field"),  # a disposition is never a public state
        ({"state": "closed"}, "bad_field"),
        ({"commitment": "not a hash"}, "bad_field"),
        ({"commitment": "ab" * 31}, "bad_field"),
        ({"sealed": {}}, "bad_field"),
        ({"sealed": "ab" * 560}, "bad_field"),
        ({"sealed": {k: v[:-2] for k, v in good["sealed"].items()}}, "bad_field"),  # size
        ({"sealed": {k: v + "00" for k, v in good["sealed"].items()}}, "bad_field"),
        ({"sealed": {k: "zz" * 560 for k in good["sealed"]}}, "bad_field"),
        ({"sealed": {"nokey": box}}, "bad_field"),
        ({"sealed": {k: v for k, v in good["sealed"].items() if k != regulator_key}},
         "missing_recipient"),
        ({"sealed": {**good["sealed"], L.pk("bank_b"): box}}, "bad_field"),  # no third bank
        ({"sealed": {f"{i:064x}": box for i in range(risk_cases.MAX_RECIPIENTS + 1)}},
         "bad_field"),
        ({"disposition": "reported"}, "unknown_field"),  # decision 145's clear text
        ({"note_sha256": NOTE}, "unknown_field"),
        ({"report_sha256": NOTE}, "unknown_field"),
        ({"state": "open"}, "forbidden"),  # only a regulator reopens
    ]
    for change, code in bad:
        r = L.tx("bank_a", R, "review_alert", **good | change)
        assert r.error_code == code, (change.keys(), r.error_code, r.error_message)
    r = L.tx("regulator", R, "review_alert",
             **review_call(L, "regulator", alert, "reopened"))
    assert r.error_code == "bad_field"  # still open
    assert L.get(R, "alert/" + alert)["reviews"] == 0
    out = L.tx("bank_a", R, "review_alert", **good)
    assert out.status == "committed" and out.result["status"] == "reviewed"
    assert disposition(L, "regulator", alert, 0) == "reported"
    with pytest.raises(ChainfinError):  # the client: a report needs its reference
        cli_alerts.review_record(alert, "reported", b"n", None)
    with pytest.raises(ChainfinError):
        cli_alerts.review_record(alert, "closed", b"n", STR_REF)
    with pytest.raises(ChainfinError):
        cli_alerts.review_record(alert, "ignored", b"n", None)


def test_unknown_alert(L: Ledger) -> None:
    customer(L)
    structure(L, "acme")
    tx_id = structure.__name__  # not even an id
    for ref in ("ab" * 32 + "-0", tx_id):
        assert review(L, "regulator", ref, "closed").error_code == "unknown_alert"


def test_a_reviewed_case_is_reopened_by_a_regulator_only(L: Ledger) -> None:
    customer(L)
    alert = structure(L, "acme")
    assert review(L, "bank_a", alert, "closed").status == "committed"
    r = review(L, "bank_a", alert, "closed")  # a double close
    assert r.error_code == "case_closed"
    assert review(L, "bank_a", alert, "escalated").error_code == "case_closed"
    out = L.ok("regulator", R, "review_alert", **review_call(L, "regulator", alert, "reopened"))
    assert out["status"] == "open"
    rec = L.get(R, "alert/" + alert)
    assert rec["status"] == "open" and rec["reviews"] == 2
    for q in rec["queues"]:  # back in the queues, at the back
        assert queue(L, q) == [alert] and rec["queues"][q] == 1
        assert L.get(R, "queue/" + q)["open"] == 1
    # reopened, the home bank reviews it again
    assert review(L, "bank_a", alert, "false_positive").status == "committed"
    assert [L.get(R, f"review/{alert}/{i}")["state"] for i in range(3)] == [
        "reviewed", "open", "reviewed"]
    assert [disposition(L, "regulator", alert, i) for i in range(3)] == [
        "closed", "reopened", "false_positive"]
    assert disposition(L, "bank_a", alert, 0) == "closed"  # its own history
    assert cli_alerts.open_review(L.ids["bank_a"], alert,  # the regulator's reopening
                                  L.get(R, f"review/{alert}/1")) is None


def test_reviews_per_alert_are_bounded(L: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(risk_cases, "MAX_REVIEWS", 3)
    customer(L)
    alert = structure(L, "acme")
    for _ in range(3):
        assert review(L, "regulator", alert, "escalated").status == "committed"
    assert review(L, "regulator", alert, "closed").error_code == "too_many_reviews"


def test_the_queue_is_oldest_first_and_skips_what_was_reviewed_out_of_order(L: Ledger) -> None:
    customer(L)
    first = structure(L, "acme")
    later = [str(next(e.data["alert"] for e in L.tx(
        "acme", S, "transfer", to=L.pk("importer"), currency="USD", amount=999).events
        if e.name == "alert")) for _ in range(3)]
    q = "id:" + L.pk("bank_a")
    assert queue(L, q) == [first, *later]
    assert review(L, "bank_a", later[1], "closed").status == "committed"  # out of order
    assert queue(L, q) == [first, later[0], later[2]]
    assert L.get(R, "queue/" + q)["head"] == 0  # the head is still open
    assert review(L, "bank_a", first, "closed").status == "committed"
    assert queue(L, q) == [later[0], later[2]]
    assert (risk_cases.oldest_open(L.get) or {}).get("alert") == later[0]
    assert L.get(R, "queue/*")["open"] == 2
    page, nxt = risk_cases.queue_page(L.get, "*", 1)
    assert [r["alert"] for _, r in page] == [later[0]] and nxt is not None
    page, nxt = risk_cases.queue_page(L.get, "*", 5, after=nxt)
    assert [r["alert"] for _, r in page] == [later[2]] and nxt is None


def test_a_refused_payments_alert_opens_its_case_too_and_counts_once(L: Ledger) -> None:
    """A refusal's alert is kept; its case is computed from the state before the refused
    transaction, so a monitoring alert the same transaction raised before it (discarded with
    the transaction) neither takes a queue place nor counts as open."""
    acme = customer(L)
    L.ok("regulator", R, "set_limit", subject=acme, kind="max_per_tx", currency="USD", max=10,
         rule_id="cap")
    r = L.tx("acme", S, "transfer", to=L.pk("importer"), currency="USD", amount=11)
    assert r.error_code == "limit_exceeded"
    [alert] = [e.data["alert"] for e in r.events if e.name == "alert"]
    assert L.get(R, "alert/" + alert)["rule"] == "limit_exceeded"
    assert queue(L, "*") == [alert] and L.get(R, "queue/*") == {"head": 0, "next": 1, "open": 1}
    assert L.get(R, "alert_count/limit_exceeded") == 1


def test_raising_an_alert_writes_a_bounded_number_of_keys(L: Ledger) -> None:
    customer(L)
    L.ok("regulator", R, "set_limit", subject=L.pk("acme"), kind="max_per_tx",
         currency="USD", max=1000, rule_id="cap")
    for amount in (950, 960):
        L.ok("acme", S, "transfer", to=L.pk("importer"), currency="USD", amount=amount)
    before = dict(L.state.data)
    L.ok("acme", S, "transfer", to=L.pk("importer"), currency="USD", amount=990)
    changed = {k.decode() for k in L.state.data if L.state.data[k] != before.get(k)}
    case_keys = {k for k in changed if k.startswith(("risk/alert/", "risk/queue/"))}
    # the case, and per queue (*, the bank's id, its BIC) its meta and one entry
    assert len(case_keys) == 1 + 2 * 3, sorted(case_keys)


def test_a_kept_alert_after_a_discarded_one_in_the_same_transaction_counts_once(
        L: Ledger) -> None:
    """A transaction that raises a monitoring alert and is then refused by a rule (a financing
    with a possible watch match over the bank's exposure limit): the refused transaction's own
    writes are discarded, its kept ones applied. The kept alert's count, list and queue place
    are computed from the state before the transaction, so the discarded alert leaves no trace
    (before decision 145 its count was added to the kept one's)."""
    acme = customer(L)
    block = Overlay(L.state)
    layer = Overlay(block)  # the transaction's layer, as chainfin.execution makes it
    tx = L.make_tx("acme", R, "review_alert", {})
    ident_id, rec = resolve_sender(layer, tx.sender.hex())  # type: ignore[misc]
    ctx = TxContext(L.context(), tx, rec, R, ident_id)
    risk._alert(layer, ctx, "structuring", [acme], {"amount": 1}, kept=False)
    risk._alert(layer, ctx, "limit_exceeded", [acme], {"amount": 2}, kept=True)
    layer.discard()  # refused: its own writes go, the kept ones are applied
    for c, k, v in ctx.kept_writes:
        layer.put(c, k, v)
    layer.commit_into(block)
    get = block.get
    assert get(R, "alert_count/limit_exceeded") == 1 and get(R, "alert_count/structuring") is None
    assert [a["rule"] for a in get(R, f"alerts/{acme}") or []] == ["limit_exceeded"]
    assert get(R, "queue/*") == {"head": 0, "next": 1, "open": 1}
    [(_, case)] = risk_cases.queue_page(get, "*", 10)[0]
    # numbered among the kept alerts only: "-1" told the refused payer of the discarded one
    # (red-team round 10, decision 190)
    assert case["alert"] == ctx.tx_hex + "-0" and case["rule"] == "limit_exceeded"
