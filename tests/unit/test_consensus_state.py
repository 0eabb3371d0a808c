"""The replica's state module holds fields and reads only: every transition is in engine.py."""

from __future__ import annotations

import ast
from pathlib import Path

import chainfin.consensus.state as state_mod

BUILDERS = {"__init__", "_restore"}  # build the state; nothing else in state.py may assign it


def _assigned_attributes(fn: ast.FunctionDef) -> list[str]:
    out = []
    for node in ast.walk(fn):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                        and sub.value.id == "self":
                    out.append(sub.attr)
    return out


def test_only_the_builders_of_the_replica_state_assign_it():
    tree = ast.parse(Path(state_mod.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ReplicaState")
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
    assert {m.name for m in methods} >= BUILDERS
    for m in methods:
        if m.name not in BUILDERS:
            assert _assigned_attributes(m) == [], f"{m.name} changes the state"


def test_the_state_module_emits_no_action():
    src = Path(state_mod.__file__).read_text()
    for action in ("Send(", "Persist(", "FetchBlocks(", "ExecuteBlock(", "BuildBlock("):
        assert action not in src
