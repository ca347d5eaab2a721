"""``python -m steward.cli``: the same as the ``steward`` command."""

from steward.cli import main

main()
