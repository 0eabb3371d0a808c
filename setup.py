"""Build glue: the ledger's hot pure-Python modules compiled with mypyc when the machine can.

Everything else is in pyproject.toml. The modules named in ``chainfin/compiled.py`` (the
canonical codec, the transaction tree and the state tree: the floor every node runs for every
block) are compiled to C extensions when mypyc and a C compiler are there; if either is missing
or the compile fails, the install goes on and the same modules run as Python (decision 96).
``CHAINFIN_PURE=1`` at install time skips the compile; at run time it makes an installed copy use
the Python modules.

The state tree's batch update is also written in C (``chainfin/_smt_fast.c``, the extension
``chainfin._smt_fast``): built with the C compiler alone (no mypyc, no OpenSSL headers: it loads
the system's libcrypto for SHA-256 when imported), and optional on its own: a failed build
leaves the update to the compiled or Python ``chainfin.smt_update``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
_compiled = runpy.run_path(str(HERE / "chainfin" / "compiled.py"))


def _say(msg: str) -> None:
    print(f"chainfin: {msg}", file=sys.stderr)


# the C tree update; built first, and `optional`: build_ext warns and goes on when it fails
C_UPDATE = Extension(_compiled["C_UPDATE"], ["chainfin/_smt_fast.c"], optional=True,
                     extra_compile_args=["-O2", "-std=c11"])


class OptionalBuildExt(build_ext):
    """build_ext that falls back to the Python modules instead of failing the install: the
    mypyc-compiled modules share one library, so it is all of them or none (the C tree update
    stays when it was built)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # no compiler, no headers, a compile error
            for ext in self.extensions:
                if ext.name != C_UPDATE.name:
                    Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            _say(f"compiled modules not built ({e}); the Python modules run instead")
        if self.extensions:
            self._record()

    def _record(self) -> None:
        """Write what was compiled (chainfin/compiled.py's RECORD) beside the extensions: in
        the build directory (a wheel) and, for an editable install, in the source tree."""
        sources = _compiled["source_digests"](HERE)
        sources[C_UPDATE.name] = _compiled["c_source_digest"](HERE)
        record = json.dumps({"sources": sources}, indent=1, sort_keys=True)
        dirs = {Path(self.build_lib) / "chainfin"}
        if self.inplace or self.editable_mode:
            dirs.add(HERE / "chainfin")
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
            (d / _compiled["RECORD"]).write_text(record + "\n")


def _ext_modules() -> list:
    if _compiled["pure_requested"](os.environ):
        _say("CHAINFIN_PURE is set: the Python modules only")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as e:
        _say(f"mypyc not available ({e}); the Python modules run instead")
        return [C_UPDATE]
    paths = [m.replace(".", "/") + ".py" for m in _compiled["MODULES"]]
    try:
        return [C_UPDATE, *mypycify(paths, opt_level="3", verbose=False)]
    except (Exception, SystemExit) as e:  # mypyc exits on a type error it cannot compile
        _say(f"mypyc could not compile {paths} ({e}); the Python modules run instead")
        return [C_UPDATE]


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
