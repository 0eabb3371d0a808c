"""Deterministic test kit for the consensus engine (like etcd's ``rafttest``): the virtual
clock and toy ledger (:mod:`chainfin.testing.toyapp`) and the seeded simulated network
(:mod:`chainfin.testing.sim`). Tests and ``chainfin sim`` both use it; nothing in the node
imports it."""
