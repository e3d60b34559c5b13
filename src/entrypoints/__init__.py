"""The outside of the gateway, in rooms by what they serve: ``process/`` (serving, start
and stop, the command line), ``http/`` (the HTTP surface), ``sockets/`` (the socket
surface) and ``wiring/`` (settings and the composition root). ``asgi.py`` is the app
factory hypercorn is pointed at; ``error_body.py`` and ``limits.py`` serve every room."""
