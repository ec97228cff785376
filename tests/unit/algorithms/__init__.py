"""Unit tests of the algorithms package."""
