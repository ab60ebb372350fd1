"""Operations: Prometheus metrics and the ops HTTP server (/metrics, /healthz, /readyz, /status, POST /kill)."""

from __future__ import annotations

from bot.ops.health import readiness
from bot.ops.http import OpsServer, kill_routes, start_ops_server
from bot.ops.metrics import REACTION_BUCKETS, Metrics
from bot.ops.status import status_document, symbol_status

__all__ = [
    "REACTION_BUCKETS",
    "Metrics",
    "OpsServer",
    "kill_routes",
    "readiness",
    "start_ops_server",
    "status_document",
    "symbol_status",
]
