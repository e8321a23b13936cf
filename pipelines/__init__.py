"""Stage wiring and executors: the same list of stages runs in-process or on Ray Data."""
