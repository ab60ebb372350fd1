"""The simulated USDⓈ-M perpetual: the pure engine (``engine``, ``margin``, ``basis``, ``records``) and its
Binance futures protocol (``rest``, ``ws``, ``wire``), served by ``mmbot sim`` beside spot."""
