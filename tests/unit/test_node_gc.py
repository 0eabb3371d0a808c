"""A node process tunes the cyclic GC once it has started (decision 100): what is alive then is
frozen out of full collections and the thresholds rise. Run in a subprocess: freezing is
process-wide and must not leak into the test process."""

from __future__ import annotations

import json
import subprocess
import sys

from node.main import GC_THRESHOLDS

_PROBE = """
import gc, json
from node.main import tune_gc
before = gc.get_freeze_count()
alive = [[i] for i in range(1000)]
old = gc.get_threshold()
replaced = tune_gc()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "thresholds": gc.get_threshold(), "replaced": replaced == old}))
"""


def test_tune_gc_freezes_what_is_alive_and_raises_the_thresholds() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    got = json.loads(out.stdout)
    assert got["before"] == 0
    assert got["frozen"] >= 1000  # the probe's own lists among them
    assert tuple(got["thresholds"]) == GC_THRESHOLDS
    assert got["replaced"]  # what it hands back to undo it
