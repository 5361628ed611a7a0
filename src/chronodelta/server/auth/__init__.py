"""Authentication: API clients and their secrets, access tokens, signing keys,
the per-request access check, and the token, discovery and JWKS routes."""
