"""Alerts: rules over metric dicts, channels that deliver notices, de-duplication.

Knows nothing of checks or monitors: rules read flat ``name -> number`` dicts.
"""
