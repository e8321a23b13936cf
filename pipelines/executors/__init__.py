"""Executors: run the same stage list in-process (local) or on Ray Data (ray)."""
