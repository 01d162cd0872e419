# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Write one findings document into the controller's findings directory, or refuse an unsafe path.

The triage often runs as root and the default directory sits under the world-writable /var/tmp, where
another user can plant a symlink or a directory of their own before we arrive. So, before anything is
written: the directory and the file must not be symlinks, must belong to the running user and must not be
group- or world-writable; every directory above must belong to root or the running user and be writable
by nobody else unless it is sticky (/tmp, /var/tmp), and a symlink on the way must belong to root or the
running user. Then nobody else can move anything on the path between the checks and the write. Missing
directories are created 0750 (less with a stricter umask). The document replaces the file atomically, so
a reader never sees half of it. A refusal, or a write the system refused, raises Unsafe with one line
naming the path and why. The usdx.incident.findings_write action calls write() in Ansible's own process.
"""

from __future__ import annotations

import os
import stat
import typing as t

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


class Unsafe(Exception):
    """A findings document that must not (or could not) be written; str() is the one-line reason."""


def _owner(st: os.stat_result, uid: int) -> str:
    return f"owned by uid {st.st_uid}, not by the running user (uid {uid})"


def target_problem(st: os.stat_result, uid: int, kind: str) -> t.Optional[str]:
    """Why the findings directory (kind='directory') or file (kind='file') with this lstat() is unsafe; None if safe."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink; refusing to write through it"
    expected = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not expected(st.st_mode):
        return f"is not a {'directory' if kind == 'directory' else 'regular file'}"
    if st.st_uid != uid:
        return _owner(st, uid)
    if st.st_mode & WRITABLE_BY_OTHERS:
        return f"is group- or world-writable (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def ancestor_problem(st: os.stat_result, uid: int) -> t.Optional[str]:
    """Why a directory or symlink above the findings directory lets another user redirect the write; None if not."""
    if st.st_uid not in (0, uid):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "a directory"
        return f"is {kind} {_owner(st, uid)} or root"
    if stat.S_ISDIR(st.st_mode) and st.st_mode & WRITABLE_BY_OTHERS and not st.st_mode & stat.S_ISVTX:
        return f"is group- or world-writable without the sticky bit (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _prefixes(path: str) -> t.List[str]:
    """'/a/b/c' -> ['/', '/a', '/a/b'] (the directories above path)."""
    parts = path.strip("/").split("/")
    return ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def check_ancestors(directory: str, uid: int) -> None:
    """Raise Unsafe for the first component above `directory`, as given and as resolved, that another user controls."""
    for path in dict.fromkeys(_prefixes(directory) + _prefixes(os.path.realpath(directory))):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        problem = ancestor_problem(st, uid)
        if problem:
            raise Unsafe(f"findings directory {directory}: {path} {problem}")


def make_directory(directory: str, uid: int) -> int:
    """Create `directory` (and missing parents) if needed; return an fd of it once it is known to be safe."""
    if os.path.lexists(directory):  # its own problem first: a planted symlink is named as one
        problem = target_problem(os.lstat(directory), uid, "directory")
        if problem:
            raise Unsafe(f"findings directory {directory}: {problem}")
    check_ancestors(directory, uid)
    missing = [p for p in _prefixes(directory) + [directory] if not os.path.lexists(p)]
    for path in missing:
        try:
            os.mkdir(path, DIRECTORY_MODE)
        except FileExistsError:  # another host's task of the same run made it first: checked below like any other
            pass
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        problem = target_problem(os.lstat(directory), uid, "directory") if os.path.lexists(directory) else None
        raise Unsafe(f"findings directory {directory}: {problem or exc.strerror}") from exc
    problem = target_problem(os.fstat(fd), uid, "directory")
    if problem:
        os.close(fd)
        raise Unsafe(f"findings directory {directory}: {problem}")
    return fd


def _replace(fd: int, name: str, document: bytes) -> None:
    """Write `document` to a temporary file in the directory `fd` and rename it over `name`."""
    # The pid keeps two hosts' workers (forked processes) writing the same name from sharing a temporary file.
    temporary = f".{name}.{os.getpid()}.tmp"
    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=fd)
    try:
        with os.fdopen(out, "wb") as stream:
            stream.write(document)
        os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        os.unlink(temporary, dir_fd=fd)
        raise


def write(directory: str, name: str, document: bytes, uid: int) -> str:
    """Write `document` as directory/name; return the path written. Raises Unsafe before writing anything."""
    if not name or "/" in name or name in (".", ".."):
        raise Unsafe(f"findings file name {name!r}: must be one path component (the inventory host name + .json)")
    directory = os.path.abspath(directory)
    path = os.path.join(directory, name)
    try:
        fd = make_directory(directory, uid)
        try:
            try:
                st: t.Optional[os.stat_result] = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            problem = target_problem(st, uid, "file") if st else None
            if problem:
                raise Unsafe(f"findings file {path}: {problem}")
            _replace(fd, name, document)
        finally:
            os.close(fd)
    except OSError as exc:  # a full disk, a read-only file system, a directory we may not enter
        raise Unsafe(f"findings file {path}: {exc.strerror} ({exc.filename or path})") from exc
    return path
