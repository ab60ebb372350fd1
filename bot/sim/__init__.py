"""A Binance-spot-compatible simulated exchange that unmodified ccxt trades against over loopback.

Layers: ``settings`` (config), ``book``/``accounts``/``market``/``engine`` (the pure core: order
book, balances, synthetic market, matching), ``filters``/``protocol``/``auth``/``ratelimit``/``faults``
(request rules and wire shapes), ``rest``/``ws_market``/``ws_api``/``admin``/``server`` (the aiohttp shell).
"""
