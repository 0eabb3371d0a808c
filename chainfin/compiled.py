"""Which of the ledger's hot modules run compiled, and the way back to pure Python (decision 96).

``setup.py`` compiles :data:`MODULES` with mypyc when it can; Python then imports the extension
(``smt.cpython-311-x86_64-linux-gnu.so``) instead of the ``.py`` beside it. Both are the same
source, and a test checks they give the same bytes. :func:`select`, called when ``chainfin`` is
first imported, makes the interpreter load the ``.py`` files instead when

- ``CHAINFIN_PURE`` is set (to ``1``/``true``/``yes``): to compare, or to rule the compiled code
  out; or
- a source is not the one its extension was compiled from (a developer edited the ``.py``
  after the install: the stale extension would silently run the old code): ``setup.py`` writes
  the SHA-256 of each compiled source to ``chainfin/compiled-sources.json`` beside the
  extensions, and a warning says to reinstall when one differs (or the record is missing); or
- only some of the modules have an extension (they share one compiled library: all or none).

Beside them, ``setup.py`` builds :data:`C_UPDATE`, the state tree's batch update hand-written in
C (``chainfin/_smt_fast.c``: the same results as :func:`chainfin.smt_update.run_update`, several
times faster). It is optional too: :meth:`chainfin.smt.SparseMerkleTree.update` calls it
(:func:`c_tree_update`) when it was built and imports, neither ``CHAINFIN_PURE`` nor
``CHAINFIN_C_UPDATE=0`` (the C update alone off, to compare) is set and its source is the one
recorded at the build; otherwise the update runs as mypyc-compiled or plain Python like the
rest.

:func:`status` says what runs; ``/v1/status`` and ``chainfin bench``'s JSON carry it, so a
figure always says which code produced it. No third-party imports here: ``setup.py`` reads
:data:`MODULES` and :func:`pure_requested` before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["C_UPDATE", "MODULES", "RECORD", "c_source_digest", "c_tree_update", "pure_requested",
           "select", "source_digests", "status"]

MODULES = (
    "chainfin.codec",
    "chainfin.merkle",
    "chainfin.smt_verify",
    "chainfin.smt",
    "chainfin.smt_update",
    "chainfin.smt_prune",
)

#: the C tree update (chainfin/_smt_fast.c), built beside MODULES but not one of them
C_UPDATE = "chainfin._smt_fast"
_C_SOURCE = ("chainfin", "_smt_fast.c")

#: the record of what was compiled, beside this file: {"sources": {module: SHA-256 hex}}
RECORD = "compiled-sources.json"

_ROOT = Path(__file__).resolve().parent.parent
_reason: str | None = None  # why the Python modules run although extensions exist
_running_compiled = False  # what select() decided: every module from its extension
# what c_tree_update() decided (once): its update function or None, and why not
_c_update: Callable[..., Any] | None = None
_c_reason: str | None = None
_c_decided = False


def pure_requested(environ: Mapping[str, str]) -> bool:
    """True when ``CHAINFIN_PURE`` asks for the Python modules."""
    return environ.get("CHAINFIN_PURE", "").strip().lower() in ("1", "true", "yes")


def _source(name: str, root: Path = _ROOT) -> Path:
    return root.joinpath(*name.split(".")).with_suffix(".py")


def _extension(name: str, root: Path) -> Path | None:
    src = _source(name, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = src.with_suffix(suffix)
        if p.exists():
            return p
    return None


def source_digests(root: Path = _ROOT) -> dict[str, str]:
    """SHA-256 (hex) of each module's ``.py`` under ``root``: what ``setup.py`` records when it
    compiles them and what :func:`select` compares at import."""
    return {name: hashlib.sha256(_source(name, root).read_bytes()).hexdigest()
            for name in MODULES}


def _recorded(root: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(root.joinpath("chainfin", RECORD).read_text())
        sources = record["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sources if isinstance(sources, dict) else None


def _pure_reason(environ: Mapping[str, str], root: Path = _ROOT) -> str | None:
    exts = {name: _extension(name, root) for name in MODULES}
    built = [n for n, p in exts.items() if p is not None]
    if not built:
        return None  # nothing compiled: Python's own import finds the .py files
    if pure_requested(environ):
        return "CHAINFIN_PURE is set"
    if len(built) != len(MODULES):
        missing = ", ".join(n for n in MODULES if exts[n] is None)
        return f"the compiled build is incomplete (no extension for {missing})"
    recorded = _recorded(root)
    if recorded is None:
        return f"no readable chainfin/{RECORD} says what the extensions were compiled from"
    for name, digest in source_digests(root).items():
        if recorded.get(name) != digest:
            return (f"{_source(name, root).relative_to(root)} is not the source its extension "
                    "was compiled from (reinstall: pip install -e .)")
    return None


class _PureFinder:
    """Finds the ``.py`` of :data:`MODULES` before the path finder finds their extensions."""

    @staticmethod
    def find_spec(fullname: str, path: Sequence[str] | None = None,
                  target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, _source(fullname))


def select(environ: Mapping[str, str] = os.environ) -> None:
    """Load the Python modules instead of the extensions when :func:`_pure_reason` says so.
    Called once, from ``chainfin/__init__.py``, before any of :data:`MODULES` is imported."""
    global _reason, _running_compiled
    _reason = _pure_reason(environ)
    _running_compiled = _reason is None and all(
        _extension(name, _ROOT) is not None for name in MODULES)
    if _reason is None or any(f is _PureFinder for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _PureFinder)
    if not pure_requested(environ):
        warnings.warn(f"chainfin: running the Python modules: {_reason}", RuntimeWarning,
                      stacklevel=2)


def c_source_digest(root: Path = _ROOT) -> str | None:
    """SHA-256 (hex) of :data:`C_UPDATE`'s C source under ``root``, None when it is not there
    (an install from a wheel: nothing to compare)."""
    try:
        return hashlib.sha256(root.joinpath(*_C_SOURCE).read_bytes()).hexdigest()
    except OSError:
        return None


def _load_c_update(environ: Mapping[str, str], root: Path = _ROOT
                   ) -> tuple[Callable[..., Any] | None, str | None]:
    if pure_requested(environ):
        return None, "CHAINFIN_PURE is set"
    if environ.get("CHAINFIN_C_UPDATE", "").strip().lower() in ("0", "false", "no"):
        return None, "CHAINFIN_C_UPDATE=0"
    try:
        mod = importlib.import_module(C_UPDATE)
    except ImportError as e:
        return None, f"not built or not loadable ({e})"
    digest = c_source_digest(root)
    if digest is not None:
        recorded = _recorded(root)
        if recorded is None or recorded.get(C_UPDATE) != digest:
            reason = (f"{Path(*_C_SOURCE)} is not the source its extension was compiled from "
                      "(reinstall: pip install -e .)")
            warnings.warn(f"chainfin: the tree update runs without its C extension: {reason}",
                          RuntimeWarning, stacklevel=3)
            return None, reason
    update: Callable[..., Any] = mod.update
    return update, None


def c_tree_update() -> Callable[..., Any] | None:
    """The C tree update (``chainfin._smt_fast.update(tree, root, entries)``: the result of
    :func:`chainfin.smt_update.run_update`, or None where that must run instead) when it is to
    run, else None. Decided at the first call."""
    global _c_update, _c_reason, _c_decided
    if not _c_decided:
        _c_update, _c_reason = _load_c_update(os.environ)
        _c_decided = True
    return _c_update


def status() -> dict[str, Any]:
    """What runs (decided once, by :func:`select`): ``compiled`` is true when every module in
    :data:`MODULES` runs from its extension; ``reason`` says why the Python modules run although
    extensions exist. ``c_tree_update`` is true when the state tree's update runs in C
    (:func:`c_tree_update`); ``c_tree_update_reason`` says why not."""
    c = c_tree_update() is not None
    return {"compiled": _running_compiled, "modules": list(MODULES), "reason": _reason,
            "c_tree_update": c, "c_tree_update_reason": _c_reason}
