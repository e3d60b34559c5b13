"""Redis adapters: presence shared by every gateway instance (Lua scripts, one round trip
per socket event), cross-instance room emits, and the ``presence:updates`` channel."""
