"""The mypyc build's staleness guard (bot/_native_guard.py), on a copy of the package in a fresh interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import bot

PACKAGE = Path(bot.__file__).parent
PROBE = (
    "import json, warnings\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    import bot\n"
    "import bot.core.reconcile, bot.core.ticks, bot.research.backtest\n"
    "from bot.core.reconcile import Target\n"
    "print(json.dumps({'build': bot.compiled(), 'warnings': [str(w.message) for w in caught],\n"
    "    'files': {m: __import__(m, fromlist=['x']).__file__ for m in\n"
    "              ('bot.core.reconcile', 'bot.core.ticks', 'bot.research.backtest')},\n"
    "    'target': repr(Target('buy', 1.0, 2.0))}))\n"
)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _probe(root: Path, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("MMBOT_PURE", "PYTHONPATH")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, env={**environ, "PYTHONPATH": str(root), **env},
        capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(out.stdout)


def _compiled_here() -> bool:
    return bot.compiled() == "mypyc"


def test_an_extension_the_manifest_does_not_vouch_for_is_never_loaded(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    # a file no loader could load where ticks' extension would be, and no manifest naming it
    (root / "bot" / "core" / f"ticks{EXTENSION_SUFFIXES[0]}").write_bytes(b"not a shared library")
    (root / "bot" / "_compiled.txt").unlink(missing_ok=True)
    seen = _probe(root)
    assert seen["build"] == "stale"
    assert len(seen["warnings"]) == 1 and "bot.core.ticks" in seen["warnings"][0]
    assert "make install" in seen["warnings"][0]
    assert all(f.endswith(".py") for f in seen["files"].values()), seen["files"]
    assert seen["target"] == "Target(side='buy', price=1.0, amount=2.0)"


def test_mmbot_pure_loads_the_sources_without_a_warning(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "bot" / "core" / f"ticks{EXTENSION_SUFFIXES[0]}").write_bytes(b"not a shared library")
    seen = _probe(root, MMBOT_PURE="1")
    assert seen["build"] == "pure" and seen["warnings"] == []
    assert all(f.endswith(".py") for f in seen["files"].values()), seen["files"]


@pytest.mark.skipif(not _compiled_here(), reason="this install is pure Python (no mypyc build to check)")
def test_editing_one_compiled_source_sends_the_whole_group_to_source(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert all(not f.endswith(".py") for f in _probe(root)["files"].values())  # the copy runs compiled
    reconcile = root / "bot" / "core" / "reconcile.py"
    reconcile.write_text(reconcile.read_text() + "\n# edited after the build\n")
    seen = _probe(root)
    assert seen["build"] == "stale" and "bot.core.reconcile" in seen["warnings"][0]
    # ticks and backtest did not change, but they are compiled against the old reconcile: source too
    assert all(f.endswith(".py") for f in seen["files"].values()), seen["files"]


def test_a_damaged_manifest_vouches_for_nothing(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "bot" / "core" / f"ticks{EXTENSION_SUFFIXES[0]}").write_bytes(b"not a shared library")
    (root / "bot" / "_compiled.txt").write_bytes(b"bot.core.ticks\n\xff\xfe garbage line here\n")
    seen = _probe(root)  # no traceback at `import bot`
    assert seen["build"] == "stale" and "bot.core.ticks" in seen["warnings"][0]
    assert all(f.endswith(".py") for f in seen["files"].values()), seen["files"]
