"""Offline research tools: the A–S 2008 Monte Carlo, recordings, the strategy comparison."""
