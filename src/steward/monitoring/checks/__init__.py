"""Checks: drift, data quality and performance (realised and estimated) of a window.

Built on ``statistics``; each returns a plain result with a ``metrics()`` dict
for alert rules.
"""
