"""The wiring: settings from the environment, the secrets they name, and the containers
that choose which adapter serves which port."""
