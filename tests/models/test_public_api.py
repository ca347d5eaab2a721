from __future__ import annotations

import subprocess
import sys

import steward


def test_models_is_exported_lazily() -> None:
    code = (
        "import sys, steward;"
        "heavy = [m for m in ('sklearn', 'pandas', 'sqlalchemy', 'skops') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert callable(steward.models.log)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_is_sorted_and_lists_models() -> None:
    assert "models" in steward.__all__
    assert steward.__all__ == sorted(steward.__all__)
    from steward import models

    assert models.__all__ == sorted(steward.models.__all__)
    assert all(hasattr(models, name) for name in models.__all__)
