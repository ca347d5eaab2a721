"""Statistics: reading windows, mergeable summaries, tests and distances.

The bottom layer of monitoring: it knows columns and numbers, nothing of
checks, alerts or monitors.
"""
