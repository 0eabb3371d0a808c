"""Which of the ledger's hot modules run compiled, and the way back to pure Python (decision 96).

``setup.py`` compiles :data:`MODULES` with mypyc when it can; Python then imports the extension
(``smt.cpython-311-x86_64-linux-gnu.so``) instead of the ``.py`` beside it. Both are the same
source, and a test checks they give the same bytes. :func:`select`, called when ``chainfin`` is
first imported, makes the interpreter load the ``.py`` files instead when

- ``CHAINFIN_PURE`` is set (to ``1``/``true``/``yes``): to compare, or to rule the compiled code
  out; or
- an extension is older than its source (a developer edited the ``.py`` after the install: the
  stale extension would silently run the old code): a warning says to reinstall; or
- only some of the modules have an extension (they share one compiled library: all or none).

:func:`status` says what runs; ``/v1/status`` and ``chainfin bench``'s JSON carry it, so a
figure always says which code produced it. No third-party imports here: ``setup.py`` reads
:data:`MODULES` and :func:`pure_requested` before anything is installed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MODULES", "pure_requested", "select", "status"]

MODULES = (
    "chainfin.codec",
    "chainfin.merkle",
    "chainfin.smt_verify",
    "chainfin.smt",
    "chainfin.smt_update",
)

_ROOT = Path(__file__).resolve().parent.parent
_reason: str | None = None  # why the Python modules run although extensions exist


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
    for name, ext in exts.items():
        assert ext is not None
        src = _source(name, root)
        if ext.stat().st_mtime < src.stat().st_mtime:
            return (f"{src.relative_to(root)} changed after it was compiled "
                    "(reinstall: pip install -e .)")
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
    global _reason
    _reason = _pure_reason(environ)
    if _reason is None or any(f is _PureFinder for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _PureFinder)
    if not pure_requested(environ):
        warnings.warn(f"chainfin: running the Python modules: {_reason}", RuntimeWarning,
                      stacklevel=2)


def status() -> dict[str, Any]:
    """What runs: ``compiled`` is true when every module in :data:`MODULES` runs from its
    extension; ``reason`` says why the Python modules run although extensions exist."""
    built = all(_extension(name, _ROOT) is not None for name in MODULES)
    return {"compiled": built and _reason is None, "modules": list(MODULES), "reason": _reason}
