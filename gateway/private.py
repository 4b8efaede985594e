"""Files and folders on disk that only the gateway's own user may open (files 600, folders 700).

What the gateway writes to disk (uploads, answer files, keys, the embedded database) can hold
PHI or secrets. `clearway` also sets its umask to 077, so whatever a library creates (SQLite's
journal files) is private too; these helpers make it so whoever calls them.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE, FOLDER_MODE = 0o600, 0o700


def private_folder(path: Path) -> Path:
    """Make `path` and any missing parents, each owner-only; an existing one is left as it is."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened
    return path


def open_private(path: Path, *, exclusive: bool = False) -> int:
    """A new (or truncated) owner-only file opened for writing; its descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    return os.open(path, flags, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    private_folder(path.parent)
    with os.fdopen(open_private(path), "wb") as out:
        out.write(data)


def tighten(*paths: Path) -> None:
    """Make existing folders owner-only (written by an older version, or created by hand), so
    nothing inside them can be opened by another user whatever its own mode."""
    # A file kept in the working (or home) folder itself does not make that folder the
    # gateway's own to lock.
    shared = {Path.cwd(), Path.home(), Path("/")}
    for path in paths:
        if path.resolve() in shared or not path.is_dir():
            continue
        if path.stat().st_mode & 0o077:
            os.chmod(path, FOLDER_MODE)
