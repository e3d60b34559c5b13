"""presence-gateway: real-time presence for chat applications over Socket.IO."""

__version__ = "0.1.0"
