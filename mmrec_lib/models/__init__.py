"""Recommender models: rating prediction (paper A) in ``rating``, sequential (paper B)."""
