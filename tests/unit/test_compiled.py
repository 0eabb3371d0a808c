"""The compiled hot modules (chainfin/compiled.py, decision 96) and their Python source give the
same bytes, and an installed copy says which of them runs."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chainfin import compiled

# One workload through every compiled module; prints a digest of everything it produced (bytes
# encoded, roots, paths, records written, proofs, verdicts) and whether it ran compiled.
WORKLOAD = textwrap.dedent('''
    import hashlib, json, random, sys
    from chainfin import codec, compiled, merkle, smt
    from chainfin.smt import EMPTY, SparseMerkleTree, verify_proof

    out = hashlib.sha256()
    def feed(x):
        out.update(repr(x).encode())

    rnd = random.Random(96)
    def value(depth=0):
        k = rnd.randrange(9 if depth < 3 else 6)
        if k == 0: return rnd.randrange(-2**63, 2**64)
        if k == 1: return rnd.randrange(-300, 300)
        if k == 2: return "".join(rnd.choice("aZ9_é€") for _ in range(rnd.randrange(40)))
        if k == 3: return rnd.randbytes(rnd.randrange(70))
        if k == 4: return rnd.choice([True, False, None])
        if k == 5: return rnd.randrange(2**63)
        if k == 6: return [value(depth + 1) for _ in range(rnd.randrange(5))]
        return {str(value(depth + 1)): value(depth + 1) for _ in range(rnd.randrange(5))}

    for _ in range(400):
        v = value()
        b = codec.encode(v)
        feed((b, codec.decode(b, canonical=True) == codec.canonicalize(v), codec.hash_value(v)))
        feed(codec.decode(bytearray(b)) == codec.decode(b))
        for bad in (lambda: codec.decode(b + b"\\x00"), lambda: codec.encode([v, 2**64]),
                    lambda: codec.encode({"x": [v, 1.5]})):
            try:
                bad()
            except codec.CodecError as e:
                feed(str(e))

    for n in range(1, 40):
        leaves = [rnd.randbytes(rnd.randrange(1, 50)) for _ in range(n)]
        r = merkle.root(leaves)
        for i in range(n):
            root, path = merkle.root_and_path(leaves, i)
            feed((root, path, merkle.verify_inclusion(leaves[i], i, n, path, r),
                  merkle.verify_inclusion(leaves[i] + b"x", i, n, path, r)))
        for m in range(n + 1):
            p = merkle.consistency_proof(leaves, m)
            feed((p, merkle.verify_consistency(m, n, merkle.root(leaves[:m]), r, p)))

    for digest_leaves in (False, True):
        nodes, state = {}, {}
        tree = SparseMerkleTree(nodes, state if digest_leaves else None)
        root = EMPTY
        for step in range(60):
            changes = {}
            for _ in range(rnd.randrange(1, 90)):
                key = b"k%d" % rnd.randrange(400)
                changes[key] = None if rnd.random() < 0.2 else rnd.randbytes(rnd.randrange(1, 40))
            batch = {}
            old = root
            root = tree.update(root, changes, batch)
            nodes.update(batch)
            for k, v in changes.items():
                if v is None:
                    state.pop(k, None)
                else:
                    state[k] = v
            feed((root, sorted(batch.items()), sorted(tree.stale_records(old, root))))
            for _ in range(10):
                key = b"k%d" % rnd.randrange(450)
                proof = tree.prove(root, key)
                got = tree.get(root, key)
                feed((got, proof.to_json(), verify_proof(root, key, got, proof),
                      verify_proof(root, key, b"other", proof)))

    print(json.dumps({"digest": out.hexdigest(), "compiled": compiled.status()["compiled"]}))
''')


def _run(tmp_path: Path, pure: bool) -> dict[str, object]:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    env = {k: v for k, v in os.environ.items() if k != "CHAINFIN_PURE"}
    if pure:
        env["CHAINFIN_PURE"] = "1"
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_the_python_modules_run_when_asked(tmp_path: Path) -> None:
    assert _run(tmp_path, pure=True)["compiled"] is False


def test_compiled_and_python_modules_give_the_same_bytes(tmp_path: Path) -> None:
    native = _run(tmp_path, pure=False)
    if not native["compiled"]:
        pytest.skip("this install has no compiled modules (mypyc or a C compiler missing at "
                    "install, or CHAINFIN_PURE set): nothing to compare")
    assert native["digest"] == _run(tmp_path, pure=True)["digest"]


def _fake_install(root: Path, exts: list[str], record: bool = True) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in compiled.MODULES:
        src = root.joinpath(*name.split(".")).with_suffix(".py")
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {name}\n")
        if name in exts:
            src.with_suffix(suffix).write_bytes(b"")
    if record:
        (root / "chainfin" / compiled.RECORD).write_text(
            json.dumps({"sources": compiled.source_digests(root)}))


def test_which_modules_run(tmp_path: Path) -> None:
    every = list(compiled.MODULES)
    _fake_install(tmp_path / "none", [], record=False)
    assert compiled._pure_reason({}, tmp_path / "none") is None  # Python's import finds the .py
    _fake_install(tmp_path / "all", every)
    assert compiled._pure_reason({}, tmp_path / "all") is None  # the extensions run
    assert compiled._pure_reason({"CHAINFIN_PURE": "yes"}, tmp_path / "all") == (
        "CHAINFIN_PURE is set")
    assert compiled._pure_reason({"CHAINFIN_PURE": "0"}, tmp_path / "all") is None
    _fake_install(tmp_path / "some", every[:-1])
    reason = compiled._pure_reason({}, tmp_path / "some")
    assert reason is not None and "incomplete" in reason and every[-1] in reason
    _fake_install(tmp_path / "unrecorded", every, record=False)
    reason = compiled._pure_reason({}, tmp_path / "unrecorded")
    assert reason is not None and compiled.RECORD in reason
    # a source edited after the install: its extension is stale, so none of them runs
    src = (tmp_path / "all").joinpath(*every[2].split(".")).with_suffix(".py")
    src.write_text(src.read_text() + "x = 1\n")
    reason = compiled._pure_reason({}, tmp_path / "all")
    assert reason is not None and "is not the source its extension was compiled from" in reason


def test_the_test_commands_install_runs_the_compiled_code() -> None:
    """Under CI (the README's test command: `pip install -e '.[dev]'` on a machine with a C
    compiler) both the mypyc modules and the C tree update are built and run: a build that
    failed quietly would leave every node slower with every other test still passing."""
    if not os.environ.get("CI") or compiled.pure_requested(os.environ):
        pytest.skip("only under CI (the README's install), without CHAINFIN_PURE")
    st = compiled.status()
    assert st["compiled"], st["reason"]
    assert st["c_tree_update"], st["c_tree_update_reason"]
