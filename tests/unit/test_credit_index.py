"""Decision 192: the subject index. Every record published or corrected about a subject and
every bank it consents to is appended to ``subj/<subject>`` (full pages of ``INDEX_PAGE`` ids
apart), so the subject (GDPR art. 15) lists every record about it — one nobody asked for too —
and only the subject and the regulators read the index: not another bank, not the publisher of
one of its records, not a consented bank, not an auditor."""

from __future__ import annotations

import time

import pytest

from chainfin import cli_credit
from contracts import credit_sharing as cs
from contracts.testing import Ledger
from node import access

C = "credit_sharing"
RECORD = b'{"rating":"BB+"}'
SALT = bytes(range(16, 48))


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    led.now_ms = int(time.time() * 1000) - cs.DAY_MS
    return led


def publish(L: Ledger, publisher: str = "bank_a", subject: str = "exporter") -> str:
    sealed = cs.seal_record(RECORD, SALT, [L.pk(publisher), L.pk("regulator")])
    return str(L.ok(publisher, C, "publish", subject=L.pk(subject),
                    commitment=cs.make_commitment(RECORD, SALT), sealed=sealed)["record_id"])


def correct(L: Ledger, rid: str, publisher: str = "bank_a") -> str:
    sealed = cs.seal_record(b"fixed", SALT, [L.pk(publisher), L.pk("regulator")])
    return str(L.ok(publisher, C, "correct", record_id=rid,
                    commitment=cs.make_commitment(b"fixed", SALT), sealed=sealed)["record_id"])


def rule(L: Ledger, who: str, key: str) -> str | None:
    r = access.resolve_reader(L.get, L.pk(who))
    assert r is not None
    return access.state_rule(L.get, r, C, key)


def test_every_record_and_consent_of_the_subject_is_in_its_index(L: Ledger) -> None:
    exp = L.pk("exporter")
    quiet = publish(L, "bank_a")  # nobody ever requests it
    other = publish(L, "bank_c")
    publish(L, "bank_a", subject="exporter2")  # another subject's: not in this index
    fixed = correct(L, other, "bank_c")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_d"), days=1)
    assert cs.subject_index(L.state, exp) == ([quiet, other, fixed], [L.pk("bank_b"), L.pk("bank_d")])
    assert L.get(C, "subj/" + exp) == {"records": 3, "banks": 2, "r": [quiet, other, fixed],
                                       "b": [L.pk("bank_b"), L.pk("bank_d")]}
    # an ended consent replaced is indexed once; one revoked and granted again, once more
    L.now_ms += 2 * cs.DAY_MS
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_d"))
    assert cs.subject_index(L.state, exp)[1] == [L.pk("bank_b"), L.pk("bank_d")]
    L.ok("exporter", C, "revoke_consent", bank=L.pk("bank_b"))
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    assert cs.subject_index(L.state, exp)[1] == [L.pk("bank_b"), L.pk("bank_d")]  # still in the tail
    assert cs.subject_index(L.state, L.pk("importer")) == ([], [])


def test_the_index_pages_and_no_value_grows_past_a_page(L: Ledger,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "INDEX_PAGE", 3)
    exp = L.pk("exporter")
    rids = [publish(L, "bank_a" if i % 2 else "bank_c") for i in range(7)]
    head = L.get(C, "subj/" + exp)
    assert head["records"] == 7 and head["r"] == rids[6:]
    assert L.get(C, f"subj/{exp}/r/1") == {"ids": rids[:3]}
    assert L.get(C, f"subj/{exp}/r/2") == {"ids": rids[3:6]}
    assert L.get(C, f"subj/{exp}/r/3") is None
    assert cs.subject_index(L.state, exp)[0] == rids


def test_only_the_subject_and_the_regulators_read_the_index(L: Ledger,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(cs, "INDEX_PAGE", 2)
    exp = L.pk("exporter")
    publish(L, "bank_a")
    publish(L, "bank_c")
    publish(L, "bank_a")
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_b"))
    for key in (f"subj/{exp}", f"subj/{exp}/r/1"):
        assert L.get(C, key) is not None
        assert rule(L, "exporter", key) == "subject"
        assert rule(L, "regulator", key) == "regulator"
        # the publisher of one record, a consented bank, another bank, another customer, an
        # auditor (the credit module's supervisors are the regulators only)
        for who in ("bank_a", "bank_c", "bank_b", "bank_d", "exporter2", "importer", "auditor"):
            assert rule(L, who, key) is None, (who, key)


def test_the_cli_mirrors_the_page_size() -> None:
    assert cli_credit.INDEX_PAGE == cs.INDEX_PAGE
