"""The process: how an instance serves, starts, stops and logs, and the ``presence-gateway`` command."""
