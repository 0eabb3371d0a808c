"""schemathesis against a running node's /openapi.json, short (the long run: docs/reliability.md)."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the dev extras")

from testnet.restfuzz import run_schemathesis  # noqa: E402

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path) -> None:
    res = run_schemathesis(max_examples=15, seed=3, phases="coverage,fuzzing",
                           directory=tmp_path, timeout=240)
    assert res.cases >= 200, res.output[-3000:]
    assert res.ok, res.output[-3000:]
