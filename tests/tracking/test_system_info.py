"""The package list of a run's system info, read from metadata heads."""

from __future__ import annotations

import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from steward.tracking.system_info import installed_packages


def test_installed_packages_match_the_full_metadata_parse() -> None:
    expected = {
        dist.metadata["Name"].lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    assert installed_packages() == expected
    assert "sqlalchemy" in expected


def test_a_zip_on_the_path_is_read_through_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped_tool-1.2.dist-info/METADATA", "Name: Zipped-Tool\nVersion: 1.2\n\n")
    monkeypatch.syspath_prepend(str(archive))
    packages = installed_packages()
    assert packages["zipped-tool"] == "1.2"
    assert "sqlalchemy" in packages
