"""Admin endpoint (loopback only): inspect the exchange and switch faults at run time.

Loopback clients only (else 403 ``-2015``), and behind the ops server's guard (:func:`bot.ops.http.refusal`,
no token): the ``Host`` must be the sim's address or a loopback name (else 421, against DNS rebinding),
and a POST must be ``Content-Type: application/json`` with no foreign ``Origin`` (else 403), so a web page
in a browser on the same host can neither read the state nor switch faults on.

- ``GET /admin/state``: symbols (mid, update id, touch), accounts' balances, fees, total funds,
  connection counts, the current fault settings, and the rate limits with, per client address, the
  429s (``limited``) and 418s (``refused``, ``bans`` begun) it was answered.
- ``POST /admin/faults`` with a JSON object of ``FaultSettings`` fields to change, plus the one-shot
  actions ``{"gap_next": n}`` (skip the next n depth diffs) and ``{"drop_now": true}`` (close every
  WebSocket now). Returns the new fault settings; bad input -> HTTP 400 with a reason.
- ``POST /admin/perp/faults`` (when perpetuals are simulated; else 404): ``PerpFaultSettings`` fields for
  ``/fapi`` and ``/fstream`` only, plus the one-shot ``{"gap_next": n}``, ``{"drop_now": true}``,
  ``{"basis_shock_bps": x}`` (move every perpetual's basis by x bps now) and ``{"funding_now": true}``
  (settle funding now). ``GET /admin/state`` then has ``perps`` (null without perpetuals).
- ``POST /admin/rate_limits`` with a JSON object of ``RateLimitSettings`` fields to change (e.g. a small
  ``weight_per_minute`` and ``weight_window`` to rehearse 429s and 418s). Returns the new limits; bad
  input -> HTTP 400.
"""

from __future__ import annotations

import ipaddress
import json
import math
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.ops.http import allowed_host_names, facts_of, refusal
from bot.sim.accounts import fmt_atoms
from bot.sim.wire import SIM


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _forbidden() -> web.Response:
    return web.json_response({"code": -2015, "msg": "admin endpoint is loopback-only"}, status=403)


def _refused(request: web.Request) -> web.Response | None:
    """The response refusing a request that is not from loopback or fails the ops guard, else None."""
    if not _loopback(request):
        return _forbidden()
    why = refusal(facts_of(request), allowed_host_names(request.app[SIM].host), None)
    return None if why is None else web.json_response({"error": why.error}, status=why.status)


def state(sim: Any) -> dict[str, Any]:
    ex = sim.exchange
    symbols = {}
    for sym in ex.symbols.values():
        bid, ask = sym.book.best("BUY"), sym.book.best("SELL")
        symbols[sym.name] = {
            "id": sym.id,
            "mid": fmt_atoms(round(sym.market.mid * sym.tick_atoms)),
            "update_id": sym.update_id,
            "best_bid": fmt_atoms(bid * sym.tick_atoms) if bid is not None else None,
            "best_ask": fmt_atoms(ask * sym.tick_atoms) if ask is not None else None,
            "trades": sym.stats.count,
        }
    accounts = {
        a.name: {
            "free": {k: fmt_atoms(v) for k, v in sorted(a.free.items())},
            "locked": {k: fmt_atoms(v) for k, v in sorted(a.locked.items()) if v},
        }
        for a in ex.ledger.accounts.values()
        if a.name != "house"
    }
    return {
        "url": sim.url,
        "symbols": symbols,
        "accounts": accounts,
        "fees_collected": {k: fmt_atoms(v) for k, v in sorted(ex.ledger.fees.items())},
        "total_funds": {k: fmt_atoms(v) for k, v in sorted(ex.total_funds().items())},
        "connections": {"market": len(sim.market_hub.connections), "user": len(sim.user_hub.connections)},
        "faults": sim.faults.settings.model_dump(),
        "rate_limits": {**sim.limiter.settings.model_dump(), "clients": sim.limiter.stats()},
        "perps": perp_state(sim.perp) if sim.perp is not None else None,
    }


def perp_state(venue: Any) -> dict[str, Any]:
    """The perpetuals: per symbol the mid, mark, index, basis, funding; per account the wallet and the
    open positions (the truth, never lagged); the perpetual's faults and connection counts."""
    ex = venue.engine
    symbols = {}
    for sym in ex.symbols.values():
        mark, index = ex.mark_price(sym.id), ex.index_price(sym.id)
        bid, ask = sym.book.best("BUY"), sym.book.best("SELL")
        symbols[sym.name] = {
            "id": sym.id,
            "spot": sym.spec.spot,
            "mid": fmt_atoms(round(sym.market.mid * sym.tick_atoms)),
            "mark": fmt_atoms(mark),
            "index": fmt_atoms(index),
            "basis_bps": round(ex.basis_bps(sym.id), 4),
            "funding_rate": f"{ex.funding_rate(sym.id):.8f}",
            "next_funding_ms": ex.next_funding_time(sym.id),
            "update_id": sym.update_id,
            "best_bid": fmt_atoms(bid * sym.tick_atoms) if bid is not None else None,
            "best_ask": fmt_atoms(ask * sym.tick_atoms) if ask is not None else None,
        }
    accounts = {}
    for acct in venue.accounts():
        info = ex.account_info(acct)
        accounts[acct.name] = {
            "wallet": fmt_atoms(info.wallet),
            "unrealized": fmt_atoms(info.unrealized),
            "margin_balance": fmt_atoms(info.margin_balance),
            "available": fmt_atoms(info.available),
            "dual_side": ex.dual_side(acct),
            "positions": [
                {"symbol": p.symbol, "position_side": p.position_side, "amount": fmt_atoms(p.amount),
                 "entry_price": f"{p.entry_price:.8f}", "unrealized": fmt_atoms(p.unrealized)}
                for p in ex.positions(acct) if p.amount
            ],
            "open_orders": len(ex.open_orders(acct)),
        }
    return {
        "symbols": symbols,
        "accounts": accounts,
        "connections": {"market": len(venue.market_hub.connections), "user": len(venue.user_streams.connections)},
        "faults": venue.faults.settings.model_dump(),
    }


async def get_state(request: web.Request) -> web.Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    return web.json_response(state(request.app[SIM]))


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the response refusing it (not loopback, foreign Origin or not JSON:
    403; foreign Host: 421; not an object: 400)."""
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    return body


def _invalid(exc: ValidationError) -> web.Response:
    errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
    return web.json_response({"error": "; ".join(errors)}, status=400)


async def post_faults(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    sim = request.app[SIM]
    gap_next = body.pop("gap_next", 0)
    drop_now = body.pop("drop_now", False)
    if not isinstance(gap_next, int) or isinstance(gap_next, bool) or gap_next < 0:
        return web.json_response({"error": "gap_next must be a non-negative integer"}, status=400)
    if not isinstance(drop_now, bool):
        return web.json_response({"error": "drop_now must be true or false"}, status=400)
    try:
        settings = sim.set_faults(gap_next=gap_next, drop_now=drop_now, **body)
    except ValidationError as exc:
        return _invalid(exc)
    return web.json_response({"faults": settings.model_dump()})


async def post_perp_faults(request: web.Request) -> web.Response:
    """``PerpFaultSettings`` fields plus the one-shot ``gap_next``, ``drop_now``, ``basis_shock_bps`` (move
    every perpetual's basis by that many bps now) and ``funding_now`` (settle funding now)."""
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    venue = request.app[SIM].perp
    if venue is None:
        return web.json_response({"error": "no perpetuals are simulated (sim.perps is empty)"}, status=404)
    gap_next = body.pop("gap_next", 0)
    drop_now = body.pop("drop_now", False)
    shock = body.pop("basis_shock_bps", None)
    funding_now = body.pop("funding_now", False)
    if not isinstance(gap_next, int) or isinstance(gap_next, bool) or gap_next < 0:
        return web.json_response({"error": "gap_next must be a non-negative integer"}, status=400)
    if not isinstance(drop_now, bool):
        return web.json_response({"error": "drop_now must be true or false"}, status=400)
    if not isinstance(funding_now, bool):
        return web.json_response({"error": "funding_now must be true or false"}, status=400)
    if shock is not None and (isinstance(shock, bool) or not isinstance(shock, int | float)
                              or not math.isfinite(shock)):
        return web.json_response({"error": "basis_shock_bps must be a number"}, status=400)
    try:
        settings = venue.set_faults(gap_next=gap_next, drop_now=drop_now, **body)
    except ValidationError as exc:
        return _invalid(exc)
    if shock is not None:
        venue.shock_basis(float(shock))
    if funding_now:
        venue.funding_now()
    return web.json_response({"perp_faults": settings.model_dump()})


async def post_rate_limits(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    try:
        limits = request.app[SIM].set_rate_limits(**body)
    except ValidationError as exc:
        return _invalid(exc)
    return web.json_response({"rate_limits": limits.model_dump()})


def routes() -> list[web.RouteDef]:
    return [web.get("/admin/state", get_state), web.post("/admin/faults", post_faults),
            web.post("/admin/rate_limits", post_rate_limits), web.post("/admin/perp/faults", post_perp_faults)]
