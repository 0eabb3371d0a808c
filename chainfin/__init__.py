"""chainfin: a permissioned BFT ledger for trade finance and cross-border settlement."""

__version__ = "0.1.0"
