"""``chainfin risk limits exposure`` (decision 194): what it signs is what the ledger takes."""

from __future__ import annotations

import pytest

from contracts.testing import Ledger
from tests.unit.test_limit_ccy import _ledger
from tests.unit.test_limit_ccy_cli import _dry


def test_an_exposure_cap_in_a_base_currency_is_signed_as_the_ledger_takes_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    L: Ledger = _ledger()
    cap = _dry(capsys, "risk", "limits", "exposure", "--side", "buyer", "--party",
               "Globex Corp", "--currency", "USD", "--max", "100000", "--base",
               "--bank", L.pk("bank_a"))
    assert cap["method"] == "set_exposure_limit"
    assert cap["args"] == {"side": "buyer", "party": "Globex Corp", "currency": "USD",
                           "max": 100_000, "bank": L.pk("bank_a"), "base": True}
    assert L.ok("regulator", "risk", cap["method"], **cap["args"])["base"] is True
    own = _dry(capsys, "risk", "limits", "exposure", "--side", "exporter", "--party",
               L.pk("bob"), "--currency", "JPY", "--max", "5")
    assert "base" not in own["args"]
    L.ok("bank_a", "risk", own["method"], **own["args"])
