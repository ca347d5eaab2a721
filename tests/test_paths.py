"""The one path-containment helper: relative paths that stay in their folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.errors import Conflict, IntegrityError, InvalidInput
from steward.paths import (
    check_relative_path,
    contained,
    make_folder,
    normalise_relative_path,
)

BAD = ["", ".", "..", "../a", "a/../../b", "a/..", "/etc/passwd", "C:/x", "c:x", "a\\b",
       "a\x00b", "a//b", "a/./b", "./a", "a/", "/"]  # fmt: skip


@pytest.mark.parametrize("path", BAD)
def test_strict_check_refuses_every_unclean_path(path: str) -> None:
    with pytest.raises(IntegrityError, match="manifest path"):
        check_relative_path(path, "manifest path", IntegrityError)


@pytest.mark.parametrize("path", [None, 3, b"a"])
def test_strict_check_refuses_what_is_not_a_string(path: object) -> None:
    with pytest.raises(InvalidInput, match="non-empty string"):
        check_relative_path(path)


def test_normalising_drops_dot_and_empty_segments_only() -> None:
    assert normalise_relative_path("./a//b/.") == "a/b"
    for path in ("../a", "a/../../b", "/a", "a\\b", "./", "a\x00"):
        with pytest.raises(InvalidInput):
            normalise_relative_path(path)


@given(st.lists(st.sampled_from(["a", "b.txt", ".", "..", "", "c d", "\\", "é"]), max_size=6))
def test_an_accepted_path_never_leaves_its_folder(segments: list[str]) -> None:
    path = "/".join(segments)
    root = "/srv/root"
    try:
        checked = check_relative_path(path)
    except InvalidInput:
        return
    assert checked == path
    assert os.path.normpath(contained(root, path)).startswith(root + "/")
    assert ".." not in path.split("/") and "." not in path.split("/")


def test_make_folder_never_enters_a_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "a").symlink_to(outside, target_is_directory=True)
    with pytest.raises(Conflict, match="is a link"):
        make_folder(str(root), "a/b")
    assert make_folder(str(root), "a/b", replace=True) == str(root / "a" / "b")
    assert not (root / "a").is_symlink() and os.listdir(outside) == []
    with pytest.raises(InvalidInput):
        make_folder(str(root), "../x", replace=True)
