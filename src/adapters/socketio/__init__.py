"""python-socketio adapters: the server the entrypoints register handlers on, its JSON
codec, and the Broadcaster that delivers presence changes to rooms."""
