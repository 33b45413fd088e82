"""Helpers shared by the tests (not fixtures)."""
