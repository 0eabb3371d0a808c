"""The consortium's trade-finance switches changed by a vote: governance ``set_trade_params``
(decisions 285-286).

``financing_requires_attestation`` and ``bill_of_lading_requires_containers`` were genesis-only
(decision 268's Left): a running network could not turn them on. A ``set_trade_params`` proposal,
adopted by the same quorum of validators as every action, writes them to ``governance/params``
where genesis writes them, so the trade contract reads them unchanged from the next transaction.
The list is closed: any other name is refused ``unknown_param``, a value that is not a boolean
``bad_field``. Proposals still open are listed at ``governance/open_proposals`` and the vote that
set each parameter at ``governance/params_voted`` (what ``chainfin governance`` reads).

Every test here fails on the code before (no such action: ``bad_field`` "action must be one of
..."; no ``open_proposals`` key), checked by running it against ``git show HEAD:`` of
contracts/governance.py.
"""

from __future__ import annotations

from typing import Any

from contracts.testing import Ledger
from tests.unit.trade_cases import BILL_OF_LADING, INVOICE, T, h, register, trade_ledger

G = "governance"
PARAM = "bill_of_lading_requires_containers"


def bl(led: Ledger) -> Any:
    trade = register(led, "invoice", {**INVOICE, "number": f"INV-{led.height}",
                                      "amount": INVOICE["amount"] + 10_000_00 * led.height},
                     tag=("inv", led.height))["trade_id"]
    return led.tx("exporter", T, "register", doc_type="bill_of_lading",
                  fields={**BILL_OF_LADING, "bl_number": f"MAEU-{led.height}"},
                  content_hash=h(("bl", led.height)), trade_id=trade)


def test_a_vote_turns_containers_required_on_and_a_bill_of_lading_without_them_is_refused(
        ) -> None:
    led = trade_ledger(financing_requires_attestation=False)
    assert bl(led).status == "committed"  # genesis: not required
    res = led.ok("bank_a", G, "propose", action="set_trade_params", params={PARAM: True})
    pid = res["proposal_id"]
    assert (res["status"], res["votes"], res["needed"]) == ("open", 1, 3)
    assert led.get(G, "open_proposals") == [pid]
    assert bl(led).status == "committed"  # not yet adopted
    led.ok("bank_b", G, "vote", proposal_id=pid)
    assert led.ok("bank_c", G, "vote", proposal_id=pid)["status"] == "applied"
    assert led.get(G, "open_proposals") == []
    params = led.get(G, "params")
    assert params[PARAM] is True and params["financing_requires_attestation"] is False
    assert led.get(G, "params_voted")[PARAM]["proposal_id"] == pid
    assert [e.data for e in led.last.events if e.name == "trade_params_set"] == [{PARAM: True}]
    r = bl(led)
    assert (r.status, r.error_code) == ("rejected", "missing_field")
    assert PARAM in (r.error_message or "")
    # and off again by another vote
    pid = led.ok("bank_a", G, "propose", action="set_trade_params",
                 params={PARAM: False})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        led.ok(v, G, "vote", proposal_id=pid)
    assert bl(led).status == "committed"


def test_an_unknown_parameter_or_a_value_not_boolean_is_refused() -> None:
    led = trade_ledger()
    r = led.fails("unknown_param", "bank_a", G, "propose", action="set_trade_params",
                  params={"max_advance_rate_bps": 5000})
    assert r.error_message == ("params.max_advance_rate_bps is not a consortium parameter a "
                               "vote sets (one of financing_requires_attestation, "
                               "bill_of_lading_requires_containers)")
    led.fails("bad_field", "bank_a", G, "propose", action="set_trade_params",
              params={PARAM: "true"})
    led.fails("missing_field", "bank_a", G, "propose", action="set_trade_params", params={})
    assert led.get(G, "open_proposals") is None


def test_financing_requires_attestation_is_voted_the_same_way() -> None:
    led = trade_ledger(financing_requires_attestation=False)
    pid = led.ok("bank_a", G, "propose", action="set_trade_params",
                 params={"financing_requires_attestation": True})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        led.ok(v, G, "vote", proposal_id=pid)
    assert led.get(G, "params")["financing_requires_attestation"] is True


def test_an_expired_proposal_leaves_the_open_list() -> None:
    """A proposal nobody votes closed leaves ``open_proposals`` at the next proposal; a vote on
    it after its lifetime closes it as expired and drops it."""
    led = trade_ledger()
    old = led.ok("bank_a", G, "propose", action="set_trade_params",
                 params={PARAM: True})["proposal_id"]
    led.now_ms += 8 * 24 * 3600 * 1000
    new = led.ok("bank_a", G, "propose", action="set_trade_params",
                 params={PARAM: True})["proposal_id"]
    assert led.get(G, "open_proposals") == [new]
    led.now_ms += 8 * 24 * 3600 * 1000
    assert led.ok("bank_b", G, "vote", proposal_id=new)["status"] == "expired"
    assert led.get(G, "open_proposals") == []
    assert led.get(G, "proposal/" + old)["status"] == "open"  # as before: never voted closed
