"""Reference rates: what a limit set in a base currency counts a payment in another currency as
(docs/risk.md "Limits in a base currency"; decisions 187, 188). Part of the ``risk`` contract:
its method is ``risk.publish_rates``.

A regulator (the capacity that publishes the risk lists: a central bank publishes reference
rates, as the ECB does each business day) publishes, per currency against a base, an exact
integer ratio of minor units — ``per`` minor units of the currency are worth ``base_units``
minor units of the base (JPY against USD at 0.0067: ``{"currency": "JPY", "per": 1_000_000,
"base_units": 670_000}``; EUR at 1.0853: ``{"currency": "EUR", "per": 10_000, "base_units":
10_853}``) — with the time it is as of. No floats anywhere.

A payment of ``amount`` is counted as ``ceil(amount * base_units / per)`` base minor units:
rounded **up**, against the customer (a limit is never looser than the rate says).

Staleness: a rate older than :data:`MAX_RATE_AGE_MS` (6 days of block time, from its as-of
time) counts nothing: the payment of an account under a base-currency limit in that currency is
refused ``rate_unavailable``, as is one in a currency with no rate against the base (decision
188: fail closed; a limit that lapses when the publisher is late is no limit). An account with
no base-currency limit never reads a rate.

State (contract ``risk``):

- ``rates/<BASE>`` -> ``{CCY: {"per", "base_units", "time_ms", "by", "height"}}``: one record per
  base, at most :data:`MAX_RATES` currencies; read once per payment in another currency by an
  account under a limit in that base (:meth:`StateView.peek`), never written by a payment.
- ``rate/<order_ref>`` -> ``{"order": {"base", "rates", "as_of_ms"}, "approvals"}``: a
  publication waiting for more regulators (decision 191: a first rate or a move of more than a
  fifth, where seizures need more than one), the supervisors'; withdrawn by
  ``risk.withdraw_order`` kind ``rate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import (
    MAX_AMOUNT,
    ContractState,
    TxContext,
    p_currency,
    p_int,
    p_list,
    p_text,
)
from contracts import governance as gov
from contracts.risk import CONTRACT, NAME, _require_regulator, regulator_order, seize_approvals

RATES_PREFIX = "rates/"
#: 6 days: the ECB publishes on TARGET business days; its longest gap (Good Friday to Easter
#: Monday; 25-26 December falling on Thursday-Friday) runs 5 days from one rate to the next,
#: and the regulator gets one more day to put it on chain. A rate older than that is not late:
#: its publication stopped (the ECB's EUR/RUB since 2 March 2022).
MAX_RATE_AGE_MS = 6 * 24 * 3600 * 1000
MAX_RATES = 256  # currencies per base (ISO 4217 has about 180)
MAX_RATIO_TERM = 10**15  # per and base_units: 1 ..= 10^15 minor units


def to_base(state: ContractState, now_ms: int, base: str, currency: str, amount: int) -> int:
    """``amount`` minor units of ``currency`` counted in minor units of ``base`` at the published
    reference rate, rounded up (against the customer); at most MAX_AMOUNT + 1 (above every
    limit: nothing larger is ever stored or compared).

    Raises:
        ContractError: ``rate_unavailable``: no rate of ``currency`` against ``base``, or one
            older than MAX_RATE_AGE_MS of block time.
    """
    if currency == base:
        return amount
    rates: Mapping[str, Any] | None = state.peek(NAME, RATES_PREFIX + base)
    rate = rates.get(currency) if rates is not None else None
    if rate is None:
        raise ContractError(f"no reference rate of {currency} against {base}: a limit in {base} "
                            f"cannot count this payment", "rate_unavailable")
    age_ms = now_ms - rate["time_ms"]
    if age_ms > MAX_RATE_AGE_MS:
        raise ContractError(f"the reference rate of {currency} against {base} is "
                            f"{age_ms // 3_600_000} h old (more than {MAX_RATE_AGE_MS // 3_600_000}"
                            f" h): a limit in {base} cannot count this payment",
                            "rate_unavailable")
    counted: int = -(-amount * rate["base_units"] // rate["per"])  # rounded up
    return min(counted, MAX_AMOUNT + 1)


_RATE_FIELDS = ("currency", "per", "base_units")
_p_term = p_int(1, MAX_RATIO_TERM)


def p_rate(v: Any, name: str) -> dict[str, Any]:
    """One published rate: ``{"currency", "per", "base_units"}``, integers only."""
    if not isinstance(v, Mapping):
        raise ContractError(f"{name}: each rate is an object {{currency, per, base_units}}",
                            "bad_field")
    extra = sorted(set(v) - set(_RATE_FIELDS))
    if extra:
        raise ContractError(f"{name}.{extra[0]} is not a rate field", "unknown_field")
    for k in _RATE_FIELDS:
        if v.get(k) is None:
            raise ContractError(f"{name}.{k} is missing", "missing_field")
    return {"currency": p_currency(v["currency"], name + ".currency"),
            "per": _p_term(v["per"], name + ".per"),
            "base_units": _p_term(v["base_units"], name + ".base_units")}


#: a publication moving a rate by more than this fraction (num, den) of the fresh rate it
#: replaces, either way, is a two-regulator order where the network has the two-regulator rule
#: (decision 191)
MAX_MOVE = (1, 5)


def _moves_far(old: Mapping[str, Any] | None, new: Mapping[str, Any], now_ms: int) -> bool:
    """Does ``new`` move the rate by more than :data:`MAX_MOVE` from ``old``, the rate it
    replaces (none, or a stale one, is no reference: a first rate moves from a refusal)? Exact:
    ``new_b/new_p`` against ``old_b/old_p`` cross-multiplied, no division."""
    if old is None or now_ms - old["time_ms"] > MAX_RATE_AGE_MS:
        return True
    num, den = MAX_MOVE
    n, o = new["base_units"] * old["per"] * den, old["base_units"] * new["per"]
    return bool(n > o * (den + num) or n < o * (den - num))


@CONTRACT.method(roles=None, params={"base": p_currency, "rates": p_list(p_rate, 64)},
                 optional={"as_of_ms": p_int(0, 2**62), "order_ref": p_text(64)})
def publish_rates(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator publishes reference rates against ``base`` (each replaces that currency's
    rate), as of ``as_of_ms`` (default: the block's time, or a pending order's; never later
    than it, nor already stale, nor older than the rate it replaces); event ``rates_published``.

    Where seizures need more than one regulator (governance ``set_seize_approvals``), a
    publication that gives a currency its first rate, replaces a stale one, or moves one by
    more than a fifth either way (:func:`_moves_far`) is such an order (decision 191): it waits
    at ``rate/<order_ref>`` (``order_ref`` default: this transaction's id; event
    ``rate_pending``) until as many regulators have sent the same publication with that
    ``order_ref``. One regulator key moved every bank's base-currency limits as far as it
    liked: 1 cent per 10^15 JPY opened them, a huge rate refused every payment (red-team round
    10, R10-L1)."""
    _require_regulator(state, ctx)
    base, now = args["base"], ctx.timestamp_ms
    ref = args.get("order_ref", ctx.tx_hex)
    pending = state.get(NAME, "rate/" + ref) if "order_ref" in args else None
    as_of = args.get("as_of_ms", pending["order"]["as_of_ms"] if pending else now)
    if as_of > now:
        raise ContractError("as_of_ms is later than the block's time", "bad_field")
    if now - as_of > MAX_RATE_AGE_MS:
        raise ContractError(f"as_of_ms is more than {MAX_RATE_AGE_MS // 3_600_000} h old: "
                            f"the rates would be stale on arrival", "bad_field")
    gov.require_currency(state, base)
    old_record = state.peek(NAME, RATES_PREFIX + base) or {}
    record = dict(old_record)
    seen: set[str] = set()
    for r in args["rates"]:
        ccy = r["currency"]
        if ccy == base:
            raise ContractError(f"{ccy} is the base: its rate is 1", "bad_field")
        if ccy in seen:
            raise ContractError(f"{ccy} is given twice", "bad_field")
        seen.add(ccy)
        gov.require_currency(state, ccy)
        old = record.get(ccy)
        if old is not None and old["time_ms"] > as_of:
            raise ContractError(f"the published {ccy} rate is newer than as_of_ms", "bad_field")
        record[ccy] = {"per": r["per"], "base_units": r["base_units"], "time_ms": as_of,
                       "by": ctx.sender_hex, "height": ctx.height}
    if len(record) > MAX_RATES:
        raise ContractError(f"at most {MAX_RATES} rates against one base", "bad_field")
    if pending is not None or (seize_approvals(state) > 1 and any(
            _moves_far(old_record.get(r["currency"]), r, now) for r in args["rates"])):
        order = {"base": base, "rates": list(args["rates"]), "as_of_ms": as_of}
        approvals = regulator_order(state, ctx, "rate", ref, order)
        if approvals is None:
            waiting: Mapping[str, Any] = state.get(NAME, "rate/" + ref) or {}
            return {"base": base, "pending": True, "order_ref": ref,
                    "approvals": len(waiting.get("approvals", [])),
                    "needed": seize_approvals(state)}
    state.put(NAME, RATES_PREFIX + base, record)
    currencies = sorted(seen)
    ctx.emit("rates_published", {"base": base, "currencies": currencies, "as_of_ms": as_of,
                                 "by": ctx.sender_hex}, contract=NAME)
    return {"base": base, "currencies": currencies, "as_of_ms": as_of}
