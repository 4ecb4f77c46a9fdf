"""Analyses of finished runs and features: paired tests (``stats``, ``significance``), user
clusters and attention (``clusters``), item similarity (``similarity``)."""
