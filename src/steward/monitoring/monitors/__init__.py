"""Monitors: stored definitions that read windows, run the checks and raise alerts.

Uses ``statistics``, ``checks`` and ``alerts``; ``report`` sits above it.
"""
