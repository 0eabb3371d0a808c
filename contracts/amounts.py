"""Amounts as people read them: the one formatter of every contract's refusal messages and of
the trade report (decision 223).

Money on chain is integer minor units and an ISO 4217 code; a message that said ``only 3000000
USD is available`` was read by a desk as three million dollars (decision 218). A refusal says
an amount with its currency's decimals and, labelled, the minor units the API takes:
``USD 30,000.00 (3000000 minor units)``.

Imports nothing from ``contracts`` (every contract, governance included, may import it): the
currency's exponent is read from governance's ``currency/<CODE>`` record directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainfin.execution import ContractState
from chainfin.money import money

__all__ = ["money", "said"]

#: governance's contract name (``contracts.governance.NAME``; not imported: no cycle)
GOVERNANCE = "governance"



def said(state: ContractState, amount: int, currency: str) -> str:
    """An amount as a refusal message says it: the currency's decimals with its code, then the
    integer minor units the API takes (``USD 30,000.00 (3000000 minor units)``, ``JPY 5,000
    (5000 minor units)``, ``BHD 1.250 (1250 minor units)``). The receipt's error is ``{code,
    message}``, with no field for a number: the message is where a reader finds it.

    A currency the network does not know (a limit rule may name one before its currency is
    added) is said in minor units only, ``1500 minor units of XXX``: a message never fails."""
    cur: Mapping[str, Any] | None = state.peek(GOVERNANCE, "currency/" + currency)
    if cur is None:
        return f"{amount} minor units of {currency}"
    return f"{money(amount, currency, int(cur['exponent']))} ({amount} minor units)"
