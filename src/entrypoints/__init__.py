"""The outside of the gateway: settings, the container, the ASGI app, socket handlers,
HTTP routes and the command line."""
