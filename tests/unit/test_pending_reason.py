"""``chainfin tx send``'s sentence for a pending answer names the transaction to ask about: the
node's ``no_quorum`` message says "ask GET /v1/tx/{tx_id} later", and the operator in an outage
read that placeholder literally (walk-through 2026-12-07)."""

from __future__ import annotations

from chainfin.client import pending_reason
from node.reach import Reach, no_quorum_error

TX = "1b" * 32


def test_the_no_quorum_sentence_names_the_transaction() -> None:
    r = Reach(validator=True, reached=2, validators=4, quorum=3, lost_since_ms=1_796_660_726_045,
              lost_for_s=6.0, lost_long=True, view=0, view_change=True, last_commit_age_s=9.0)
    said = pending_reason({"status": "pending", "tx_id": TX, "error": no_quorum_error(r)})
    assert said is not None and "{tx_id}" not in said
    assert f"GET /v1/tx/{TX} later" in said
    assert said.startswith("not final yet: the node cannot reach a quorum of validators: this "
                           "node reaches 2 of the 4 validators")


def test_the_timeout_sentence_names_the_transaction_too() -> None:
    said = pending_reason({"status": "pending", "tx_id": TX, "error": {"code": "timeout"}})
    assert said == ("the transaction was not final within the node's wait time "
                    f"(ask GET /v1/tx/{TX} later)")
