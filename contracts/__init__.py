"""Contract modules that run on the chainfin ledger (deterministic, no I/O)."""
