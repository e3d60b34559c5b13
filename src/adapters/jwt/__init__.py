"""JWT adapters. authlib 1.9 verifies through joserfc (same maintainer); we call joserfc
directly and keep authlib for what it still owns, such as fetching a JWKS."""
