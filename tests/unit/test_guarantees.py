"""Demand guarantees and standbys (URDG 758 / ISP98) through the execution layer: issue, demand,
pay, reject with every discrepancy, extend-or-pay, amendments accepted or not, expiry, a demand
above what is available, a watched or frozen beneficiary refused at payment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainfin.swift import mt760
from contracts import risk
from contracts.testing import Ledger
from contracts.trade.state import DAY_MS
from tests.fixtures import Desk, key_file
from tests.unit.test_mt760 import GOOD as MT760
from tests.unit.test_swift_mt700 import BICS, _chainfin, swift_desk  # noqa: F401
from tests.unit.trade_cases import T, trade_ledger

AMOUNT = 50_000_00  # USD 50,000.00


def issue(led: Ledger, **over: Any) -> str:
    args = {"applicant": led.pk("exporter"), "beneficiary": led.pk("importer"),
            "amount": AMOUNT, "currency": "USD", "form": "DGAR",
            "guarantee_type": "performance", "guarantee_number": "PG-2025-001",
            "underlying_ref": "CONTRACT 77/2025", "expiry_date": "2026-06-30",
            "advising_bank": led.pk("bank_b"), **over}
    return str(led.ok("bank_a", T, "issue_guarantee", **args)["guarantee_id"])


def demand(led: Ledger, gid: str, amount: int = 10_000_00, **over: Any) -> dict[str, Any]:
    return led.ok("importer", T, "demand", guarantee_id=gid, amount=amount,
                  supporting_statement="The applicant failed to deliver lot 2", **over)


@pytest.fixture
def led() -> Ledger:
    return trade_ledger()


def test_a_complying_demand_is_paid_and_the_available_amount_falls(led: Ledger) -> None:
    gid = issue(led)
    before = led.balance("importer", "USD")
    dem = demand(led, gid)
    assert led.get(T, f"gtee/{gid}")["reserved"] == 10_000_00
    led.fails("forbidden", "bank_b", T, "pay_demand", demand_id=dem["demand_id"])
    assert led.ok("bank_a", T, "pay_demand", demand_id=dem["demand_id"])["status"] == "paid"
    assert led.balance("importer", "USD") == before + 10_000_00
    g = led.get(T, f"gtee/{gid}")
    assert (g["paid"], g["reserved"]) == (10_000_00, 0)
    names = [e.name for e in led.last.receipts[0].events]  # type: ignore[union-attr]
    assert "transferred" in names and "guarantee_paid" in names
    # what is left, and no more, can still be demanded
    led.fails("amount_exceeds_guarantee", "importer", T, "demand", guarantee_id=gid,
              amount=AMOUNT - 10_000_00 + 1, supporting_statement="breach")
    led.fails("demand_closed", "bank_a", T, "pay_demand", demand_id=dem["demand_id"])


def test_a_demand_without_the_statement_of_breach_is_refused(led: Ledger) -> None:
    gid = issue(led, supporting_statement_required=True)
    led.fails("statement_required", "importer", T, "demand", guarantee_id=gid, amount=1)
    led.fails("forbidden", "exporter", T, "demand", guarantee_id=gid, amount=1,
              supporting_statement="x")
    standby = issue(led, form="STBY", guarantee_number="SB-1",
                    supporting_statement_required=False)
    assert led.ok("importer", T, "demand", guarantee_id=standby, amount=1)


def test_a_rejection_lists_every_discrepancy_once_within_five_business_days(
        led: Ledger) -> None:
    gid = issue(led)
    dem = demand(led, gid)["demand_id"]
    items = [{"code": "statement_not_breach", "detail": "names no obligation"},
             {"code": "missing_document"}]
    led.fails("bad_field", "bank_a", T, "reject_demand", demand_id=dem, discrepancies=[])
    led.fails("bad_field", "bank_a", T, "reject_demand", demand_id=dem,
              discrepancies=[{"code": "ugly"}])
    out = led.ok("bank_a", T, "reject_demand", demand_id=dem, discrepancies=items)
    assert out["discrepancies"] == items
    # one notice: no second rejection adding a discrepancy; the reservation is freed
    led.fails("demand_closed", "bank_a", T, "reject_demand", demand_id=dem,
              discrepancies=[{"code": "other"}])
    assert led.get(T, f"gtee/{gid}")["reserved"] == 0
    # a rejection after the fifth business day is too late; the beneficiary claims payment
    late = demand(led, gid)["demand_id"]
    led.fails("not_due", "importer", T, "claim_demand_payment", demand_id=late)
    led.now_ms += 8 * DAY_MS
    led.fails("refusal_too_late", "bank_a", T, "reject_demand", demand_id=late,
              discrepancies=items)
    assert led.ok("importer", T, "claim_demand_payment", demand_id=late)["status"] == "paid"


def test_extend_or_pay_suspends_then_extends_or_pays(led: Ledger) -> None:
    gid = issue(led)
    plain = demand(led, gid, 1_00)["demand_id"]
    led.fails("not_extend_or_pay", "bank_a", T, "suspend_demand", demand_id=plain)
    led.fails("bad_field", "importer", T, "demand", guarantee_id=gid, amount=1,
              supporting_statement="s", extend_or_pay="2026-01-01")
    dem = demand(led, gid, extend_or_pay="2026-12-31")["demand_id"]
    led.fails("bad_field", "bank_a", T, "suspend_demand", demand_id=dem, days=31)
    led.ok("bank_a", T, "suspend_demand", demand_id=dem, days=30)
    led.now_ms += 20 * DAY_MS  # past the examination period, inside the suspension
    led.fails("not_due", "importer", T, "claim_demand_payment", demand_id=dem)
    out = led.ok("bank_a", T, "extend_guarantee", demand_id=dem)
    assert out == {"guarantee_id": gid, "expiry_date": "2026-12-31", "demand_id": dem,
                   "status": "withdrawn"}
    assert led.get(T, f"gtee/{gid}")["reserved"] == 1_00
    # a second extend-or-pay not extended: paid once the suspension ends without a new demand
    again = demand(led, gid, extend_or_pay="2027-06-30")["demand_id"]
    led.ok("bank_a", T, "suspend_demand", demand_id=again, days=10)
    led.now_ms += 11 * DAY_MS
    assert led.ok("importer", T, "claim_demand_payment", demand_id=again)["status"] == "paid"


def test_an_amendment_binds_only_once_the_beneficiary_accepts(led: Ledger) -> None:
    gid = issue(led)
    led.fails("forbidden", "bank_b", T, "amend_guarantee", guarantee_id=gid,
              changes={"amount": 1})
    led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={"amount": 20_000_00})
    # not accepted: the beneficiary may still demand the original amount's worth
    assert led.get(T, f"gtee/{gid}")["amount"] == AMOUNT
    demand(led, gid, 30_000_00)
    led.fails("forbidden", "exporter", T, "accept_guarantee_amendment", guarantee_id=gid,
              proposal=1)
    led.fails("amount_exceeds_guarantee", "importer", T, "accept_guarantee_amendment",
              guarantee_id=gid, proposal=1)
    led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
           changes={"amount": 40_000_00, "expiry_date": "2026-09-30"})
    led.ok("importer", T, "accept_guarantee_amendment", guarantee_id=gid, proposal=2)
    g = led.get(T, f"gtee/{gid}")
    assert (g["amount"], g["expiry_date"], g["amendment"]) == (40_000_00, "2026-09-30", None)
    led.fails("no_amendment", "importer", T, "accept_guarantee_amendment", guarantee_id=gid,
              proposal=3)


def test_a_demand_after_expiry_is_refused_and_expiry_is_recorded(led: Ledger) -> None:
    gid = issue(led, expiry_date="2025-12-31")
    led.fails("not_due", "exporter", T, "expire_guarantee", guarantee_id=gid)
    led.now_ms = 1_767_225_600_000  # 2026-01-01T00:00Z
    r = led.fails("guarantee_expired", "importer", T, "demand", guarantee_id=gid, amount=1,
                  supporting_statement="late")
    assert "2025-12-31" in r.error_message
    led.ok("exporter", T, "expire_guarantee", guarantee_id=gid)
    assert led.get(T, f"gtee/{gid}")["status"] == "expired"
    # by event only: the guarantor records the event
    ev = issue(led, guarantee_number="PG-EVENT", expiry_date=None,
               expiry_event="ISSUE OF THE TAKING-OVER CERTIFICATE")
    led.fails("forbidden", "importer", T, "expire_guarantee", guarantee_id=ev,
              event_evidence="certificate")
    led.ok("bank_a", T, "expire_guarantee", guarantee_id=ev, event_evidence="certificate")
    led.fails("guarantee_expired", "importer", T, "demand", guarantee_id=ev, amount=1,
              supporting_statement="s")


def test_issue_checks_terms_and_number(led: Ledger) -> None:
    issue(led)
    led.fails("duplicate_guarantee", "bank_a", T, "issue_guarantee",
              applicant=led.pk("exporter"), beneficiary=led.pk("importer"), amount=1,
              currency="USD", form="STBY", guarantee_type="bid",
              guarantee_number="pg 2025 001", underlying_ref="x", expiry_date="2026-06-30")
    base = {"applicant": led.pk("exporter"), "beneficiary": led.pk("importer"), "amount": 100,
            "currency": "USD", "form": "DGAR", "guarantee_type": "bid",
            "guarantee_number": "B-1", "underlying_ref": "TENDER 9"}
    led.fails("bad_field", "bank_a", T, "issue_guarantee", **base)  # no expiry at all
    led.fails("bad_field", "bank_a", T, "issue_guarantee", **base, expiry_date="2026-01-31",
              reductions=[{"date": "2026-01-10", "amount": 100}])
    led.fails("forbidden", "exporter", T, "issue_guarantee", **base, expiry_date="2026-01-31")
    gid = issue(led, guarantee_number="B-2", amount=100,
                reductions=[{"date": "2026-01-10", "amount": 60}])
    led.now_ms = 1_768_003_200_000  # 2026-01-10T00:00Z: the reduction applies
    led.fails("amount_exceeds_guarantee", "importer", T, "demand", guarantee_id=gid,
              amount=61, supporting_statement="s")


def test_reduce_and_release_by_the_beneficiary(led: Ledger) -> None:
    gid = issue(led)
    led.fails("forbidden", "bank_a", T, "reduce", guarantee_id=gid, amount=1)
    led.ok("importer", T, "reduce", guarantee_id=gid, amount=30_000_00)
    dem = demand(led, gid, 30_000_00)["demand_id"]
    led.fails("guarantee_in_use", "importer", T, "release", guarantee_id=gid)
    led.ok("bank_a", T, "reject_demand", demand_id=dem, discrepancies=[{"code": "other"}])
    led.ok("importer", T, "release", guarantee_id=gid)
    led.fails("guarantee_closed", "importer", T, "demand", guarantee_id=gid, amount=1,
              supporting_statement="s")


@pytest.mark.parametrize("control", ["watch", "freeze"])
def test_a_watched_or_frozen_beneficiary_is_refused_at_payment(led: Ledger,
                                                               control: str) -> None:
    gid = issue(led)
    dem = demand(led, gid)["demand_id"]
    if control == "watch":
        key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
        led.ok("regulator", "risk", "add_watch",
               entries=[risk.watch_digest(key, "id", led.pk("importer"))])
        code = "sanctioned_party"
    else:
        led.ok("regulator", "risk", "freeze_account", account=led.pk("importer"),
               currency="USD", reason="court order", order_ref="C-1")
        code = "account_frozen"
    before = led.balance("bank_a", "USD")
    led.fails(code, "bank_a", T, "pay_demand", demand_id=dem)
    assert led.balance("bank_a", "USD") == before
    assert led.get(T, f"gdem/{dem}")["status"] == "presented"


async def test_an_mt760_is_read_by_its_parties_only_and_exported_back(
        swift_desk: Desk, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """On an in-process cluster: the guarantor's MT760 submitted through the CLI commits a
    guarantee; over REST its guarantor, applicant, beneficiary, advising bank and the regulator
    read it and its demand, another bank, another customer and an auditor get what a missing
    key gets; the guarantor exports it as an MT760 with the same terms."""
    d = swift_desk
    await d.register("pure_auditor", "auditor")
    url = str(d.http.make_url("")).rstrip("/")
    pk = {n: d.ids[n].public_key.hex() for n in ("exporter", "importer", "bank_b")}
    fin = tmp_path / "g.fin"
    bank_key = key_file(d.ids["bank_a"], tmp_path)
    text = MT760.replace(":31E:260630", ":31E:991231")  # the nodes' clock is the real one
    fin.write_text(text.replace("BKAAGB22", BICS[1]))
    argv = ["guarantee", "mt760", str(fin), "--applicant", pk["exporter"], "--beneficiary",
            pk["importer"], "--advising-bank", pk["bank_b"], "--node", url,
            "--key", bank_key]
    rc, _, err = await _chainfin(capsys, *argv)
    assert rc == 2 and ":52A:" in err  # not the signing bank's BIC: nothing sent
    fin.write_text(text.replace("BKAAGB22", BICS[0]))
    rc, out, err = await _chainfin(capsys, *argv)
    assert rc == 0, err
    gid = json.loads(out)["result"]["guarantee_id"]
    sent = await d.commit(d.tx("importer", T, "demand", {
        "guarantee_id": gid, "amount": 1_00, "supporting_statement": "late delivery"}))
    dem, tx_id = sent["result"]["demand_id"], sent["tx_id"]
    # the demand's transaction: its applicant reads its own event, no result; another customer
    # nothing; an auditor all of it (decision 58's chain read, docs/redteam-guarantees.md Left)
    async with d.http.get(f"/v1/tx/{tx_id}", as_=d.ids["exporter"]) as r:
        view = await r.json()
        assert r.status == 200 and "result" not in view
        assert [e["name"] for e in view["events"]] == ["guarantee_demand"]
    async with d.http.get(f"/v1/tx/{tx_id}", as_=d.ids["exporter2"]) as r:
        assert r.status == 404
    async with d.http.get(f"/v1/tx/{tx_id}", as_=d.ids["pure_auditor"]) as r:
        assert r.status == 200
    async with d.http.get(f"/v1/proofs/state/{T}/gtee/{gid}", as_=d.ids["pure_auditor"]) as r:
        assert r.status == 404
    for path in (f"/v1/state/{T}/gtee/{gid}", f"/v1/state/{T}/gdem/{dem}"):
        missing = path.rsplit("/", 1)[0] + "/" + "ab" * 32
        async with d.http.get(missing, as_=d.ids["auditor"]) as r:
            assert r.status == 404
            want = await r.json()
        for who in ("bank_a", "exporter", "importer", "bank_b", "auditor"):
            async with d.http.get(path, as_=d.ids[who]) as r:
                assert r.status == 200, (who, path)
        for who in ("bank_c", "exporter2", "pure_auditor"):
            async with d.http.get(path, as_=d.ids[who]) as r:
                body = await r.json()
                assert r.status == 404, (who, path)
                assert json.loads(json.dumps(body).replace(path.rsplit("/", 1)[1],
                                                           "ab" * 32)) == want, who
    rc, out, err = await _chainfin(capsys, "guarantee", "export", gid, "--node", url,
                                   "--key", bank_key)
    assert rc == 0, err
    back = mt760.parse(out)
    assert mt760.terms(back, 2) == mt760.terms(mt760.parse(fin.read_text()), 2)
    assert (back.issuer_bic, back.advising_bic, back.applicant) == (
        BICS[0], BICS[1], ("ACME Exports Ltd",))


def test_the_examination_period_counts_the_guarantors_business_days(led: Ledger) -> None:
    """Art. 20: five business days of the guarantor's place, by the calendar an LC's issuing
    bank counts with (a demand on Friday 2025-12-19; bank A's place GB closes 25 and 26 Dec)."""
    gid = issue(led)
    led.now_ms = 1_766_102_400_000  # 2025-12-19T00:00Z, a Friday
    plain = demand(led, gid, 1)["examination_deadline_ms"]
    assert plain == 1_766_793_600_000  # the end of Friday 2025-12-26: Mon 22 .. Fri 26
    led.ok("regulator", "governance", "set_calendar", calendar="GB", year=2025,
           holidays=["2025-12-25", "2025-12-26"])
    led.ok("regulator", "governance", "set_bank_calendar", bank=led.pk("bank_a"), calendar="GB")
    led.now_ms = 1_766_102_400_000
    assert demand(led, gid, 1)["examination_deadline_ms"] == plain + 4 * DAY_MS  # .. Tue 30


# ---------------------------------------------------------------- red team (docs/redteam-guarantees.md)


def test_an_amendment_replaced_in_the_block_of_its_acceptance_is_not_accepted(
        led: Ledger) -> None:
    """G1: the beneficiary accepts the proposal it read (a cut to 40,000); the guarantor's
    replacement (a cut to 1.00) ordered before the acceptance in one block is not accepted.
    (A raise may not be replaced at all since decision 219:
    ``test_a_proposal_enlarging_the_guarantee_binds_the_guarantor_until_rejected``.)"""
    gid = issue(led)
    first = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
                   changes={"amount": 40_000_00})["proposal"]
    res = led.block([
        led.make_tx("bank_a", T, "amend_guarantee", {"guarantee_id": gid,
                                                      "changes": {"amount": 1_00}}),
        led.make_tx("importer", T, "accept_guarantee_amendment",
                    {"guarantee_id": gid, "proposal": first})])
    assert [r.error_code for r in res.receipts] == [None, "amendment_changed"]
    assert led.get(T, f"gtee/{gid}")["amount"] == AMOUNT
    led.ok("importer", T, "accept_guarantee_amendment", guarantee_id=gid, proposal=first + 1)
    assert led.get(T, f"gtee/{gid}")["amount"] == 1_00


@pytest.mark.parametrize("who", ["importer", "exporter"])
def test_a_guarantee_for_a_frozen_party_is_refused_at_issue_and_when_raised(
        led: Ledger, who: str) -> None:
    """G3: a frozen beneficiary or applicant (its USD account) gets no USD guarantee, as a
    watched one gets none; a guarantee issued before the freeze is not raised nor extended."""
    gid = issue(led)
    led.ok("regulator", "risk", "freeze_account", account=led.pk(who), currency="USD",
           reason="court order", order_ref="C-1")
    led.fails("account_frozen", "bank_a", T, "issue_guarantee", applicant=led.pk("exporter"),
              beneficiary=led.pk("importer"), amount=AMOUNT, currency="USD", form="DGAR",
              guarantee_type="performance", guarantee_number="PG-2", underlying_ref="u",
              expiry_date="2026-06-30")
    led.fails("account_frozen", "bank_a", T, "amend_guarantee", guarantee_id=gid,
              changes={"amount": AMOUNT + 1})
    led.fails("account_frozen", "bank_a", T, "amend_guarantee", guarantee_id=gid,
              changes={"expiry_date": "2026-12-31"})
    led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={"amount": 1_00})
    # an expiry event added to a dated guarantee only brings its end nearer: not screened
    led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
           changes={"expiry_event": "TAKING-OVER CERTIFICATE"})
    if who == "importer":  # its extend-or-pay demand: neither extended nor paid while frozen
        dem = demand(led, gid, 1, extend_or_pay="2026-12-31")["demand_id"]
        led.fails("account_frozen", "bank_a", T, "extend_guarantee", demand_id=dem)
        led.fails("account_frozen", "bank_a", T, "pay_demand", demand_id=dem)


def test_an_extension_never_shortens_the_guarantee(led: Ledger) -> None:
    """G12: an extend-or-pay demand asked for 2026-09-30; an amendment accepted since put the
    expiry at 2026-12-31; granting the extension kept 2026-12-31 (it set 2026-09-30)."""
    gid = issue(led)
    dem = demand(led, gid, 1_00, extend_or_pay="2026-09-30")["demand_id"]
    n = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
               changes={"expiry_date": "2026-12-31"})["proposal"]
    led.ok("importer", T, "accept_guarantee_amendment", guarantee_id=gid, proposal=n)
    assert led.ok("bank_a", T, "extend_guarantee", demand_id=dem)["expiry_date"] == "2026-12-31"


def test_a_suspension_neither_extends_the_time_to_reject_nor_comes_late(led: Ledger) -> None:
    """G5, G6: the notice of rejection is due by the fifth business day after the demand (art.
    24 e) whatever the suspension; a suspended demand (taken as complying, art. 23 a) is not
    rejected; a guarantor silent past its deadline cannot suspend to buy 30 days."""
    gid = issue(led)
    dem = demand(led, gid, 1_00, extend_or_pay="2026-12-31")["demand_id"]
    led.ok("bank_a", T, "suspend_demand", demand_id=dem, days=30)
    led.fails("demand_suspended", "bank_a", T, "reject_demand", demand_id=dem,
              discrepancies=[{"code": "other"}])
    led.now_ms += 20 * DAY_MS
    led.fails("demand_suspended", "bank_a", T, "reject_demand", demand_id=dem,
              discrepancies=[{"code": "other"}])
    late = demand(led, gid, 1_00, extend_or_pay="2026-12-31")["demand_id"]
    led.now_ms += 8 * DAY_MS
    led.fails("refusal_too_late", "bank_a", T, "suspend_demand", demand_id=late, days=30)
    assert led.ok("importer", T, "claim_demand_payment", demand_id=late)["status"] == "paid"


def test_an_amended_amount_replaces_the_reductions_already_in_force(led: Ledger) -> None:
    """G7: accepted after a scheduled reduction (100 -> 60), a raise to 200 is 200, not 60; a
    later scheduled step still lowers it. G8: an amendment whose expiry date passed before its
    acceptance is not accepted."""
    gid = issue(led, amount=100, reductions=[{"date": "2026-01-10", "amount": 60},
                                             {"date": "2026-03-10", "amount": 50}])
    led.now_ms = 1_768_003_200_000  # 2026-01-10T00:00Z
    n = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={"amount": 200})
    led.ok("importer", T, "accept_guarantee_amendment", guarantee_id=gid,
           proposal=n["proposal"])
    assert led.get(T, f"gtee/{gid}")["reductions"] == [{"date": "2026-03-10", "amount": 50}]
    demand(led, gid, 150)
    n = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
               changes={"expiry_date": "2026-01-12"})
    led.now_ms += 3 * DAY_MS
    led.fails("guarantee_expired", "importer", T, "accept_guarantee_amendment",
              guarantee_id=gid, proposal=n["proposal"])
    assert led.get(T, f"gtee/{gid}")["expiry_date"] == "2026-06-30"


def test_every_guarantee_event_reaches_its_four_parties_and_no_one_else(led: Ledger) -> None:
    """G9: the guarantor reads the demand it must examine on its event stream (it was not
    named), the beneficiary and the applicant a suspension, the applicant a rejection; another
    bank and another customer read none of them."""
    from node import access

    def readers(receipt: Any) -> set[str]:
        get = led.get
        out = set()
        for e in receipt.events:
            ev = {"contract": T, "name": e.name, "data": e.data}
            for n in ("bank_a", "bank_b", "bank_c", "exporter", "importer", "exporter2"):
                if n in led.ids and access.event_rule(
                        get, access.resolve_reader(get, led.pk(n)), ev) and \
                        e.name.startswith("guarantee"):
                    out.add(n)
        return out

    gid = issue(led)
    parties = {"bank_a", "bank_b", "exporter", "importer"}
    assert readers(led.tx("bank_a", T, "issue_guarantee", **{
        "applicant": led.pk("exporter"), "beneficiary": led.pk("importer"), "amount": 1,
        "currency": "USD", "form": "STBY", "guarantee_type": "bid", "guarantee_number": "E-1",
        "underlying_ref": "u", "expiry_date": "2026-06-30",
        "advising_bank": led.pk("bank_b")})) == parties
    d = led.tx("importer", T, "demand", guarantee_id=gid, amount=1_00, supporting_statement="s",
               extend_or_pay="2026-12-31")
    assert readers(d) == parties
    # its transaction: the applicant looks it up as a party, another customer gets nothing
    # (the banks of this ledger are validators, which read every transaction)
    rcpt = {"events": [{"contract": T, "name": e.name, "data": e.data} for e in d.events]}
    get = led.get
    assert {n: access.tx_rule(get, access.resolve_reader(get, led.pk(n)),  # type: ignore[arg-type]
                              led.pk("importer"), rcpt)
            for n in ("exporter", "exporter2")} == {"exporter": "party", "exporter2": None}
    assert readers(led.tx("bank_a", T, "suspend_demand", demand_id=d.result["demand_id"],
                          days=5)) == parties
    r = demand(led, gid, 1_00)["demand_id"]
    assert readers(led.tx("bank_a", T, "reject_demand", demand_id=r,
                          discrepancies=[{"code": "other"}])) == parties


def test_a_guarantee_names_three_parties_and_takes_a_bounded_number_of_demands(
        led: Ledger) -> None:
    """G10: the beneficiary is neither the applicant nor the guarantor. G11: a beneficiary
    demanding one cent, rejected and again, stops at MAX_DEMANDS: the record stays bounded."""
    from contracts.trade import guarantees

    for who in ("exporter", "bank_a"):
        led.fails("bad_field", "bank_a", T, "issue_guarantee", applicant=led.pk("exporter"),
                  beneficiary=led.pk(who), amount=1, currency="USD", form="STBY",
                  guarantee_type="bid", guarantee_number="S-" + who, underlying_ref="u",
                  expiry_date="2026-06-30")
    gid = issue(led)
    g = led.get(T, f"gtee/{gid}")
    led.state.put(T, f"gtee/{gid}", {**g, "demands": ["ab" * 32] * guarantees.MAX_DEMANDS})
    led.fails("too_many_demands", "importer", T, "demand", guarantee_id=gid, amount=1,
              supporting_statement="s")


# ------------------------------------------------------- follow-ups of decision 218


def test_a_refusal_says_its_amounts_in_the_currencys_decimals(led: Ledger) -> None:
    """A REST or SDK user read "only 3000000 USD is available" as three million dollars: the
    amounts are the currency's decimals with its code, then the minor units the API takes;
    ``reduce`` says which of its two limits the amount broke; JPY has no decimals, BHD three."""
    gid = issue(led)
    led.ok("bank_a", T, "pay_demand", demand_id=demand(led, gid, 20_000_00)["demand_id"])
    msg = led.fails("amount_exceeds_guarantee", "importer", T, "demand", guarantee_id=gid,
                    amount=40_000_00, supporting_statement="s").error_message
    assert ("only USD 30,000.00 (3000000 minor units) is available under the guarantee, not "
            "USD 40,000.00 (4000000 minor units): amount in force USD 50,000.00 (5000000 minor "
            "units)") in str(msg)
    msg = led.fails("bad_field", "importer", T, "reduce", guarantee_id=gid,
                    amount=60_000_00).error_message
    assert msg == ("amount USD 60,000.00 (6000000 minor units) is not lower than the amount in "
                   "force, USD 50,000.00 (5000000 minor units): a reduction lowers it (a higher "
                   "amount is the guarantor's amendment)")
    demand(led, gid, 5_000_00)
    msg = led.fails("bad_field", "importer", T, "reduce", guarantee_id=gid,
                    amount=1_000_00).error_message
    assert msg == ("amount USD 1,000.00 (100000 minor units) does not cover what is paid and "
                   "demanded, USD 25,000.00 (2500000 minor units): paid USD 20,000.00 (2000000 "
                   "minor units), under open demands USD 5,000.00 (500000 minor units)")
    n = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={"amount": 10_000_00})
    msg = led.fails("amount_exceeds_guarantee", "importer", T, "accept_guarantee_amendment",
                    guarantee_id=gid, proposal=n["proposal"]).error_message
    assert "in force, USD 10,000.00 (1000000 minor units), is below what is paid and " \
           "demanded, USD 25,000.00" in str(msg)
    for ccy, says in (("JPY", "only JPY 500 (500 minor units)"),
                      ("BHD", "only BHD 0.500 (500 minor units)")):
        other = issue(led, currency=ccy, amount=500, guarantee_number=f"PG-{ccy}")
        msg = led.fails("amount_exceeds_guarantee", "importer", T, "demand",
                        guarantee_id=other, amount=501, supporting_statement="s").error_message
        assert str(msg).startswith(says)


def test_a_scheduled_reduction_dated_before_the_issue_date_is_refused(led: Ledger) -> None:
    """A reduction dated on or before the issue date (UTC) was taken and in force from the
    first block (issued for one amount, in force for another); the schedule's refusals name
    the entry and what is wrong."""
    assert led.now_ms // DAY_MS * DAY_MS == 1_764_115_200_000  # the issue date, 2025-11-26
    cases = (([{"date": "2025-11-01", "amount": 30_000_00}],
              "reductions[0].date 2025-11-01 is not after the issue date 2025-11-26 (UTC)"),
             ([{"date": "2026-01-10", "amount": 30_000_00},
               {"date": "2025-11-26", "amount": 20_000_00}],
              "reductions[1].date 2025-11-26 is not after the issue date 2025-11-26 (UTC)"),
             ([{"date": "2026-01-10", "amount": 30_000_00},
               {"date": "2026-01-10", "amount": 20_000_00}],
              "reductions[1].date 2026-01-10 is not after the one before it, 2026-01-10"),
             ([{"date": "2026-01-10", "amount": AMOUNT}],
              "reductions[0].amount USD 50,000.00 (5000000 minor units) is not below the "
              "guarantee's amount, USD 50,000.00"))
    for i, (reductions, says) in enumerate(cases):
        msg = led.fails("bad_field", "bank_a", T, "issue_guarantee", **_issue_args(
            led, guarantee_number=f"R-{i}", reductions=reductions)).error_message
        assert str(msg).startswith(says), msg
    gid = issue(led, reductions=[{"date": "2025-11-27", "amount": 30_000_00}])
    assert led.get(T, f"gtee/{gid}")["reductions"][0]["date"] == "2025-11-27"
    demand(led, gid, AMOUNT)  # the next day's reduction is not yet in force


def test_the_guarantor_withdraws_a_pending_amendment_and_its_number_is_refused(
        led: Ledger) -> None:
    """``withdraw_amendment``: the guarantor only, the proposal it names, before acceptance;
    an acceptance naming the withdrawn number is refused, a new proposal gets a new number.
    (A cut: a raise binds the guarantor, decision 219.)"""
    gid = issue(led)
    first = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
                   changes={"amount": 40_000_00})["proposal"]
    for who in ("importer", "exporter", "bank_b"):
        led.fails("forbidden", who, T, "withdraw_amendment", guarantee_id=gid, proposal=first)
    led.fails("amendment_changed", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
              proposal=first + 1)
    out = led.ok("bank_a", T, "withdraw_amendment", guarantee_id=gid, proposal=first)
    assert out == {"guarantee_id": gid, "proposal": first, "status": "withdrawn"}
    ev = led.last.receipts[0].events[-1]  # type: ignore[union-attr]
    assert (ev.name, ev.data["proposal"], ev.data["beneficiary"]) == (
        "guarantee_amendment_withdrawn", first, led.pk("importer"))
    g = led.get(T, f"gtee/{gid}")
    assert (g["amendment"], g["amount"]) == (None, AMOUNT)
    msg = led.fails("no_amendment", "importer", T, "accept_guarantee_amendment",
                    guarantee_id=gid, proposal=first).error_message
    assert "proposal 1 was withdrawn by the guarantor" in str(msg)
    led.fails("no_amendment", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
              proposal=first)
    second = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
                    changes={"expiry_date": "2026-09-30"})["proposal"]
    assert second == first + 1
    led.fails("amendment_changed", "importer", T, "accept_guarantee_amendment",
              guarantee_id=gid, proposal=first)
    led.ok("importer", T, "accept_guarantee_amendment", guarantee_id=gid, proposal=second)
    led.fails("no_amendment", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
              proposal=second)  # accepted: binding, no longer the guarantor's to withdraw
    assert led.get(T, f"gtee/{gid}")["expiry_date"] == "2026-09-30"


# ------------------------------------------------- decision 219: URDG 758 art. 11 b


def test_a_proposal_enlarging_the_guarantee_binds_the_guarantor_until_rejected(
        led: Ledger) -> None:
    """URDG 758 art. 11 b, ISP98 rule 2.06: a raise, a later expiry date or another expiry
    event, once proposed, is neither withdrawn nor replaced by the guarantor alone; the
    beneficiary rejects it (art. 11 c), then the guarantor may propose again; the rejected
    number is no longer accepted. A proposal that also shortens is still a raise."""
    gid = issue(led)
    first = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
                   changes={"amount": 90_000_00})["proposal"]
    msg = led.fails("amendment_binding", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
                    proposal=first).error_message
    assert msg == ("proposal 1 enlarges the beneficiary's rights (amount USD 90,000.00 "
                   "(9000000 minor units) above the amount in force, USD 50,000.00 (5000000 "
                   "minor units)): the guarantor is bound by it from its issue unless and "
                   "until the beneficiary rejects it (URDG 758 art. 11 b, ISP98 rule 2.06), so "
                   "it is not withdrawn without the beneficiary, who accepts or rejects it "
                   "(reject_amendment)")
    for changes in ({"amount": 1_00}, {"amount": 95_000_00}):
        msg = led.fails("amendment_binding", "bank_a", T, "amend_guarantee", guarantee_id=gid,
                        changes=changes).error_message
        assert "so it is not replaced without the beneficiary" in str(msg)
    for who in ("bank_a", "exporter", "bank_b"):
        led.fails("forbidden", who, T, "reject_amendment", guarantee_id=gid, proposal=first)
    led.fails("amendment_changed", "importer", T, "reject_amendment", guarantee_id=gid,
              proposal=first + 1)
    out = led.ok("importer", T, "reject_amendment", guarantee_id=gid, proposal=first)
    assert out == {"guarantee_id": gid, "proposal": first, "status": "rejected"}
    ev = led.last.receipts[0].events[-1]  # type: ignore[union-attr]
    assert (ev.name, ev.data["proposal"]) == ("guarantee_amendment_rejected", first)
    assert [ev.data[f] for f in ("guarantor", "applicant", "beneficiary", "advising_bank")] == [
        led.pk(n) for n in ("bank_a", "exporter", "importer", "bank_b")]
    g = led.get(T, f"gtee/{gid}")
    assert (g["amendment"], g["amount"]) == (None, AMOUNT)
    msg = led.fails("no_amendment", "importer", T, "accept_guarantee_amendment",
                    guarantee_id=gid, proposal=first).error_message
    assert "proposal 1 was rejected by the beneficiary" in str(msg)
    led.fails("no_amendment", "importer", T, "reject_amendment", guarantee_id=gid,
              proposal=first)
    led.fails("no_amendment", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
              proposal=first)
    # the guarantor proposes again: a raise with an earlier expiry still raises
    second = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={
        "amount": 60_000_00, "expiry_date": "2026-03-31"})["proposal"]
    assert second == first + 1
    msg = led.fails("amendment_changed", "importer", T, "accept_guarantee_amendment",
                    guarantee_id=gid, proposal=first).error_message
    assert "rejected by the beneficiary" in str(msg)
    led.fails("amendment_binding", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
              proposal=second)
    # a replacement ordered before the acceptance in one block is refused, the acceptance holds
    res = led.block([
        led.make_tx("bank_a", T, "amend_guarantee", {"guarantee_id": gid,
                                                      "changes": {"amount": 1_00}}),
        led.make_tx("importer", T, "accept_guarantee_amendment",
                    {"guarantee_id": gid, "proposal": second})])
    assert [r.error_code for r in res.receipts] == ["amendment_binding", None]
    g = led.get(T, f"gtee/{gid}")
    assert (g["amount"], g["expiry_date"], g["amendment"]) == (60_000_00, "2026-03-31", None)
    # a later expiry date, another expiry event: binding too
    for n, (over, changes, says) in enumerate((
            ({}, {"expiry_date": "2026-09-30"}, "expiry date 2026-09-30 after 2026-06-30"),
            ({"expiry_event": "TAKING-OVER CERTIFICATE"},
             {"expiry_event": "FINAL ACCEPTANCE CERTIFICATE"}, "another expiry event"))):
        other = issue(led, guarantee_number=f"B-{n}", **over)
        p = led.ok("bank_a", T, "amend_guarantee", guarantee_id=other,
                   changes=changes)["proposal"]
        msg = led.fails("amendment_binding", "bank_a", T, "withdraw_amendment",
                        guarantee_id=other, proposal=p).error_message
        assert f"({says})" in str(msg)


def test_a_proposal_enlarging_nothing_may_still_be_withdrawn_or_replaced(led: Ledger) -> None:
    """A cut, an earlier expiry, an expiry event added to a dated guarantee: the beneficiary
    loses nothing, the guarantor may replace or withdraw it. Judged when the guarantor acts: a
    cut to 40,000 is a raise once the beneficiary has reduced the guarantee to 30,000. A
    guarantee released takes no acceptance: its raise is no longer binding."""
    gid = issue(led)
    led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid, changes={"amount": 40_000_00})
    p = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
               changes={"expiry_date": "2026-03-31"})["proposal"]
    p = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
               changes={"expiry_event": "TAKING-OVER CERTIFICATE"})["proposal"]
    led.ok("bank_a", T, "withdraw_amendment", guarantee_id=gid, proposal=p)
    p = led.ok("bank_a", T, "amend_guarantee", guarantee_id=gid,
               changes={"amount": 40_000_00})["proposal"]
    led.ok("importer", T, "reduce", guarantee_id=gid, amount=30_000_00)
    msg = led.fails("amendment_binding", "bank_a", T, "withdraw_amendment", guarantee_id=gid,
                    proposal=p).error_message
    assert "above the amount in force, USD 30,000.00" in str(msg)
    led.ok("importer", T, "release", guarantee_id=gid)
    led.ok("bank_a", T, "withdraw_amendment", guarantee_id=gid, proposal=p)


def _issue_args(led: Ledger, **over: Any) -> dict[str, Any]:
    return {"applicant": led.pk("exporter"), "beneficiary": led.pk("importer"),
            "amount": AMOUNT, "currency": "USD", "form": "DGAR",
            "guarantee_type": "performance", "guarantee_number": "PG-2025-001",
            "underlying_ref": "CONTRACT 77/2025", "expiry_date": "2026-06-30", **over}
