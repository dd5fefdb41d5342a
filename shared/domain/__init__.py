"""The domain: operation states, the transition table, ids and the row model.

Nothing in here does I/O; everything is a pure function or a frozen value.
"""
