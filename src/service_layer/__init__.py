"""The application: use cases, watching, write-behind, held sessions, restore and the
background loops that keep presence true over time.

It drives the domain's rules through its ports; retries, timeouts, logging and anyio live
here, so that the domain stays readable as rules alone.
"""
