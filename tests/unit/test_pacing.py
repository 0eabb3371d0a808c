"""Rate-driven pacing (node/pacing.py): the primary's block interval from the arrival rate."""

from __future__ import annotations

import pytest

from node.pacing import RatePacer


def test_interval_is_the_base_up_to_the_knee_then_grows_with_the_rate_up_to_the_cap():
    p = RatePacer(20, 50, 250)
    assert p.interval_ms(0.0) == 20  # nothing seen
    for i in range(200):  # 200 tx in one second
        p.note(1, i / 200)
    assert p.rate(0.999) == pytest.approx(200)
    assert p.interval_ms(0.999) == 20
    for i in range(300):  # 300 tx in the next 0.6 s
        p.note(1, 1 + i / 500)
    assert p.rate(1.599) == pytest.approx(380, abs=3)  # what arrived after 0.599 s
    assert p.interval_ms(1.599) == 30
    q = RatePacer(20, 50, 250)
    for i in range(500):
        q.note(1, i / 500)
    assert q.interval_ms(0.999) == 40  # 500 tx/s: twice the knee, twice the base
    for i in range(2000):
        q.note(1, 1 + i / 2000)
    assert q.interval_ms(1.999) == 50  # capped


def test_old_arrivals_age_out():
    p = RatePacer(20, 50, 250)
    p.note(1000, 0.0)
    assert p.interval_ms(0.5) == 50
    assert p.rate(1.0) == 0 and p.interval_ms(1.0) == 20


@pytest.mark.parametrize("args", [(-1, 50, 250), (20, 10, 250), (20, 50, 0)])
def test_bad_parameters_are_refused(args):
    with pytest.raises(ValueError):
        RatePacer(*args)
