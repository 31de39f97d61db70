"""Durable run records: the RunStore protocol and its SQLite and in-memory implementations.

May import astrum.report, astrum.core, astrum.lifecycle.
"""
