"""Red-team round 10 (docs/redteam-round10.md): attacks on what was built on 2026-12-07 —
near-match alerts, credit sharing, pain.001, reference rates — each a test; the fixes are
decisions 190-191."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import risk, risk_rates
from contracts.testing import CAST, Ledger, make_genesis
from node import access

S, R, G = "settlement", "risk", "governance"
COMPANY = "Globex Trading LLC"


def _ledger() -> Ledger:
    """alice (bank_a's) and mallory (bank_b's, registered as "Globex Trading Holdings"), USD
    1,000.00 each, each under a USD 10.00 per-payment limit it can read (its own profile)."""
    L = Ledger(make_genesis(dict(CAST, bank_b=("bank", True, True))))
    for n, role, bank, name in (("alice", "importer", "bank_a", "Alice Imports"),
                                ("mallory", "exporter", "bank_b", "Globex Trading Holdings")):
        L.add_identity(n)
        L.ok(bank, G, "register_identity", pubkey=L.pk(n), name=name, role=role)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(n), amount=100_000)
        L.ok(bank, R, "set_limit", subject=L.pk(n), kind="max_per_tx", currency="USD",
             max=1_000, rule_id="ten-usd")
    return L


def _seen_by(L: Ledger, who: str, r: Any) -> list[dict[str, Any]]:
    """The alerts of receipt ``r`` that ``who`` may read (node.access.event_rule)."""
    reader = access.resolve_reader(L.get, L.pk(who))
    assert reader is not None
    return [e.data for e in r.events if e.name == "alert" and access.event_names_reader(
        L.get, reader, {"contract": e.contract, "name": e.name, "data": e.data})]


@pytest.mark.parametrize("payer,payee", [("mallory", "alice"), ("alice", "mallory")])
def test_a_refused_payment_does_not_number_a_hidden_near_alert(payer: str, payee: str) -> None:
    """R10-1: a payment over the payer's own limit is refused ``limit_exceeded``, whose alert
    the payer reads (decision 144's one exception). It was numbered after the alerts the
    transaction had raised before, so a ``possible_watch_match`` on the payer or the payee —
    raised by the near screening that runs first, then discarded with the refused transaction,
    and so raised again at each try — made it ``<tx>-1`` instead of ``<tx>-0``: any customer
    under a limit could ask whether it, or any identity it names as payee, is near a watched
    name, as often as it liked, at the cost of a refused payment. A kept alert is numbered among
    the kept ones only (they alone outlive a refusal)."""
    L = _ledger()
    key = risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(key, COMPANY))
    for i in range(2):
        r = L.tx(payer, S, "transfer", to=L.pk(payee), currency="USD", amount=5_000)
        assert r.error_code == "limit_exceeded"
        (seen,) = _seen_by(L, payer, r)
        assert seen["rule"] == "limit_exceeded"
        assert seen["alert"] == r.tx_id.hex() + "-0"  # as for a payee no list is near
        assert L.get(R, "alert/" + seen["alert"]) is not None  # its case, under that id
        # decision 205: the near alert is kept by the first refusal, numbered after the
        # refusing rule's (never before it), and not raised again at the next try
        assert [(a["rule"], a["alert"]) for a in risk_alerts(r)] == [
            ("limit_exceeded", r.tx_id.hex() + "-0")] + (
            [("possible_watch_match", r.tx_id.hex() + "-1")] if i == 0 else [])
    r = L.tx(payer, S, "transfer", to=L.pk(payee), currency="USD", amount=500)
    assert r.ok and risk_alerts(r) == []  # screened at this version of the list already
    assert _seen_by(L, payer, r) == []


def risk_alerts(r: Any) -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == "alert"]


# ----------------------------------------------------------------------- reference rates

JPY = {"currency": "JPY", "per": 1_000_000, "base_units": 670_000}


def _rates_ledger(approvals: int = 1) -> Ledger:
    """alice (bank_a's) with JPY 10,000,000 under a USD 1.00 per-payment limit in base USD;
    ``approvals``: regulators a seizure (and, decision 191, a far rate move) needs."""
    L = Ledger(make_genesis(dict(CAST, bank_b=("bank", True, True)),
                            regulators=("regulator", "auditor")))
    if approvals > 1:
        pid = L.ok("bank_a", G, "propose", action="set_seize_approvals",
                   params={"count": approvals})["proposal_id"]
        for v in ("bank_b", "bank_c"):
            L.ok(v, G, "vote", proposal_id=pid)
    L.add_identity("alice")
    L.ok("bank_a", G, "register_identity", pubkey=L.pk("alice"), name="Alice Imports",
         role="importer")
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("alice"), amount=10_000_000)
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=100, rule_id="one-usd", base=True)
    return L


def test_who_and_when_a_rate_may_be_published() -> None:
    """Held: only a regulator publishes (a bank, the customer: ``forbidden``); an as-of time
    after the block, already stale, or older than the published rate is refused; a rate of 0
    (either term) or a term over 10^15 is refused; a rate of the base against itself too."""
    L = _rates_ledger()
    for who in ("alice", "bank_a"):
        assert L.tx(who, R, "publish_rates", base="USD", rates=[JPY]).error_code == "forbidden"
    now = L.now_ms
    for as_of in (now + 10**6, now - risk_rates.MAX_RATE_AGE_MS - 10**6):
        r = L.tx("regulator", R, "publish_rates", base="USD", rates=[JPY], as_of_ms=as_of)
        assert r.error_code == "bad_field", as_of
    for bad in ({"per": 0}, {"base_units": 0}, {"per": 10**15 + 1}, {"currency": "USD"}):
        r = L.tx("regulator", R, "publish_rates", base="USD", rates=[JPY | bad])
        assert not r.ok, bad
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    r = L.tx("regulator", R, "publish_rates", base="USD", rates=[JPY], as_of_ms=now - 10**6)
    assert r.error_code == "bad_field"  # older than the rate it would replace


def test_a_rate_never_rounds_a_payment_to_nothing_nor_overflows() -> None:
    """Held: the smallest payment counts at least one base unit whatever the ratio (rounded up),
    and the largest ratio counts above every limit, never past MAX_AMOUNT + 1; an exponent-0
    currency (JPY) is a ratio of minor units like any other."""
    L = _rates_ledger()
    L.ok("regulator", R, "publish_rates", base="USD",
         rates=[{"currency": "JPY", "per": 10**15, "base_units": 1}])
    assert risk_rates.to_base(L.state, L.now_ms, "USD", "JPY", 1) == 1
    L.ok("regulator", R, "publish_rates", base="USD",
         rates=[{"currency": "JPY", "per": 1, "base_units": 10**15}])
    from chainfin.execution import MAX_AMOUNT
    assert risk_rates.to_base(L.state, L.now_ms, "USD", "JPY", MAX_AMOUNT) == MAX_AMOUNT + 1
    assert L.tx("alice", S, "transfer", to=L.pk("bank_a"), currency="JPY",
                amount=1).error_code == "limit_exceeded"


def test_where_one_regulator_signs_a_seizure_one_signs_any_rate() -> None:
    """Left (docs/redteam-round10.md): on a network whose seizures need one regulator (the
    default), one regulator's rate of 1 USD cent per 10^15 JPY still lets a customer under a
    USD 1.00 base limit pay JPY 1,000,000 (USD 6,700.00 at the market) in one payment."""
    L = _rates_ledger()
    L.ok("regulator", R, "publish_rates", base="USD",
         rates=[{"currency": "JPY", "per": 10**15, "base_units": 1}])
    assert L.tx("alice", S, "transfer", to=L.pk("bank_a"), currency="JPY",
                amount=1_000_000).ok


def test_a_far_rate_move_needs_a_second_regulator_where_seizures_do() -> None:
    """R10-2 (decision 191): with the two-regulator rule, one regulator key moved a rate as far
    as it liked — 1 cent per 10^15 JPY opened every USD base limit, a huge rate refused every
    JPY payment under one. Now a first rate, or a move of more than a fifth either way, waits
    for a second regulator sending the same publication under the first's ``order_ref``; a
    move within a fifth is published at once, as every rate was."""
    L = _rates_ledger(approvals=2)
    r = L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    assert r["pending"] and r["needed"] == 2 and L.get(R, "rates/USD") is None
    L.fails("forbidden", "regulator", R, "publish_rates", base="USD", rates=[JPY],
            order_ref=r["order_ref"])  # the same key twice is one approval
    done = L.ok("auditor", R, "publish_rates", base="USD", rates=[JPY], order_ref=r["order_ref"])
    assert done["currencies"] == ["JPY"] and L.get(R, "rate/" + r["order_ref"]) is None
    for units in (804_000, 536_000):  # +20 %, then -33 % of that: the first at once
        r = L.ok("regulator", R, "publish_rates", base="USD",
                 rates=[JPY | {"base_units": units}])
        assert ("pending" in r) == (units == 536_000), units
    assert L.get(R, "rates/USD")["JPY"]["base_units"] == 804_000
    L.ok("regulator", R, "withdraw_order", kind="rate", order_ref=r["order_ref"],
         reason="a typing error")
    r = L.ok("regulator", R, "publish_rates", base="USD",
             rates=[{"currency": "JPY", "per": 10**15, "base_units": 1}])
    assert r["pending"]
    assert L.tx("alice", S, "transfer", to=L.pk("bank_a"), currency="JPY",
                amount=1_000_000).error_code == "limit_exceeded"


def test_the_second_regulator_approves_with_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """``chainfin risk rates publish --order-ref REF`` signs the approval the ledger takes."""
    import json

    from chainfin.cli import main
    L = _rates_ledger(approvals=2)
    ref = L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])["order_ref"]
    assert main(["risk", "rates", "publish", "--base", "USD", "--rate", "JPY=1000000:670000",
                 "--order-ref", ref, "--dry-run", "--node", "http://127.0.0.1:1",
                 "--key", "k.json"]) == 0
    tx = json.loads(capsys.readouterr().out)
    assert tx["args"]["order_ref"] == ref
    assert L.ok("auditor", R, tx["method"], **tx["args"])["currencies"] == ["JPY"]


@pytest.mark.parametrize("old,new,far", [
    ((100, 100), (100, 120), False), ((100, 100), (100, 121), True),
    ((100, 100), (100, 80), False), ((100, 100), (100, 79), True),
    ((1_000_000, 670_000), (10**15, 1), True), ((3, 1), (300, 100), False)])
def test_the_move_bound_is_exact(old: tuple[int, int], new: tuple[int, int], far: bool) -> None:
    """(per, base_units) pairs: a fifth of the old rate either way, cross-multiplied."""
    o = {"per": old[0], "base_units": old[1], "time_ms": 0}
    assert risk_rates._moves_far(o, {"per": new[0], "base_units": new[1]}, 0) == far
    assert risk_rates._moves_far(None, {"per": new[0], "base_units": new[1]}, 0)
    assert risk_rates._moves_far(o, o, risk_rates.MAX_RATE_AGE_MS + 1)  # stale: no reference


# -------------------------------------------------------------------------- credit sharing

SUBJECT, PUBLISHER, REQUESTER, OTHER = "5" * 64, "b" * 64, "c" * 64, "d" * 64
CREDIT_STATE: dict[tuple[str, str], Any] = {
    ("governance", "id/" + SUBJECT): {"role": "exporter", "registered_by": PUBLISHER},
    **{("governance", "id/" + b): {"role": "bank", "bank": "BANK" + b[0].upper() + "XX"}
       for b in (PUBLISHER, REQUESTER, OTHER)},
    ("governance", "regulators"): [],
    ("credit_sharing", "purpose/r1"): {"requester": REQUESTER, "subject": SUBJECT,
                                       "purpose": "collections"},
    ("credit_sharing", "access/" + SUBJECT + "/0"): {"requester": REQUESTER, "record": "x"},
    ("credit_sharing", "consent/" + SUBJECT + "/" + REQUESTER): {"purposes": ["any"]},
}


@pytest.mark.parametrize("key,who", [
    ("purpose/r1", PUBLISHER),  # why a competitor asks about its customer
    ("purpose/r1", OTHER),
    ("access/" + SUBJECT + "/0", PUBLISHER),  # who else asked
    ("access/" + SUBJECT + "/0", REQUESTER),
    ("consent/" + SUBJECT + "/" + REQUESTER, PUBLISHER),  # whom else the subject consented to
    ("consent/" + SUBJECT + "/" + REQUESTER, OTHER),
])
def test_a_bank_reads_no_competitors_purpose_access_report_or_consent(key: str, who: str) -> None:
    """Held: a pending request's purpose is the requester's, the subject's and the regulators';
    the access report the subject's; a consent the subject's and its bank's."""
    get = lambda c, k: CREDIT_STATE.get((c, k))  # noqa: E731
    reader = access.resolve_reader(get, who)
    assert reader is not None
    assert access.state_rule(get, reader, "credit_sharing", key, now_ms=0) is None


# ----------------------------------------------------------------------------- /healthz

def test_the_public_quorum_object_names_no_validator() -> None:
    """Held: ``/healthz``, ``/readyz`` and ``/v1/status``'s ``quorum`` are counts, flags and
    times only; ``/v1/status`` listed the validator set, the connected peers' keys, the view
    and the tip's time to anyone before decision 174, from which each figure follows."""
    from node.reach import Reach
    doc = Reach(True, 2, 4, 3, 1_796_000_000_000, 7.5, True, 3, True, 12.0).to_json()
    assert all(isinstance(v, (bool, int, float)) or v is None for v in doc.values()), doc


# ------------------------------------------------------------------------------- pain.001

def test_derived_uetrs_do_not_meet_across_debtors_message_ids_or_places() -> None:
    """Held: a derived UETR is the debtor's, the MsgId's and the place's (NUL-separated, and an
    XML MsgId holds no NUL), so another debtor's file under the same MsgId, or a MsgId that
    ends in digits, never asks for another's UETR; and the index a UETR is refused against is
    the debtor's own (``settlement/uetr/<debtor>/…``), so nobody books into it."""
    from chainfin.iso20022.pain001 import derived_uetr
    a, b = "a" * 64, "b" * 64
    made = {derived_uetr(d, m, i) for d in (a, b) for m in ("PAY-1", "PAY-11", "PAY-")
            for i in (0, 1, 11)}
    assert len(made) == 2 * 3 * 3
