"""Privacy red-team round 10 (docs/redteam-privacy.md "Round 10"): correction notices and
retention (decisions 200-201) and the goAML STR export (decision 208), as another bank, the
publisher, a bank whose consent ended, a customer. One test per finding (each fails on the code
before its fix) and the sweeps of what held."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import crypto, goaml
from chainfin.cli_alerts import review_args, review_record
from contracts import credit_sharing as cs
from contracts.testing import CAST, Ledger, make_genesis
from node import access

C = "credit_sharing"
OLD, NEW = b'{"defaults":2}', b'{"defaults":0}'
SALT = bytes(range(40, 72))
#: bank_c, bank_d and bank_e read as banks, not as validators (decision 58 concedes blocks)
CAST10 = CAST | {"bank_c": ("bank", False, False), "bank_d": ("bank", False, False)}


@pytest.fixture
def L() -> Ledger:
    return Ledger(make_genesis(CAST10))


def reader(L: Ledger, who: str) -> access.Reader:
    r = access.resolve_reader(L.get, L.pk(who))
    assert r is not None
    return r


def publish(L: Ledger, **extra: object) -> str:
    return str(L.ok("bank_a", C, "publish", subject=L.pk("exporter"),
                    commitment=cs.make_commitment(OLD, SALT),
                    sealed=cs.seal_record(OLD, SALT, [L.pk("bank_a"), L.pk("regulator")]),
                    **extra)["record_id"])


def deliver_to(L: Ledger, rid: str, bank: str, days: int = 365) -> str:
    L.ok("exporter", C, "grant_consent", bank=L.pk(bank), days=days)
    req = str(L.ok(bank, C, "request_access", record_id=rid)["request_id"])
    args = cs.answer_request(L.ids["bank_a"], L.state, req)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    return req


def seen(L: Ledger, who: str, key: str) -> Any:
    """What ``who``'s signed read of ``credit_sharing/key`` answers (None: the 404)."""
    v = L.get(C, key)
    if v is None or access.state_rule(L.get, reader(L, who), C, key, now_ms=L.now_ms) is None:
        return None
    return access.visible_value(L.get, reader(L, who), C, key, v)


def test_a_consented_bank_reads_a_records_metadata_without_the_retention_end(
        L: Ledger) -> None:
    """R10-F1: the publisher sets each record's retention end (decision 201); one that keeps
    an adverse item seven years and a positive one two told every bank a consent opens the
    metadata to which kind a record is, before and without any request in the access report."""
    adverse, positive = publish(L), publish(L, retain_days=730)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"), purposes=["account_review"])
    for rid in (adverse, positive):
        assert access.state_rule(L.get, reader(L, "bank_c"), C, "record/" + rid,
                                 now_ms=L.now_ms) == "consented_bank"
        assert "retain_until_ms" not in seen(L, "bank_c", "record/" + rid)
        for who in ("bank_a", "exporter", "regulator"):  # publisher, subject, regulator
            assert seen(L, who, "record/" + rid)["retain_until_ms"] == L.get(
                C, "record/" + rid)["retain_until_ms"], who
    # the two answer the consented bank alike but for the ids and commitments
    shape = {k for k in seen(L, "bank_c", "record/" + adverse)}
    assert shape == {k for k in seen(L, "bank_c", "record/" + positive)}
    # nor does the request/delivery it then makes carry the end
    req = str(L.ok("bank_c", C, "request_access", record_id=positive,
                   purpose="account_review")["request_id"])
    args = cs.answer_request(L.ids["bank_a"], L.state, req)
    assert args is not None
    L.ok("bank_a", C, "deliver", **args)
    assert "retain_until_ms" not in seen(L, "bank_c", "request/" + req)


def test_a_record_past_its_retention_end_is_no_longer_reported_as_existing(L: Ledger) -> None:
    """R10-F2: after its end (decision 201) a record was still told to exist to a bank whose
    consent covers it — its metadata (publisher, age, versions) read over REST, and
    ``record_expired`` answered to its request — an old default, say, to a bank the subject
    consented to years later. Now the bank reads nothing of it and its request is the
    ``refused`` of no record; the subject's access report lists the attempt."""
    short = publish(L, retain_days=1)
    L.block([], advance_ms=2 * cs.DAY_MS)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"))  # consented after the end
    assert access.state_rule(L.get, reader(L, "bank_c"), C, "record/" + short,
                             now_ms=L.now_ms) is None
    for who in ("bank_a", "exporter", "regulator"):  # publisher, subject, regulator
        assert seen(L, who, "record/" + short) is not None, who
    answers = []
    for rid in (short, "ab" * 32):
        r = L.tx("bank_c", C, "request_access", record_id=rid)
        stored = seen(L, "bank_c", "request/" + r.result["request_id"])
        answers.append((r.status, r.error_code, sorted(r.result),
                        [(e.name, sorted(e.data)) for e in r.events], sorted(stored)))
    assert answers[0] == answers[1]
    assert answers[0][:2] == ("committed", None) and r.result["status"] == "refused"
    subject = L.pk("exporter")
    last = L.get(C, f"access/{subject}/{L.get(C, 'access/' + subject)['n']}")
    assert (last["requester"], last["record_id"], last["status"]) == (
        L.pk("bank_c"), short, "refused")


def test_a_correction_tells_no_bank_who_else_was_told(L: Ledger) -> None:
    """Held: two banks had the old version; each reads its own notice, its own event and,
    as a party of the correction, only its own part of the transaction; neither reads the
    other's inbox, the recipient list, nor (with its consent ended) the new version."""
    rid = publish(L)
    deliver_to(L, rid, "bank_c", days=1)
    deliver_to(L, rid, "bank_d")
    L.block([], advance_ms=2 * cs.DAY_MS)  # bank_c's consent has ended
    r = L.tx("bank_a", C, "correct", record_id=rid, commitment=cs.make_commitment(NEW, SALT),
             sealed=cs.seal_record(NEW, SALT, [L.pk("bank_a"), L.pk("regulator")]))
    assert r.ok and r.result["notices"] == {"sent": 2, "pending": 0}
    new, c, d = r.result["record_id"], L.pk("bank_c"), L.pk("bank_d")
    receipt = r.to_json()
    outcome = {"tx_id": receipt["tx_id"], "status": "committed", "height": L.height, "index": 0}
    for me, other in ((c, d), (d, c)):
        who = "bank_c" if me == c else "bank_d"
        rd = reader(L, who)
        assert access.tx_rule(L.get, rd, receipt["sender"], receipt) == "party"
        view = access.party_view(L.get, rd, outcome, receipt)
        assert [(e["name"], e["data"]["bank"]) for e in view["events"]] == [
            ("correction_notice", me)]
        assert "result" not in view and "tx" not in view
        assert access.tx_proof_rule(L.get, rd, receipt["sender"], salted=True) is None
        for key in (f"notice/{other}", f"notice/{other}/1", f"rcpt/{rid}", f"rcpt/{rid}/1",
                    f"rcpt/{rid}/2", f"got/{rid}/{other}", f"got/{rid}/{me}", f"subj/"
                    f"{L.pk('exporter')}", f"access/{L.pk('exporter')}"):
            assert seen(L, who, key) is None, (who, key)
        assert seen(L, who, f"notice/{me}/1")["record_id"] == rid
    # the bank whose consent ended: told that its copy changed, not the new version
    assert seen(L, "bank_c", f"notice/{c}/1")["correction"] is None
    assert seen(L, "bank_c", "record/" + new) is None
    assert seen(L, "bank_c", "record/" + rid) is None
    assert seen(L, "bank_d", f"notice/{d}/1")["correction"] == new
    # another bank that had nothing: no notice, no party, nothing to read
    for key in (f"notice/{c}", f"rcpt/{rid}", "record/" + new):
        assert seen(L, "bank_e", key) is None
    assert access.tx_rule(L.get, reader(L, "bank_e"), receipt["sender"], receipt) is None


def test_the_answers_tell_no_outsider_of_a_record_its_end_or_its_notices(L: Ledger) -> None:
    """Held: without a covering consent (none, ended, another purpose) a request for an
    expired record, a live one and no record is the same committed ``refused`` (with one, an
    expired record too: F2);
    ``notify_correction`` by a recipient or a stranger is ``unknown_record`` as for none."""
    short, live = publish(L, retain_days=1), publish(L)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_d"), days=1)
    L.ok("exporter", C, "grant_consent", bank=L.pk("bank_c"), purposes=["collections"])
    L.block([], advance_ms=2 * cs.DAY_MS)  # `short` is past its end, bank_d's consent too
    for bank, purpose in (("bank_e", None), ("bank_d", None), ("bank_c", "credit_decision")):
        answers = []
        for rid in (short, live, "ab" * 32):
            r = L.tx(bank, C, "request_access", record_id=rid,
                     **({"purpose": purpose} if purpose else {}))
            stored = seen(L, bank, "request/" + r.result["request_id"])
            answers.append((r.status, r.error_code, sorted(r.result),
                            [(e.name, sorted(e.data)) for e in r.events],
                            sorted(stored), stored["status"]))
        assert answers[0] == answers[1] == answers[2], bank
    assert L.tx("bank_a", C, "correct", record_id=live,
                commitment=cs.make_commitment(NEW, SALT),
                sealed=cs.seal_record(NEW, SALT, [L.pk("bank_a"), L.pk("regulator")])).ok
    for who in ("bank_c", "bank_e", "importer"):
        for rid in (live, "cd" * 32):
            L.fails("unknown_record", who, C, "notify_correction", record_id=rid)


def test_no_customer_learns_from_the_str_export_or_its_review_that_a_report_was_filed(
        ) -> None:
    """Held (decision 208, FATF R.21): the customer's key, or another bank's, is refused by
    ``chainfin alerts str`` in the same words whether the alert exists; a ``reported`` review
    (the STR's hash sealed) has the public shape of a ``false_positive`` one."""
    bank, cust, other, tx = "b" * 64, "c" * 64, "d" * 64, "e" * 64
    ids = {bank: {"role": "bank", "name": "Bank B", "bank": "DEUTDEFFXXX"},
           other: {"role": "bank", "name": "Bank D", "bank": "BNPAFRPPXXX"},
           cust: {"role": "exporter", "name": "Cust", "registered_by": bank}}
    asked: list[str] = []

    def get(path: str) -> Any:  # /v1/risk/alerts/{alert}: the missing case's 404 to both
        asked.append(path)
        v = ids.get(path.rsplit("/", 1)[1]) if "/governance/id/" in path else None
        return {"value": v} if v is not None else None

    with pytest.raises(goaml.NotEntitled, match="this key is no bank identity's"):
        goaml.gather(get, cust, [f"{tx}-0"])
    assert not [p for p in asked if "/risk/" in p or "/tx/" in p]  # refused before any read
    with pytest.raises(goaml.NotEntitled, match=f"no alert {tx}-0 this bank reads"):
        goaml.gather(get, other, [f"{tx}-0"])
    keys = [crypto.Identity.from_seed_text("r10/" + n, n).public_key.hex() for n in "ab"]
    shapes = []
    for disposition, ref in (("reported", "f" * 64), ("false_positive", None)):
        call = review_args(review_record(f"{tx}-0", disposition, b"note", ref), keys)
        shapes.append((sorted(call), call["state"],
                       sorted((k, len(v)) for k, v in call["sealed"].items())))
    assert shapes[0] == shapes[1]
