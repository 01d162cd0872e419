# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Deleting files that a plan named, only while each is still exactly what was planned (usdx.incident.planned_files_remove).

Also the rule of which directories may ever be cleaned (L(SYSTEM_PATHS), L(SYSTEM_TREES)), shared with the plan
(plugin_utils/_disk_plan.py), so the controller and the target refuse the same directories.

Nothing here follows a symbolic link. A planned file's configured directory is opened from C(/) one component at a
time with C(O_NOFOLLOW), the file's parents below it the same way from that directory's descriptor, and the file is
read (C(fstatat), no follow) and deleted (C(unlinkat)) relative to its parent's descriptor: a link swapped in for any
directory on the way after the plan is met as a link, never crossed. What is left between the last read and the
deletion is the moment between two system calls (as with C(find -delete)); at worst a name swapped in right then is
removed, never what it points to.

L(why_left) is the decision, a pure function of the planned and the observed file.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import time
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError

# A configured directory may be none of these, nor inside one of those in SYSTEM_TREES.
SYSTEM_PATHS = frozenset(("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc",
                          "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log",
                          "/var/backups"))
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr",
                "/var/lib/postgresql", "/var/lib/mysql", "/var/lib/docker", "/var/lib/containerd")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def inside(path: str, tree: str) -> bool:
    """Whether O(path) is O(tree) or below it (both normalized)."""
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def normalized_absolute(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//") and (posixpath.normpath(path) == path or path == "/")


def system_directory(directory: str) -> bool:
    """Whether O(directory) is C(/), a system path or inside a system tree: never cleaned."""
    return directory in SYSTEM_PATHS or any(inside(directory, tree) for tree in SYSTEM_TREES)


def system_paths_text() -> str:
    return ", ".join(sorted(SYSTEM_PATHS | set(SYSTEM_TREES)))


class Planned(t.NamedTuple):
    """A file as the plan saw it. C(dev) is the device of its configured directory; C(dev) and C(inode) may be unknown."""

    path: str
    dir: str
    size: int
    mtime: int
    dev: int | None
    inode: int | None
    entry: t.Mapping[str, t.Any]

    @property
    def parts(self) -> list[str]:
        """The components of the path below the configured directory, the file's name last."""
        return self.path[len(self.dir) + 1:].split("/")


class Observed(t.NamedTuple):
    """A directory entry as C(lstat) sees it now; C(mtime) in whole seconds, rounded down as the plan's are."""

    kind: str  # file, link, directory or special file (fifo, socket, device)
    dev: int
    inode: int
    size: int
    mtime: int


def observed(info: os.stat_result) -> Observed:
    mode = info.st_mode
    kind = ("file" if stat.S_ISREG(mode) else "link" if stat.S_ISLNK(mode) else "directory" if stat.S_ISDIR(mode)
            else "special file")
    return Observed(kind, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns // 1_000_000_000)


def why_left(planned: Planned, now: Observed | None, directory_dev: int) -> str | None:
    """Why a planned file must be left alone, or None when it is still exactly as planned and may be deleted.

    O(now) is the file's entry read just before the deletion (None: no such entry), O(directory_dev) the device of
    its configured directory as opened now.
    """
    if planned.dev is not None and directory_dev != planned.dev:
        return "its directory is on another filesystem than at the plan"
    if now is None:
        return "gone"
    if now.kind == "link":
        return "became a symbolic link since the plan"
    if now.kind != "file":
        return f"no longer a regular file (a {now.kind})"
    if now.dev != directory_dev:
        return "not on the filesystem of its directory"
    if planned.inode is not None and now.inode != planned.inode:
        return "replaced by another file since the plan (another inode)"
    if now.mtime != planned.mtime:
        return f"modified since the plan (mtime {planned.mtime} -> {now.mtime})"
    if now.size > planned.size:
        return f"grew since the plan ({planned.size} -> {now.size} bytes)"
    if now.size < planned.size:
        return f"shrank since the plan ({planned.size} -> {now.size} bytes)"
    return None


def _whole(entry: t.Mapping[str, t.Any], key: str, where: str, required: bool, low: int | None = None) -> int | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low):
        accepted = f"a whole number >= {low}" if low is not None else "a whole number"
        raise OptionError(f"{where}: {key} must be {accepted}{'' if required else ' or null'}, got {value!r}", option="files")
    return value


def parse_files(files: t.Sequence[t.Any]) -> list[Planned]:
    """The O(files) option, checked; raise OptionError naming the first bad entry (before anything is touched)."""
    planned: list[Planned] = []
    seen: set[str] = set()
    for index, entry in enumerate(files):
        where = f"files[{index}]"
        if not isinstance(entry, t.Mapping):
            raise OptionError(f"{where} must be a dict with path, dir, size and mtime, got {entry!r}", option="files")
        for key in ("path", "dir"):
            value = entry.get(key)
            if not isinstance(value, str) or not normalized_absolute(value):
                raise OptionError(f"{where}: {key} {value!r} is not a normalized absolute path (no '..', '.', '//')",
                                  option="files")
        path, directory = str(entry["path"]), str(entry["dir"])
        where = f"{where} ({path!r})"
        if system_directory(directory):
            raise OptionError(f"{where}: dir {directory} is / or a system path; accepted: a directory of the "
                              f"project's own, outside {system_paths_text()}", option="files")
        if not path.startswith(directory + "/"):
            raise OptionError(f"{where}: the path is not inside its dir {directory}", option="files")
        if "\\" in path or not path.isprintable():
            # Names are passed as disk_usage_info shows them: an escaped name does not name the file it shows.
            raise OptionError(f"{where}: the name has a backslash or a character that is not printable; accepted: "
                              "printable names without a backslash", option="files")
        if path in seen:
            raise OptionError(f"{where}: the path is listed twice", option="files")
        seen.add(path)
        planned.append(Planned(path, directory, t.cast(int, _whole(entry, "size", where, True, 0)),
                               t.cast(int, _whole(entry, "mtime", where, True)), _whole(entry, "dev", where, False),
                               _whole(entry, "inode", where, False, 0), entry))
    return planned


class Unreachable(Exception):
    """A directory on the way to a planned file could not be opened without following a link; the message says why.

    C(missing) when it does not exist (the file is then simply gone).
    """

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def _open_below(fd: int, names: t.Sequence[str], shown_base: str) -> int:
    """Open the directory O(names) below the directory O(fd), one component at a time, never following a link.

    Returns a new descriptor (O(fd) stays open); raises Unreachable naming the component that stopped the walk.
    """
    current = os.dup(fd)
    walked = shown_base.rstrip("/")
    try:
        for name in names:
            walked = f"{walked}/{name}"
            try:
                following = os.open(name, _DIR_FLAGS, dir_fd=current)
            except OSError as exc:
                raise Unreachable(_unreachable(exc, name, current, walked), exc.errno == errno.ENOENT) from exc
            os.close(current)
            current = following
        return current
    except BaseException:
        os.close(current)
        raise


def _unreachable(exc: OSError, name: str, parent: int, walked: str) -> str:
    if exc.errno == errno.ENOENT:
        return f"{walked} does not exist"
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        try:
            is_link = stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
        except OSError:
            is_link = exc.errno == errno.ELOOP
        return f"{walked} is {'a symbolic link: not followed' if is_link else 'not a directory'}"
    return f"{walked} could not be opened: {exc.strerror or exc}"


class Remover:
    """Re-check each planned file and delete those still as planned (only report them in check mode).

    One descriptor per configured directory, opened once; every file is reached from it afresh.
    """

    def __init__(self, planned: list[Planned], check_mode: bool, timeout: float) -> None:
        self.planned = planned
        self.check_mode = check_mode
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.dirs: dict[str, tuple[int, int] | str] = {}

    def directory(self, path: str) -> tuple[int, int] | str:
        """(descriptor, device) of a configured directory, or why it cannot be used."""
        if path not in self.dirs:
            try:
                root = os.open("/", _DIR_FLAGS)
            except OSError as exc:
                self.dirs[path] = f"/ could not be opened: {exc.strerror or exc}"
                return self.dirs[path]
            try:
                fd = _open_below(root, path.strip("/").split("/"), "/")
            except Unreachable as exc:
                self.dirs[path] = str(exc)
            else:
                self.dirs[path] = (fd, os.fstat(fd).st_dev)
            finally:
                os.close(root)
        return self.dirs[path]

    def one(self, planned: Planned) -> str | None:
        """Delete one file if it is still as planned; why not otherwise."""
        directory = self.directory(planned.dir)
        if isinstance(directory, str):
            return f"not reached: {directory}"
        dir_fd, dir_dev = directory
        *parents, name = planned.parts
        try:
            parent = _open_below(dir_fd, parents, planned.dir) if parents else os.dup(dir_fd)
        except Unreachable as exc:
            return "gone" if exc.missing else f"not reached: {exc}"
        try:
            try:
                now: Observed | None = observed(os.stat(name, dir_fd=parent, follow_symlinks=False))
            except FileNotFoundError:
                now = None
            except OSError as exc:
                return f"could not be read: {exc.strerror or exc}"
            why = why_left(planned, now, dir_dev)
            if why is not None or self.check_mode:
                return why
            try:
                os.unlink(name, dir_fd=parent)
            except FileNotFoundError:
                return "gone"
            except OSError as exc:
                return f"could not be deleted: {exc.strerror or exc}"
            return None
        finally:
            os.close(parent)

    def run(self) -> dict[str, t.Any]:
        deleted: list[Planned] = []
        left: list[dict[str, t.Any]] = []
        timed_out = False
        try:
            for planned in self.planned:
                if time.monotonic() >= self.deadline:
                    timed_out = True
                    why: str | None = f"not checked: the run's deadline of {self.timeout:g} s passed"
                else:
                    why = self.one(planned)
                if why is None:
                    deleted.append(planned)
                else:
                    left.append(dict(planned.entry, why=why))
        finally:
            for value in self.dirs.values():
                if not isinstance(value, str):
                    os.close(value[0])
        freed = sum(planned.size for planned in deleted)
        verb = "would delete" if self.check_mode else "deleted"
        return {
            "changed": bool(deleted),
            "deleted": [planned.entry for planned in deleted],
            "left": left,
            "freed_bytes": freed,
            "timed_out": timed_out,
            "msg": f"{verb} {len(deleted)} file(s), {freed} bytes; left {len(left)}",
        }


def supported() -> str | None:
    """Why this platform cannot delete safely (no openat-style calls), or None."""
    missing = [name for name, ok in (("O_NOFOLLOW", hasattr(os, "O_NOFOLLOW")), ("O_DIRECTORY", hasattr(os, "O_DIRECTORY")),
                                     ("stat with dir_fd", os.stat in os.supports_dir_fd),
                                     ("unlink with dir_fd", os.unlink in os.supports_dir_fd),
                                     ("open with dir_fd", os.open in os.supports_dir_fd)) if not ok]
    return f"this platform lacks {', '.join(missing)}: files cannot be deleted without following links" if missing else None


def validate_timeout(timeout: float) -> None:
    if not timeout > 0:
        raise OptionError(f"timeout={timeout!r} is out of range: accepted values are > 0", option="timeout")
