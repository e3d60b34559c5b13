"""The HTTP surface beside the socket: the presence API, health, metrics, CORS, the demo
page and the guards on long-polling requests."""
