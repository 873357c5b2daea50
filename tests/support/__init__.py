"""Helpers shared by the tests (never imported by the service or the benches)."""
