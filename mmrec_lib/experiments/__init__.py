"""Runs: one run function per paper (``sequential`` for paper B, ``rating`` for paper A), the
configs behind each table (``grids``), the run store (``store``), sweeps (``sweep``) and the
grid search (``tuning``)."""
