"""Walk-through 2026-12-07e, the guarantee desks: an MT765 or MT767 signed with a key the ledger
does not take for it (the beneficiary's bank signing the demand it received, the beneficiary
signing an amendment) is refused before anything is signed, saying whose key the ledger takes
(a dry run checks the message and says it in a note); a committed demand says by which day the
guarantor decides, a midnight deadline read as the end of the day before. Before: the
transaction was sent and refused ``forbidden`` ("only the guarantee's beneficiary makes a
demand") with "sign with the key of the party the command is for", and the demand said only
``examination_deadline_at: ...T00:00:00Z``, read a day late."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainfin import cli_guarantee
from chainfin.swift import mt767
from tests.fixtures import Desk, key_file
from tests.unit.test_mt760 import GOOD as MT760
from tests.unit.test_mt765_767 import AMEND, GOOD_765, _with
from tests.unit.test_swift_mt700 import BICS, _chainfin, swift_desk  # noqa: F401


def test_a_midnight_deadline_is_the_end_of_the_day_before() -> None:
    midnight = 1_797_292_800_000  # 2026-12-15T00:00:00Z
    assert cli_guarantee.decide_by(midnight).startswith(
        "the guarantor pays or rejects by the end of 2026-12-14 (UTC): examination deadline "
        "2026-12-15T00:00:00Z, midnight UTC")
    assert cli_guarantee.decide_by(midnight + 3_600_000) == (
        "the guarantor pays or rejects before 2026-12-15T01:00:00Z (examination deadline, "
        "URDG 758 art. 20)")


async def test_an_mt765_or_mt767_signed_by_the_wrong_party_is_refused_before_signing(
        swift_desk: Desk, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    d = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    pk = {n: d.ids[n].public_key.hex() for n in ("exporter", "importer")}
    bank, imp = key_file(d.ids["bank_a"], tmp_path), key_file(d.ids["importer"], tmp_path)
    fin = tmp_path / "g.fin"
    fin.write_text(MT760.replace(":31E:260630", ":31E:991231").replace("BKAAGB22", BICS[0]))

    async def run(*argv: str) -> tuple[int, str, str]:
        return await _chainfin(capsys, "guarantee", *argv, "--node", url)

    rc, out, err = await run("mt760", str(fin), "--applicant", pk["exporter"],
                             "--beneficiary", pk["importer"], "--key", bank)
    assert rc == 0, err
    gid = json.loads(out)["result"]["guarantee_id"]
    f765 = tmp_path / "d.fin"
    f765.write_text(GOOD_765.replace("PG-2025-001", "PG-1").replace("BKAAGB22", BICS[0]))
    # the guarantor's key on the demand: refused by the command, nothing sent
    rc, out, err = await run("mt765", str(f765), "--guarantee", gid, "--key", bank)
    assert rc == 2 and out == "", (out, err)
    assert "does not sign the MT765: on the ledger only the beneficiary makes a demand" in err
    assert "the guarantor" in err and f"({pk['importer'][:16]}…)" in err
    assert "nothing was sent" in err
    rc, out, _ = await run("show", "--guarantee", gid, "--key", imp)
    assert rc == 0 and json.loads(out)["demands"] == []  # no demand on the ledger
    # a dry run checks the message and says it in a note
    rc, out, err = await run("mt765", str(f765), "--guarantee", gid, "--key", bank,
                             "--dry-run")
    assert rc == 0 and json.loads(out)["status"] == "dry_run"
    assert "note: this key" in err and "the ledger would refuse it: forbidden" in err
    # the beneficiary's key: committed, and by which day the guarantor decides
    rc, out, err = await run("mt765", str(f765), "--guarantee", gid, "--key", imp)
    assert rc == 0, err
    assert "note: the guarantor pays or rejects by the end of " in err \
        or "note: the guarantor pays or rejects before " in err, err
    # an amendment signed by the beneficiary: refused, naming the guarantor
    f767 = tmp_path / "a.fin"
    f767.write_text(mt767.render(_with(AMEND, sender_bic=BICS[0], guarantee_number="PG-1",
                                       in_force=100_000_50, amount=100_100_50)))
    rc, out, err = await run("mt767", str(f767), "--guarantee", gid, "--key", imp)
    assert rc == 2 and out == "", (out, err)
    assert ("does not sign the MT767: on the ledger only the guarantor proposes an amendment"
            in err and "the beneficiary" in err), err
    # the guarantor's: the note says the proposed amount is the new amount, not the increase
    rc, out, err = await run("mt767", str(f767), "--guarantee", gid, "--key", bank)
    assert rc == 0, err
    assert ("note: proposed amount USD 100,100.50 (10010050 minor units): the guarantee's amount "
            "once the beneficiary accepts") in err, err
