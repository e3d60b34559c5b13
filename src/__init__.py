"""presence-gateway: real-time presence for chat applications over Socket.IO."""
