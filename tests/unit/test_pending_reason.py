"""What the command line tells a person (walk-through 2026-12-07): ``chainfin tx send``'s
sentence for a pending answer names the transaction to ask about (the node's ``no_quorum``
message says "ask GET /v1/tx/{tx_id} later", and the operator in an outage read that placeholder
literally); a read-only command's --help says what its --timeout waits for."""

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


def test_help_says_what_a_read_only_command_waits_for() -> None:
    """``risk watch check`` sends no transaction, yet its --timeout was 'seconds to wait for
    each transaction to be final' (walk-through 2026-12-07)."""
    import argparse

    from chainfin.cli import build_parser

    def help_of(*path: str) -> str:
        p: argparse.ArgumentParser = build_parser()
        for name in path:
            sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
            p = sub.choices[name]
        return " ".join(p.format_help().split())

    assert "--timeout TIMEOUT seconds to wait for the node's answers" in help_of(
        "risk", "watch", "check")
    assert "--timeout TIMEOUT seconds to wait for each transaction to be final" in help_of(
        "risk", "watch", "add")
