"""The link rule, one for every folder Steward stores: datasets and run artifacts.

Links pointing inside the folder given are stored as the content they point
to; links pointing outside are refused, naming the link, unless
``follow_links=True``; dangling links and loops are clear errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.errors import InvalidInput

Store = Callable[[Path, bool], dict[str, bytes]]


def _as_dataset(folder: Path, follow_links: bool) -> dict[str, bytes]:
    version = steward.data.add("d", folder, follow_links=follow_links)
    return {path: version.open(path).read() for path in version.files}


def _as_artifacts(folder: Path, follow_links: bool) -> dict[str, bytes]:
    with steward.start_run() as run:
        steward.log_artifacts(folder, follow_links=follow_links)
    stored = {}
    for artifact in steward.list_artifacts(run.id):
        target = folder.parent / "downloaded" / artifact.path
        steward.download_artifact(run.id, artifact.path, target)
        stored[artifact.path] = target.read_bytes()
    return stored


@pytest.fixture(params=["dataset", "artifacts"])
def store(request: pytest.FixtureRequest, workspace: Any) -> Store:
    """Store a folder as a dataset version or as a run's artifacts; what got stored."""
    return _as_dataset if request.param == "dataset" else _as_artifacts


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    """A folder to store and a secret beside it (outside)."""
    folder = tmp_path / "given"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.txt").write_text("secret")
    (outside / "deep" / "key.txt").write_text("key")
    return folder, outside


def test_links_inside_the_folder_are_stored_as_their_content(store: Store, tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    (folder / "to-file.txt").symlink_to("sub/a.txt")
    (folder / "to-folder").symlink_to("sub", target_is_directory=True)
    assert store(folder, False) == {
        "b.txt": b"b",
        "sub/a.txt": b"a",
        "to-file.txt": b"a",
        "to-folder/a.txt": b"a",
    }


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_link_pointing_outside_is_refused_naming_it_unless_followed(
    store: Store, tmp_path: Path, kind: str
) -> None:
    folder, outside = _folder(tmp_path)
    link = folder / "sub" / "escape"
    link.symlink_to(outside / "secret.txt" if kind == "file" else outside)
    with pytest.raises(InvalidInput, match="points outside") as caught:
        store(folder, False)
    assert str(link) in str(caught.value) and "follow_links=True" in str(caught.value)
    stored = store(folder, True)
    if kind == "file":
        assert stored["sub/escape"] == b"secret"
    else:
        assert stored["sub/escape/deep/key.txt"] == b"key"


def test_a_link_inside_reached_through_the_outside_is_refused(store: Store, tmp_path: Path) -> None:
    folder, outside = _folder(tmp_path)
    (outside / "back").symlink_to(folder / "b.txt")  # outside, but pointing back in
    (folder / "via-outside.txt").symlink_to(outside / "back")
    assert store(folder, False)["via-outside.txt"] == b"b"  # resolves inside: allowed
    (outside / "back").unlink()
    (outside / "back").symlink_to(outside / "secret.txt")
    with pytest.raises(InvalidInput, match=r"via-outside.txt"):
        store(folder, False)


def test_a_dangling_link_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    (folder / "gone.txt").symlink_to(tmp_path / "missing.txt")
    for follow in (False, True):
        with pytest.raises(InvalidInput, match=r"gone.txt points to .*missing.txt.* not exist"):
            store(folder, follow)


def test_a_link_loop_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    with pytest.raises(InvalidInput, match="up points to a folder that contains it"):
        store(folder, True)
    (folder / "sub" / "up").unlink()
    (folder / "self").symlink_to(folder / "self")
    with pytest.raises(InvalidInput, match="self cannot be followed"):
        store(folder, False)


def test_the_folder_given_may_itself_be_a_link(store: Store, tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    given = tmp_path / "alias"
    given.symlink_to(folder, target_is_directory=True)
    (folder / "to-b.txt").symlink_to(folder / "b.txt")  # absolute, inside the real folder
    assert store(given, False)["to-b.txt"] == b"b"


def test_a_glob_follows_the_same_rule(workspace: Any, tmp_path: Path) -> None:
    folder, outside = _folder(tmp_path)
    (folder / "sub" / "escape.txt").symlink_to(outside / "secret.txt")
    pattern = str(folder / "**" / "*.txt")
    with pytest.raises(InvalidInput, match=r"escape.txt points outside"):
        steward.data.add("g", pattern)
    version = steward.data.add("g", pattern, follow_links=True)
    assert version.files == ["b.txt", "sub/a.txt", "sub/escape.txt"]
    (folder / "sub" / "escape.txt").unlink()
    (folder / "sub" / "gone.txt").symlink_to(tmp_path / "missing.txt")
    with pytest.raises(InvalidInput, match=r"gone.txt points to"):
        steward.data.add("g", pattern)


def test_a_dangling_link_given_as_the_source_is_named(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "link.csv").symlink_to(tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match=r"link.csv points to .*missing.csv"):
        steward.data.add("d", tmp_path / "link.csv")


# -- checkout never writes through a link ---------------------------------------------


@pytest.mark.parametrize("link", ["copy", "hardlink"])
def test_forced_checkout_never_writes_through_a_linked_folder(
    workspace: Any, tmp_path: Path, link: str
) -> None:
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("from the version")
    (source / "top.txt").write_text("top")
    (source / "tree" / "deep").mkdir(parents=True)
    (source / "tree" / "deep" / "b.txt").write_text("deep")
    version = steward.data.add("d", source)

    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "a.txt").write_text("precious")
    (outside / "deep" / "b.txt").write_text("precious too")
    (outside / "top.txt").write_text("precious three")
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    target = tmp_path / "target"
    target.mkdir()
    (target / "sub").symlink_to(outside, target_is_directory=True)  # sub/a.txt -> outside/a.txt
    (target / "tree").mkdir()
    (target / "tree" / "deep").symlink_to(outside / "deep", target_is_directory=True)
    (target / "top.txt").symlink_to(outside / "top.txt")  # a file link: replaced, not written

    version.checkout(target, force=True, link=link)

    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before
    assert sorted(os.listdir(outside)) == ["a.txt", "deep", "top.txt"]
    for relpath in ("sub", "tree/deep", "top.txt"):
        assert not (target / relpath).is_symlink()
    assert (target / "sub" / "a.txt").read_text() == "from the version"
    assert (target / "tree" / "deep" / "b.txt").read_text() == "deep"
    assert (target / "top.txt").read_text() == "top"


def test_forced_checkout_replaces_a_link_where_the_version_has_a_folder_of_files(
    workspace: Any, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "data").mkdir(parents=True)
    (source / "data" / "x.txt").write_text("x")
    version = steward.data.add("d", source)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").mkdir()  # where the version has a file, a linked folder holds a folder
    (outside / "x.txt" / "keep").write_text("keep")
    target = tmp_path / "target"
    target.mkdir()
    (target / "data").symlink_to(outside, target_is_directory=True)
    version.checkout(target, force=True)
    assert (outside / "x.txt" / "keep").read_text() == "keep"
    assert (target / "data" / "x.txt").read_text() == "x"
