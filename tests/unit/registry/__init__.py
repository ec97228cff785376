"""Unit tests of the registry package."""
