"""Unit tests of the experiments package."""
