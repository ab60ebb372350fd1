"""The simulated USDⓈ-M perpetual: the pure engine (``engine``; ``margin``: positions and margin arithmetic;
``basis``: basis and funding; ``records``: what it reports) and the Binance futures protocol around it
(``venue``, ``rest``, ``ws``, ``wire``), served by ``mmbot sim`` beside spot when ``sim.perps`` lists any."""
