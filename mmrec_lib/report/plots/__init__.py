"""Figures for the book: each function takes results and returns a matplotlib figure."""
