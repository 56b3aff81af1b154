"""Lessons: one module per experiment family, each built on the core and drawn by helpers.view."""
