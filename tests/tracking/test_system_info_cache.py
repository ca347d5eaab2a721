"""The system info kept between processes: reused while unchanged, read again otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steward.tracking import system_info_cache
from steward.tracking.system_info import installed_packages
from steward.tracking.system_info_cache import SystemInfoCache, cache_file


def _dist(site: Path, name: str, version: str) -> Path:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    return folder


def _packages() -> dict[str, str | None]:
    cache = SystemInfoCache.load()
    packages = installed_packages(cache)
    cache.save()
    return packages


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site folder on sys.path, and a cache of our own that keeps what is 50 ms old."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(system_info_cache, "SETTLE_S", 0.05)
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _recorded_versions(site: Path) -> dict[str, str]:
    files = json.loads(cache_file().read_text())["folders"][str(site)]["files"]
    return {entry[2]: entry[3] for entry in files}


def test_a_folder_unchanged_is_not_read_again_and_an_install_is_seen(site: Path) -> None:
    _dist(site, "Tool-A", "1.0")
    time.sleep(0.1)
    assert _packages()["tool-a"] == "1.0"
    assert _recorded_versions(site) == {"Tool-A": "1.0"}
    # What is recorded is what the next process uses while the folder is unchanged.
    data = json.loads(cache_file().read_text())
    data["folders"][str(site)]["files"][0][3] = "from-the-cache"
    cache_file().write_text(json.dumps(data))
    assert _packages()["tool-a"] == "from-the-cache"
    # An install adds a folder: the site folder's times change and it is read again.
    time.sleep(0.01)  # past the filesystem clock's tick
    _dist(site, "Tool-B", "2.0")
    packages = _packages()
    assert packages["tool-b"] == "2.0" and packages["tool-a"] == "1.0"
    assert "sqlalchemy" in packages  # the other folders are still there (from the cache)


def test_a_metadata_file_rewritten_in_place_is_read_again(site: Path) -> None:
    metadata = _dist(site, "Tool-A", "1.0") / "METADATA"
    time.sleep(0.1)
    assert _packages()["tool-a"] == "1.0"
    assert _recorded_versions(site) == {"Tool-A": "1.0"}
    folder_times = os.stat(site)
    metadata.write_text("Metadata-Version: 2.1\nName: Tool-A\nVersion: 1.1\n\n")
    os.utime(metadata, ns=(metadata.stat().st_atime_ns, metadata.stat().st_mtime_ns - 10**9))
    assert os.stat(site).st_mtime_ns == folder_times.st_mtime_ns  # the folder did not change
    assert _packages()["tool-a"] == "1.1"  # the file's change time did


def test_a_folder_changed_just_now_is_not_recorded(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system_info_cache, "SETTLE_S", 2.0)
    _dist(site, "Tool-A", "1.0")
    assert _packages()["tool-a"] == "1.0"
    assert str(site) not in json.loads(cache_file().read_text())["folders"]


def test_the_cache_keeps_the_folders_on_the_path_and_those_recorded_last(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system_info_cache, "MAX_FOLDERS", 3)
    folders = []
    for index in range(5):
        folder = tmp_path / f"extra-{index}"
        folder.mkdir()
        _dist(folder, f"Extra-{index}", "1.0")
        folders.append(folder)
    time.sleep(0.1)
    for folder in folders:  # five processes, each with another folder on its path
        sys.path.insert(0, str(folder))
        try:
            assert _packages()[folder.name] == "1.0"
        finally:
            sys.path.remove(str(folder))
    recorded = json.loads(cache_file().read_text())["folders"]
    assert [str(folder) in recorded for folder in folders] == [False, True, True, True, True]
    assert str(site) in recorded
    shutil.rmtree(folders[1])
    _dist(site, "Tool-C", "1.0")  # a change, so that the cache is written again
    assert _packages()["tool-c"] == "1.0"
    assert str(folders[1]) not in json.loads(cache_file().read_text())["folders"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": 99, "folders": {}}),
        json.dumps({"format": 1, "folders": {"SITE": {"stamp": "x", "files": 3}}}),
        json.dumps({"format": 1, "folders": {"SITE": {"stamp": [1, 2, 3], "files": [[1, 2]]}}}),
        json.dumps({"format": 1, "folders": {"SITE": "x"}, "platform": [1]}),
    ],
)
def test_a_cache_not_of_our_shape_is_ignored(site: Path, content: str) -> None:
    _dist(site, "Tool-A", "1.0")
    cache_file().parent.mkdir(parents=True)
    cache_file().write_text(content.replace("SITE", str(site)))
    assert _packages()["tool-a"] == "1.0"


def test_a_cache_file_of_another_user_is_not_read(site: Path) -> None:
    _dist(site, "Tool-A", "1.0")
    time.sleep(0.1)
    _packages()
    data = json.loads(cache_file().read_text())
    data["folders"][str(site)]["files"][0][3] = "planted"
    cache_file().write_text(json.dumps(data))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(cache_file(), 65534, 65534)
        assert _packages()["tool-a"] == "1.0"
    else:  # a file we may write is ours: the check sees our own file and uses it
        assert _packages()["tool-a"] == "planted"


PROBE = """
import json, sys
from steward.tracking.system_info import collect_system_info
started = []
sys.addaudithook(lambda event, args: started.append(event)
                 if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork") else None)
info = collect_system_info()
print(json.dumps({"started": started, "platform": info["platform"],
                  "packages": info["packages"]}))
"""


def test_a_later_process_starts_no_child_process_for_its_system_info(tmp_path: Path) -> None:
    # platform.platform() runs "uname -p"; the first process records its answer.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("GIT_DIR", None)

    def probe() -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        result: dict[str, object] = json.loads(done.stdout)
        return result

    first = probe()
    assert first["started"] != []  # without the cache: uname -p
    later = probe()
    assert later["started"] == []
    assert later["platform"] == first["platform"]
    assert later["packages"] == first["packages"]
