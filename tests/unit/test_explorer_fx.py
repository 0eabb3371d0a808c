"""The explorer's structuring case shows a pattern payment in another currency than the limit's
base also in the base, as ``chainfin alerts str`` converts it (walk-through 2026-12-07e): the
page's ``toLocal`` (node/static/app.js) is ``goaml.to_local``, integers, a half rounded up.
Before, the page listed "CNY 68,000.00" under a USD limit with no USD amount and no rate.
Run with node (the page's JavaScript, extracted from app.js)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from chainfin.goaml import Rate, to_local
from node.api import STATIC_DIR

APP = (STATIC_DIR / "app.js").read_text()
NODE = shutil.which("node") or shutil.which("nodejs")


def _js_function(name: str) -> str:
    m = re.search(r"\n  function " + name + r"\(.*?\n  \}\n", APP, re.S)
    assert m, f"app.js has no function {name}"
    return m[0]


@pytest.mark.skipif(NODE is None, reason="no node")
def test_the_case_page_converts_as_the_str_does() -> None:
    cases = [(6_800_000, 100_000, 13_900), (900, 10_000, 10_853), (1_450, 10_000, 6_712),
             (5, 2, 1), (7, 2, 1), (2**60 + 1, 3, 7), (0, 7, 3)]
    src = _js_function("toLocal") + (
        "const cases = " + json.dumps([[str(a), p, b] for a, p, b in cases]) + ";\n"
        "console.log(JSON.stringify(cases.map(([a, per, bu]) => "
        "toLocal(BigInt(a), {per: BigInt(per), base_units: bu}).toString())));\n")
    out = subprocess.run([str(NODE), "-e", src], capture_output=True, text=True, check=True,
                         timeout=20).stdout
    want = [str(to_local(a, Rate("X", "USD", p, b, 0))) for a, p, b in cases]
    assert json.loads(out) == want
    assert want[0] == "945200"  # CNY 68,000.00 at CNY 100000 = USD 13900: USD 9,452.00
    # the case page calls it for a payment in another currency than the limit's base
    assert "nearPaid(nearEnv.get(t), fx)" in APP and 'readExact("risk", "rates/" + base)' in APP
