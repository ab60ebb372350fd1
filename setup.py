"""Optional mypyc build of the pure hot modules (pyproject.toml stays the metadata source).

``pip install .`` / ``pip install -e .`` compiles the modules in ``COMPILED`` with mypyc into one group (one
shared library ``bot/_native__mypyc*.so`` plus a small shim per module). The extensions are optional: without
a C compiler (python:3.11-slim), when mypy finds a type error in a compiled module, or with ``MMBOT_PURE=1`` at
build time, the install is pure Python.

All or nothing: if any extension of the group fails to build, every built one is removed (a shim without its
shared library would not import, and a partial group would mix compiled and source code). When the whole group
built, ``bot/_compiled.txt`` records the sha256 of each compiled module's source; ``bot/__init__.py`` compares
it at import and, if a source no longer matches (edited after the build), loads the whole group from source
with one warning (see ``bot._native_guard``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# Pure core only (no I/O, no asyncio); chosen by profiling the backtest replay and the live decision path.
COMPILED = [
    "bot/core/ticks.py",
    "bot/core/models.py",
    "bot/core/quote.py",
    "bot/core/limits.py",
    "bot/core/pipeline.py",
    "bot/core/reconcile.py",
    "bot/core/inventory.py",
    "bot/core/markouts.py",
    "bot/core/estimators.py",
    "bot/core/strategy.py",
    "bot/paper/fills.py",
    "bot/research/events.py",
    "bot/research/colrows.py",
    "bot/research/l2book.py",
    "bot/research/backtest.py",
]
GROUP = "bot._native"  # the shared library is bot/_native__mypyc.<ext-suffix>
MANIFEST = "bot/_compiled.txt"
ROOT = Path(__file__).resolve().parent
_MANIFEST = ""


def _module(path: str) -> str:
    return path[: -len(".py")].replace("/", ".")


def manifest_text() -> str:
    """One line per compiled module: ``<module> <sha256 of its source>`` (read by bot._native_guard)."""
    lines = ["# mypyc build of these sources; written by setup.py, checked at `import bot`"]
    for path in COMPILED:
        digest = hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
        lines.append(f"{_module(path)} {digest}")
    return "\n".join(lines) + "\n"


def ext_modules() -> list:
    if os.environ.get("MMBOT_PURE"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # e.g. --no-build-isolation without mypy installed
        print("mmbot: mypy/mypyc not installed, building pure Python", file=sys.stderr)
        return []
    # modules these import but that are not compiled (bot.core.calibration -> numpy) are read for their types
    # only; numpy is not in the isolated build environment
    global _MANIFEST
    _MANIFEST = manifest_text()  # hashed before mypyc reads the sources
    try:
        exts = mypycify(
            ["--follow-imports=silent", "--ignore-missing-imports", *COMPILED],
            opt_level="3",
            group_name=GROUP,
        )
    except SystemExit:  # mypy found a type error in a compiled module (printed above): install pure Python
        print("mmbot: mypyc refused the sources (type errors above); building pure Python", file=sys.stderr)
        return []
    for ext in exts:
        ext.optional = True  # no compiler -> a warning and a pure install, not a failed install
    return exts


class BuildExt(build_ext):
    """build_ext that keeps the group whole and writes the source manifest next to what it built."""

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        outputs = [Path(self.get_ext_fullpath(ext.name)) for ext in self.extensions]
        package_dir = Path(self.get_ext_fullpath(GROUP + "__mypyc")).parent
        manifest = package_dir / Path(MANIFEST).name
        if self.inplace:  # an editable install: drop extensions an earlier build left for modules no longer listed
            keep = {p.resolve() for p in outputs}
            for old in package_dir.rglob("*.so"):
                if old.resolve() not in keep:
                    old.unlink()
        if all(p.exists() for p in outputs):
            manifest.write_text(_MANIFEST)
            return
        print("mmbot: the mypyc extensions did not all build; installing pure Python", file=sys.stderr)
        for p in outputs:
            p.unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)


setup(ext_modules=ext_modules(), cmdclass={"build_ext": BuildExt})
