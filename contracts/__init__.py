"""Contract modules that run on the chainfin ledger (deterministic, no I/O).

``CONTRACTS`` is the network's registry: fixed per software version (permissioned network),
looked up by :func:`chainfin.execution.execute_block`.
"""

from __future__ import annotations

from chainfin.execution import Contract
from contracts import credit_sharing, governance, risk, settlement, trade_documents

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (governance.CONTRACT, settlement.CONTRACT, trade_documents.CONTRACT,
              credit_sharing.CONTRACT, risk.CONTRACT)
}

__all__ = ["CONTRACTS"]
