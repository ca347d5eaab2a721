"""Paths from users, folders and stores, kept inside the folder they belong to.

Trust comes from the user, never from the data: a manifest read from a
remote, a model descriptor, a request body or a link planted in a folder may
name a path that leaves the folder it belongs to. Every such path goes
through here:

- ``check_relative_path``: a relative path as a store holds it
  (``/``-separated; no empty, ``.`` or ``..`` segment; no leading ``/``,
  drive letter, backslash or NUL). Strict on purpose: Steward writes stored
  paths in that form, so anything else is hostile or damaged.
- ``normalise_relative_path``: a relative path typed by a user (``./a//b``):
  ``.`` and empty segments dropped, then checked as above.
- ``contained``: where a checked relative path lands under a folder.
- ``list_folder``: the files of a folder given to be stored (a dataset, a
  run's artifacts), by the link rule below.
- ``make_folder``: create a folder under a root without passing through a
  link, so a write below it cannot land outside the root.

The link rule, the same for every folder Steward stores:

- a link whose target is inside the folder given is stored as the content
  it points to, under the link's own path (a link to a folder: the files
  in it, as if they were there);
- a link whose target is outside that folder is refused with an error
  naming the link and its target, unless the caller passes
  ``follow_links=True``, which stores what it points to;
- a dangling link, or a link to a folder that contains it (a loop), is an
  error naming the link.

Inside or outside is decided on the fully resolved target (every link on
the way followed). Special files (sockets, pipes, devices) are left out.
"""

from __future__ import annotations

import os
import re
import stat
from operator import itemgetter
from typing import NamedTuple

from steward.errors import Conflict, InvalidInput, StewardError

_DRIVE = re.compile(r"^[A-Za-z]:")
FOLLOW_LINKS_HINT = "pass follow_links=True (--follow-links) to store what it points to"


def check_relative_path(
    path: object, what: str = "path", error: type[StewardError] = InvalidInput
) -> str:
    """Return ``path`` if it is a clean relative path that stays below its folder.

    Args:
        path: the path, ``/``-separated.
        what: what the path is, for the message (``"manifest path"``).
        error: the error to raise: ``InvalidInput`` for what a caller passed,
            ``IntegrityError`` for what a store holds.

    Raises:
        error: the path is not a string, is empty, absolute (``/``, a drive
            letter), holds a NUL or a backslash, or has an empty, ``.`` or
            ``..`` segment.
    """
    if not isinstance(path, str) or not path:
        raise error(f"{what} must be a non-empty string, got {path!r:.80}.")
    if "\x00" in path:
        raise error(f"{what} {path!r:.200} contains a NUL byte.")
    if "\\" in path:
        raise error(f"{what} {path!r:.200} contains a backslash; paths use '/'.")
    if path.startswith("/") or _DRIVE.match(path):
        raise error(f"{what} {path!r:.200} is absolute; it must be relative to its folder.")
    for segment in path.split("/"):
        if segment == "..":
            raise error(f"{what} {path!r:.200} would leave its folder ('..').")
        if segment in ("", "."):
            raise error(f"{what} {path!r:.200} has an empty or '.' segment.")
    return path


def normalise_relative_path(path: object, what: str = "path") -> str:
    """A user's relative path with ``.`` and empty segments dropped, then checked.

    Raises:
        InvalidInput: as ``check_relative_path``, or the path names nothing (``./``).
    """
    if isinstance(path, str) and path and not path.startswith("/"):
        kept = "/".join(segment for segment in path.split("/") if segment not in ("", "."))
        if not kept:
            raise InvalidInput(f"{what} {path!r:.200} names no file.")
        path = kept
    return check_relative_path(path, what)


def contained(root: str | os.PathLike[str], relpath: str, what: str = "path") -> str:
    """The location of ``relpath`` under ``root`` (checked with ``check_relative_path``).

    Raises:
        InvalidInput: ``relpath`` would leave ``root``.
    """
    return os.path.join(os.fspath(root), *check_relative_path(relpath, what).split("/"))


def is_within(path: str, folder: str) -> bool:
    """Whether the absolute, resolved ``path`` is ``folder`` or below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# -- listing a folder to store it --------------------------------------------------


class ListedFile(NamedTuple):
    """One file to store: its path in the folder, where it is, and its ``stat``.

    ``path`` is where it was found (a link's own path, for a link); ``stat``
    describes the content it holds (a link's target).
    """

    relpath: str
    path: str
    stat: os.stat_result


def unreadable_folder(folder: str, reason: str = "permission denied") -> InvalidInput:
    """The error for a folder that cannot be listed, naming it."""
    return InvalidInput(
        f"cannot read folder {folder}: {reason.lower()}. Make it readable, or store the "
        "other folders without it."
    )


def resolve_link(path: str, root: str, given: str, follow_links: bool) -> str:
    """The resolved target of the link at ``path``, found in folder ``given`` (resolved: ``root``).

    Raises:
        InvalidInput: the link dangles, loops, or points outside ``root``
            and ``follow_links`` is False (each names the link and its target).
    """
    try:
        written = os.readlink(path)
    except OSError:
        written = "?"
    try:
        os.stat(path)
    except FileNotFoundError:
        raise InvalidInput(
            f"link {path} points to {written}, which does not exist. Remove the link, or "
            "restore what it points to."
        ) from None
    except OSError as exc:  # ELOOP: links that point at each other
        raise InvalidInput(f"link {path} cannot be followed: {exc.strerror}.") from None
    target = os.path.realpath(path)
    if not follow_links and not is_within(target, root):
        raise InvalidInput(
            f"link {path} points outside {given} (to {target}). Copy what it points to into "
            f"the folder, or {FOLLOW_LINKS_HINT}."
        )
    return target


def list_folder(folder: str | os.PathLike[str], follow_links: bool = False) -> list[ListedFile]:
    """Every file under ``folder`` by the link rule (see the module), sorted by path.

    Args:
        folder: the folder given; a link itself is followed (the caller named it).
        follow_links: also store what links pointing outside ``folder`` point to.

    Returns:
        The files (empty for a folder without any).

    Raises:
        InvalidInput: a folder cannot be listed (a listing without its files
            would look complete), or a link breaks the rule (names it).
    """
    given = os.fspath(folder)
    root = os.path.realpath(given)
    found: list[ListedFile] = []
    top = os.stat(root)
    _walk(root, given, root, "", {(top.st_dev, top.st_ino)}, follow_links, found)
    return sorted(found, key=itemgetter(0))


def _walk(
    root: str,
    given: str,
    folder: str,
    prefix: str,
    ancestors: set[tuple[int, int]],
    follow_links: bool,
    found: list[ListedFile],
) -> None:
    """Add the files under ``folder`` (``prefix`` in the listing) to ``found``."""
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:  # removed while we looked
        return
    except OSError as exc:
        raise unreadable_folder(folder, exc.strerror or type(exc).__name__) from exc
    with entries:
        for entry in entries:
            relpath = prefix + entry.name
            try:
                if entry.is_symlink():
                    resolve_link(entry.path, root, given, follow_links)
                info = entry.stat()  # a link's target
            except FileNotFoundError:  # removed while we looked
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(ListedFile(relpath, entry.path, info))
            elif stat.S_ISDIR(info.st_mode):
                identity = (info.st_dev, info.st_ino)
                if identity in ancestors:
                    raise InvalidInput(
                        f"link {entry.path} points to a folder that contains it (a loop). "
                        "Remove the link."
                    )
                _walk(
                    root,
                    given,
                    entry.path,
                    relpath + "/",
                    ancestors | {identity},
                    follow_links,
                    found,
                )


# -- writing below a folder ----------------------------------------------------------


def make_folder(root: str, relfolder: str, replace: bool = False) -> str:
    """Create ``relfolder`` (checked) under the existing folder ``root``, one level at a time.

    No level is entered through a link, so nothing written below the folder
    returned can land outside ``root``.

    Args:
        root: the folder to create it in (trusted: the caller named it).
        relfolder: the relative folder; ``""`` is ``root`` itself.
        replace: remove a link or a file in the way (a forced checkout);
            otherwise one is a ``Conflict``.

    Returns:
        The folder's path.

    Raises:
        Conflict: a link or a file is in the way and ``replace`` is False.
    """
    current = root
    if not relfolder:
        return current
    for segment in check_relative_path(relfolder, "folder").split("/"):
        current = os.path.join(current, segment)
        while True:
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                try:
                    os.mkdir(current)
                except FileExistsError:  # made meanwhile: look again
                    continue
                break
            if stat.S_ISDIR(mode):
                break
            if not replace:
                kind = "a link" if stat.S_ISLNK(mode) else "a file"
                raise Conflict(f"{current} is {kind}, not a folder; pass --force to replace it.")
            os.unlink(current)
    return current


def clear_for_file(path: str) -> None:
    """Make way for a file to be renamed onto ``path``: a folder there goes, with its files.

    A link or a file at ``path`` is left for the rename to replace (a rename
    replaces a link itself, never what it points to).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        import shutil  # not at the top: ``import steward`` stays light

        shutil.rmtree(path)
