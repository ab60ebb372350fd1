"""The live shell around the pure core: feeds, orders, fills, the quoting loop and the service.

market (state) -> feed (book/trades) -> quoter (make_quote -> gate -> reconcile) -> orders (venue calls)
-> fills (user stream + REST) -> inventory. ``service.Service`` wires one set per symbol.
"""
