"""Reports: self-contained HTML pages of a window's checks and of a monitor's trends.

The top layer of monitoring. ``DriftResult.to_html`` calls ``report.window``
lazily; that module needs only ``statistics`` at run time, so no import circle.
"""
