"""Implementations of the domain's ports, one folder per technology."""
