"""The package list of a run's system info, read from metadata heads."""

from __future__ import annotations

import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from steward.tracking.system_info import HEAD_BYTES, _git_state, installed_packages


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


@pytest.mark.parametrize(
    ("before_name", "between"),
    [
        (0, 0),  # both in the first lines, as usual
        (HEAD_BYTES - 68, 0),  # the first read ends in "Version: 3"
        (3 * HEAD_BYTES, 0),  # both past the first read
        (0, 2 * HEAD_BYTES),  # Name first, Version far below
    ],
)
def test_name_and_version_are_found_wherever_the_headers_put_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before_name: int, between: int
) -> None:
    far = tmp_path / "far_tool-3.10.2.dist-info"
    far.mkdir()
    (far / "METADATA").write_text(
        f"Metadata-Version: 2.1\nSummary: {'x' * before_name}\nName: Far-Tool\n"
        f"Keywords: {'y' * between}\nVersion: 3.10.2\n\nName: Body-Not-Header\n"
    )
    late = tmp_path / "late_tool-1.0.dist-info"
    late.mkdir()
    (late / "METADATA").write_text("Name: Late-Tool\n\nVersion: 9.9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    packages = installed_packages()
    assert packages["far-tool"] == "3.10.2"
    assert packages["late-tool"] is None  # a Version after the headers is the body's
    assert "body-not-header" not in packages


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def test_git_state_of_a_repository_and_of_a_plain_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, plain = tmp_path / "repo", tmp_path / "plain"
    (repo / "src").mkdir(parents=True)
    plain.mkdir()
    _git(repo, "init", "-q", "-b", "trunk")
    (repo / "train.py").write_text("print(1)\n")
    _git(repo, "add", "train.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.chdir(repo / "src")  # found from a subfolder, as git finds it
    state = _git_state()
    assert state["branch"] == "trunk" and state["dirty"] is False
    assert state["root"] == str(repo.resolve()) and len(state["commit"]) == 40
    (repo / "train.py").write_text("print(2)\n")
    assert _git_state()["dirty"] is True
    monkeypatch.chdir(plain)
    assert _git_state() == {"commit": None}
