"""The package list of a run's system info, read from metadata heads."""

from __future__ import annotations

from importlib import metadata

from steward.tracking.system_info import installed_packages


def test_installed_packages_match_the_full_metadata_parse() -> None:
    expected = {
        dist.metadata["Name"].lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    assert installed_packages() == expected
    assert "sqlalchemy" in expected
