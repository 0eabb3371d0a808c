"""``chainfin risk limits`` and ``chainfin risk rates`` (decisions 187, 188): what the commands
sign is what the ledger takes, integers only; anyone reads the rates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chainfin import cli_limits
from chainfin.cli import main
from chainfin.errors import ChainfinError
from contracts.testing import Ledger
from node import access
from tests.unit.test_limit_ccy import DAY_S, _ledger, pay


def _dry(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--dry-run", "--node", "http://127.0.0.1:1", "--key", "k.json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_the_commands_sign_what_the_ledger_takes(capsys: pytest.CaptureFixture[str]) -> None:
    L: Ledger = _ledger()
    pub = _dry(capsys, "risk", "rates", "publish", "--base", "USD",
               "--rate", "JPY=1000000:670000", "--rate", "CNY=10000:1400")
    assert pub["method"] == "publish_rates"
    L.ok("regulator", "risk", pub["method"], **pub["args"])
    lim = _dry(capsys, "risk", "limits", "set", "--subject", L.pk("alice"), "--kind",
               "window_outflow", "--currency", "USD", "--max", "100000", "--window-s",
               str(DAY_S), "--rule-id", "daily-usd", "--base")
    assert lim["args"]["base"] is True
    L.ok("bank_a", "risk", lim["method"], **lim["args"])
    assert pay(L, "alice", "bob", "USD", 100_000).ok
    assert pay(L, "alice", "bob", "JPY", 2).error_code == "limit_exceeded"
    view = cli_limits.rates_view("USD", L.get("risk", "rates/USD"), L.now_ms)
    assert [(r["currency"], r["stale"]) for r in view["rates"]] == [("CNY", False),
                                                                    ("JPY", False)]
    later = cli_limits.rates_view("USD", L.get("risk", "rates/USD"),
                                  L.now_ms + cli_limits.MAX_RATE_AGE_MS + 10_000)
    assert all(r["stale"] for r in later["rates"])
    rd = access.resolve_reader(L.get, L.pk("bob"))
    assert rd is not None and access.state_rule(L.get, rd, "risk", "rates/USD") == "any"


@pytest.mark.parametrize("text", ["JPY=0.0067", "jpy=1:1", "JPY=0:5", "JPY=1", "JPY=1:1.5",
                                  "JPY=1e6:670000"])
def test_a_rate_in_any_other_form_is_refused_before_signing(text: str) -> None:
    with pytest.raises(ChainfinError):
        cli_limits.parse_rate(text)


def test_a_velocity_rule_has_no_base_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "limits", "set", "--subject", "ab" * 32, "--kind", "velocity",
                 "--currency", "USD", "--max", "3", "--window-s", "86400", "--base",
                 "--dry-run", "--node", "http://127.0.0.1:1", "--key", "k.json"]) == 2
    assert "velocity" in capsys.readouterr().err
