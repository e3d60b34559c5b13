"""The pure core: statuses, the presence state machine, use cases and the ports they need.

Nothing here imports an I/O library or asyncio; anyio is allowed so that the core runs
(and is tested) under both asyncio and Trio.
"""
