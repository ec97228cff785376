"""Integration tests of the registry package on real PostgreSQL."""
