"""mmbot: an inventory-aware market-making bot."""

from bot._native_guard import check as _check

__version__ = "0.1.0"
_BUILD = _check()  # before any compiled module can be imported: see bot/_native_guard.py


def compiled() -> str:
    """Which build of the hot modules runs: "mypyc", "pure", or "stale" (a mypyc build whose sources were
    edited after it was built: the source runs, see bot/_native_guard.py)."""
    return _BUILD
