"""Shared test helpers (plain functions, no fixtures): synthetic signals, the tiny model, crafted .vqc files.

Test modules import from here, never from each other; fixtures live in tests/conftest.py.
"""
