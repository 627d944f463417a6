"""Shared test helpers (factories, servers, chain readers), imported as ``tests.support.<module>``;
the fixtures that use them are in tests/conftest.py."""
