"""Session 38's auditor walk-through, the parts that need no node (the rest in
tests/node/test_walkthrough_s38_audit.py): :func:`chainfin.proofs.check_report_seal`, which
``chainfin verify --report FILE --record FILE`` runs after the state proof of a review
verifies, refuses in words each way a report, a disclosed record and a proven review can
disagree. Each test fails on the code before (the function did not exist)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chainfin.cli_alerts import review_args, review_record
from chainfin.crypto import Identity
from chainfin.proofs import STATE_PROOF, TX_PROOF, SealMismatch, Verified, check_report_seal
from chainfin.types import Transaction, ValidatorSet

ALERT = "ab" * 32 + "-0"
REPORT = b"<report><report_code>STR</report_code></report>"
READER = Identity.generate("officer").public_key.hex()


def proven(record: dict[str, Any], key: str = f"review/{ALERT}/0",
           kind: str = STATE_PROOF, present: bool = True) -> Verified:
    """What verify_proof returns for a state proof of the review ``record`` made."""
    call = review_args(record, [READER])
    value = {"by": READER, "state": call["state"], "commitment": call["commitment"],
             "sealed": call["sealed"], "height": 7, "time_ms": 0}
    return Verified(kind=kind, chain_id="c", height=9, block_hash=bytes(32), timestamp_ms=0,
                    validators=ValidatorSet((bytes(32),)), signers=(), set_change_heights=(),
                    contract="risk", key=key, present=present,
                    value=value if present else None)


def reported(report: bytes = REPORT, disposition: str = "reported") -> dict[str, Any]:
    ref = hashlib.sha256(report).hexdigest() if disposition == "reported" else None
    return review_record(ALERT, disposition, b"note", ref, nonce=b"\x05" * 32)


def test_the_file_the_review_sealed_matches_and_says_so() -> None:
    rec = reported()
    lines = check_report_seal(proven(rec), rec, REPORT)
    assert lines[0].startswith("SEAL MATCHES")
    assert f"review 0 of alert {ALERT}: disposition reported, recorded at height 7" in lines[2]
    # `alerts case --json` output carries it as its review's record
    case = {"reviews": [{"review": 0, "record": rec}]}
    assert check_report_seal(proven(rec), case, REPORT) == lines


@pytest.mark.parametrize(("what", "said"), [
    ("byte", "the report file's SHA-256 is"),
    ("disposition", "is false_positive, not reported: it seals no report"),
    ("nonce", "the disclosed record does not open review 0"),
    ("other alert", "the disclosed record does not open review 0"),
    ("not a record", "neither a review record"),
    ("case without it", "has no opened record of review 0"),
    ("tx proof", "this proof is of a transaction"),
    ("another key", "this proof is of risk/alert/"),
    ("absent", "ABSENT at height 9: no such review was recorded by then"),
])
def test_each_disagreement_is_refused_in_words(what: str, said: str) -> None:
    rec = reported()
    v, doc, report = proven(rec), rec, REPORT
    if what == "byte":
        report = REPORT.replace(b"STR", b"SAR")
    elif what == "disposition":
        rec = reported(disposition="false_positive")
        v, doc = proven(rec), rec
    elif what == "nonce":
        doc = {**rec, "nonce": "00" * 32}
    elif what == "other alert":
        doc = {**rec, "alert": "cd" * 32 + "-0"}
    elif what == "not a record":
        doc = {**rec, "extra": 1}
    elif what == "case without it":
        doc = {"reviews": [{"review": 0, "check": "sealed: not to this key"}]}
    elif what == "tx proof":
        v = proven(rec, kind=TX_PROOF)
    elif what == "another key":
        v = proven(rec, key=f"alert/{ALERT}")
    else:
        v = proven(rec, present=False)
    with pytest.raises(SealMismatch) as e:
        check_report_seal(v, doc, report)
    assert said in str(e.value), e.value


def by_tx(record: dict[str, Any], receipt: Any) -> Verified:
    """What verify_proof returns for a proof of the ``review_alert`` transaction."""
    reviewer = Identity.generate("officer")
    tx = Transaction.create(reviewer, "c", 1, "risk", "review_alert",
                            review_args(record, [reviewer.public_key.hex()]))
    return Verified(kind=TX_PROOF, chain_id="c", height=9, block_hash=bytes(32), timestamp_ms=0,
                    validators=ValidatorSet((bytes(32),)), signers=(), set_change_heights=(),
                    tx=tx, tx_index=0, tx_count=1, receipt=receipt,
                    inclusion_only=receipt is None)


def test_the_review_transactions_proof_serves_and_says_what_it_leaves_open() -> None:
    rec = reported()
    case = {"reviews": [{"review": 0, "check": "sealed: not to this key"},
                        {"review": 1, "record": rec}]}
    full = check_report_seal(by_tx(rec, {"status": "committed", "error": None}), case, REPORT)
    assert full[0].startswith("SEAL MATCHES") and not any("caveat" in x for x in full)
    assert "the review_alert transaction " in full[2] and f"of alert {ALERT}" in full[2]
    bare = check_report_seal(by_tx(rec, None), rec, REPORT)
    assert bare[-1].startswith("caveat:         the outcome is not proven"), bare
    with pytest.raises(SealMismatch) as e:  # refused: it recorded nothing
        check_report_seal(by_tx(rec, {"status": "rejected", "error": {
            "code": "bad_field", "message": "alert is reviewed"}}), rec, REPORT)
    assert "was refused (bad_field: alert is reviewed): it recorded nothing" in str(e.value)
