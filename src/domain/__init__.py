"""The rules: statuses, the presence state machine, ids, budgets, errors and the ports the
application needs.

Nothing here does I/O, schedules work, logs or reads a clock; the service layer does that.
"""
