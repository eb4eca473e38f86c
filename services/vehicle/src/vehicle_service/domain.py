"""The vehicle rules: pure functions and aggregates, no I/O; each rule's ID in its docstring."""
