"""chainfin: a permissioned BFT ledger for trade finance and cross-border settlement."""

from chainfin import compiled as _compiled

__version__ = "0.1.0"

_compiled.select()  # before any compiled module is imported (chainfin/compiled.py)
