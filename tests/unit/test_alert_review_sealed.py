"""A review's disposition is sealed (decision 151): every validating bank reads every block, so
``risk.review_alert`` puts in clear only the case's public state (``open`` / ``reviewed``), the
reviewer, height, time and a commitment; the disposition (``reported`` — a suspicious
transaction report, FATF R.21 — included), the note's and the report's hashes are sealed to the
regulators and the reviewer, padded, so ``reported`` and ``false_positive`` look the same to
anyone else, field for field and byte count for byte count. ``chainfin alerts case`` catches a
box that does not match its commitment. Every test fails on decision 145's code (the
disposition in clear, no ``state``, ``commitment`` nor ``sealed``)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chainfin import cli_alerts, codec, crypto
from chainfin.errors import InvalidSignature
from contracts import governance as gov
from contracts import risk_cases
from contracts.testing import CHAIN_ID, Ledger, identity
from tests.unit.test_alert_cases import (
    NOTE_TEXT,
    STR_REF,
    customer,
    review_call,
    seal_to,
    structure,
)

R = "risk"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    for who in ("bank_a", "exporter", "importer"):
        led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk(who),
               amount=1_000_000)
    return led


def two_alerts(L: Ledger) -> tuple[str, str]:
    customer(L)
    first = structure(L, "acme")
    r = L.tx("acme", "settlement", "transfer", to=L.pk("importer"), currency="USD", amount=999)
    second = next(str(e.data["alert"]) for e in r.events if e.name == "alert")
    return first, second


def shape(v: Any) -> Any:
    """What a reader without a key sees of a value: its fields, types and sizes; keys of a
    sealed map by count (they are the same keys for every review of one reviewer)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(x) for x in v]
    if isinstance(v, str):
        return ("str", len(v))
    return type(v).__name__


def public(rv: dict[str, Any]) -> dict[str, Any]:
    """A review's fields bar those that differ for every review whatever it says (the
    commitment and the boxes are random-looking: compared by shape)."""
    return {k: v for k, v in rv.items() if k not in ("commitment", "sealed", "height",
                                                      "time_ms")}


def test_reported_and_false_positive_look_the_same_to_every_other_bank(L: Ledger) -> None:
    """The block (the transaction's arguments, its events, its result), the review record and
    the case: the same fields and sizes for an STR filing and a false positive; a validating
    bank other than the reviewer holds no box and opens none."""
    reported, cleared = two_alerts(L)
    calls = {a: review_call(L, "bank_a", a, d, STR_REF if d == "reported" else None)
             for a, d in ((reported, "reported"), (cleared, "false_positive"))}
    receipts = {}
    for a, call in calls.items():
        tx = L.make_tx("bank_a", R, "review_alert", call)
        [receipts[a]] = L.block([tx]).receipts
        assert receipts[a].status == "committed"
    # what every validator executes: the transaction's arguments
    assert shape(calls[reported]) | {"alert": 0} == shape(calls[cleared]) | {"alert": 0}
    assert calls[reported]["state"] == calls[cleared]["state"] == "reviewed"
    assert set(calls[reported]["sealed"]) == set(calls[cleared]["sealed"]) == set(
        seal_to(L, "bank_a"))
    assert {len(v) for c in calls.values() for v in c["sealed"].values()} == {
        2 * risk_cases.SEALED_SIZE}
    # its receipt: events and result
    for field in ("result",):
        assert shape(getattr(receipts[reported], field)) == shape(
            getattr(receipts[cleared], field))
    ev = {a: [(e.name, {k: v for k, v in e.data.items() if k != "alert"})
              for e in receipts[a].events] for a in calls}
    assert ev[reported] == ev[cleared]
    assert "disposition" not in repr(ev[reported])
    # the state: the case and the review record
    cases = {a: L.get(R, "alert/" + a) for a in calls}
    assert cases[reported]["status"] == cases[cleared]["status"] == "reviewed"
    rvs = {a: L.get(R, f"review/{a}/0") for a in calls}
    assert public(rvs[reported]) == public(rvs[cleared])
    assert shape(rvs[reported]) == shape(rvs[cleared])
    for text in ("reported", "false_positive", hashlib.sha256(STR_REF.encode()).hexdigest(),
                 hashlib.sha256(NOTE_TEXT).hexdigest()):
        assert text not in repr(rvs[reported]) + repr(calls[reported])
    # another validating bank (bank_b, bank_c): no box is sealed to it and none opens with it
    for other in ("bank_b", "bank_c"):
        ident = L.ids[other]
        assert cli_alerts.open_review(ident, reported, rvs[reported]) is None
        for ct in rvs[reported]["sealed"].values():
            with pytest.raises(InvalidSignature):
                ident.unseal(bytes.fromhex(ct))
    # the reviewer and the regulator read it
    for who in ("bank_a", "regulator"):
        rec = cli_alerts.open_review(L.ids[who], reported, rvs[reported])
        assert rec is not None and rec["disposition"] == "reported"
        assert rec["report_sha256"] == hashlib.sha256(STR_REF.encode()).hexdigest()
        rec = cli_alerts.open_review(L.ids[who], cleared, rvs[cleared])
        assert rec is not None and rec["disposition"] == "false_positive"


def test_the_padded_record_has_one_size_whatever_it_says() -> None:
    alert = "ff" * 32 + "-63"
    small = cli_alerts.review_record("ab" * 32 + "-0", "closed", b"", None)
    big = cli_alerts.review_record(alert + "0" * (risk_cases.MAX_ALERT_REF - len(alert)),
                                   "false_positive", b"x", None)
    big = cli_alerts.review_record(big["alert"], "reported", b"x", "y")  # the longest record
    sizes = {len(cli_alerts.pad(codec.encode(r))) for r in (small, big)}
    assert sizes == {risk_cases.SEALED_PLAIN_SIZE} == {cli_alerts.SEALED_PLAIN_SIZE}
    assert cli_alerts.unpad(cli_alerts.pad(b"abc")) == b"abc"
    ident = crypto.Identity.generate()
    for rec in (small, big):
        [ct] = cli_alerts.review_args(rec, [ident.public_key.hex()])["sealed"].values()
        assert len(bytes.fromhex(ct)) == risk_cases.SEALED_SIZE


def test_alerts_case_catches_a_tampered_box_and_a_dishonest_reviewer(L: Ledger) -> None:
    """A reviewer commits to ``reported`` but seals ``false_positive`` to the regulator (or the
    reverse), a box altered in state, a record of another alert, a disposition that contradicts
    the public state: the contract cannot see any of it (it accepts the shapes), the
    regulator's ``alerts case`` check does."""
    alert, other_alert = two_alerts(L)
    keys = seal_to(L, "bank_a")
    honest = cli_alerts.review_record(alert, "reported", NOTE_TEXT, STR_REF)
    lie = dict(honest, disposition="false_positive", report_sha256=None)
    call = cli_alerts.review_args(honest, keys)
    call["sealed"][L.pk("regulator")] = cli_alerts.review_args(lie, keys)["sealed"][
        L.pk("regulator")]
    assert L.tx("bank_a", R, "review_alert", **call).status == "committed"
    rv = L.get(R, f"review/{alert}/0")
    with pytest.raises(cli_alerts.ReviewCheckError, match="commitment"):
        cli_alerts.open_review(L.ids["regulator"], alert, rv)
    own = cli_alerts.open_review(L.ids["bank_a"], alert, rv)
    assert own is not None and own["disposition"] == "reported"

    ct = bytearray(bytes.fromhex(rv["sealed"][L.pk("bank_a")]))
    ct[-1] ^= 1  # one bit of the box
    with pytest.raises(cli_alerts.ReviewCheckError, match="does not open"):
        cli_alerts.open_review(L.ids["bank_a"], alert,
                               rv | {"sealed": {L.pk("bank_a"): ct.hex()}})
    with pytest.raises(cli_alerts.ReviewCheckError, match="commitment"):
        cli_alerts.open_review(L.ids["bank_a"], alert, rv | {"commitment": "00" * 32})
    # a box copied from another alert's review, with its commitment
    moved = cli_alerts.review_args(cli_alerts.review_record(other_alert, "closed", b"n", None),
                                   keys)
    with pytest.raises(cli_alerts.ReviewCheckError, match="of alert"):
        cli_alerts.open_review(L.ids["regulator"], alert, rv | moved | {"alert": alert})
    # a disposition the public state contradicts (reopened, recorded as a review)
    reopen = cli_alerts.review_record(alert, "reopened", b"n", None)
    forged = cli_alerts.review_args(reopen, keys) | {"state": "reviewed"}
    with pytest.raises(cli_alerts.ReviewCheckError, match="public state"):
        cli_alerts.open_review(L.ids["regulator"], alert, rv | forged)


def test_every_review_is_sealed_to_each_regulator_at_its_current_key(L: Ledger) -> None:
    """A regulator that rotated its key gets its box at the new key, never the replaced one
    (credit_sharing's rule); a review sealed to the old key is refused."""
    customer(L)
    alert = structure(L, "acme")
    old = L.pk("regulator")
    new = identity("regulator-key-2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, old))
    L.ok("regulator", "governance", "rotate_key", new_public_key=new.public_key.hex(),
         proof=proof.hex())
    assert new.public_key.hex() in seal_to(L, "bank_a") and old not in seal_to(L, "bank_a")
    stale = cli_alerts.review_args(
        cli_alerts.review_record(alert, "closed", b"n", None),
        sorted({L.pk("bank_a"), old}))
    assert L.tx("bank_a", R, "review_alert", **stale).error_code == "bad_field"
    assert L.tx("bank_a", R, "review_alert",
                **review_call(L, "bank_a", alert, "closed")).status == "committed"
    rec = cli_alerts.open_review(new, alert, L.get(R, f"review/{alert}/0"))
    assert rec is not None and rec["disposition"] == "closed"
