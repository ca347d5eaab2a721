"""Experiment tracking: runs, params, metrics, tags, artifacts and system info."""
