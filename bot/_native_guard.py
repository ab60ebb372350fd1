"""Staleness guard for the optional mypyc build (see setup.py); run once by ``import bot``.

A mypyc build leaves ``bot/_native__mypyc*.so`` and one shim extension per compiled module beside its ``.py``.
Python's path finder prefers the extension, so an edited source would silently keep running the old compiled
code. ``bot/_compiled.txt`` (written by the build) holds the sha256 of each compiled module's source. The build
is used only when every module with an extension under ``bot/`` is in the manifest, built, and unchanged since;
otherwise every one of them is loaded from its ``.py`` (all or nothing: compiled modules call each other
natively, so a mix would still run old code) and one warning says how to rebuild. ``MMBOT_PURE=1`` in the
environment loads the sources too, without the warning.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder, SourceFileLoader
from importlib.util import spec_from_file_location

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_PKG_DIR)
MANIFEST = os.path.join(_PKG_DIR, "_compiled.txt")


class _SourceFinder:
    """A meta-path finder, placed before the path finder, that gives the listed modules their ``.py``."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return spec_from_file_location(fullname, source, loader=SourceFileLoader(fullname, source))

    def invalidate_caches(self) -> None:
        pass


def _source(module: str) -> str:
    return os.path.join(_ROOT, *module.split(".")) + ".py"


def _extensions() -> set[str]:
    """The modules under ``bot/`` that have an extension beside their ``.py`` (none in a pure install)."""
    found = set()
    suffixes = tuple(EXTENSION_SUFFIXES)
    for folder, _, names in os.walk(_PKG_DIR):
        for name in names:
            if name.endswith(suffixes):
                stem = os.path.join(folder, name.split(".", 1)[0])
                if os.path.exists(stem + ".py"):
                    found.add(os.path.relpath(stem, _ROOT).replace(os.sep, "."))
    return found


def _manifest() -> dict[str, str]:
    """Module -> sha256 of the source it was compiled from ({} without a manifest). A line that is not
    ``<module> <digest>`` (a truncated or damaged file) vouches for nothing: its module counts as stale."""
    try:
        with open(MANIFEST, encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.split() for line in lines if not line.startswith("#"))
    return {fields[0]: fields[1] for fields in pairs if len(fields) == 2}


def _digest(module: str) -> str | None:
    try:
        with open(_source(module), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def check() -> str:
    """Route imports as the module docstring says; returns the build in use: "mypyc", "pure" or "stale"."""
    built, manifest = _extensions(), _manifest()
    group = built | manifest.keys()
    if not group:
        return "pure"
    if os.environ.get("MMBOT_PURE"):
        _force_source(group)
        return "pure"
    stale = sorted(m for m in group if m not in built or manifest.get(m) != _digest(m))
    if not stale:
        return "mypyc"
    _force_source(group)
    warnings.warn(
        f"mmbot: the mypyc build is stale ({', '.join(stale)}: edited, unlisted or missing since the build); "
        "running all of its modules from source. Rebuild with `make install` or `pip install -e .` "
        "(or set MMBOT_PURE=1 to always run the source).",
        RuntimeWarning,
        stacklevel=3,
    )
    return "stale"


def _force_source(modules: set[str]) -> None:
    finder = _SourceFinder({m: _source(m) for m in modules})
    at = next((i for i, f in enumerate(sys.meta_path) if f is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, finder)  # type: ignore[arg-type]
