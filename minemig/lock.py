"""One ``update`` at a time per database: an exclusive ``flock`` on a file beside it.

The kernel drops a ``flock`` when its holder dies, however it dies, so a lock left
by a killed run is simply free again: the next run takes it over and says so at
debug level. The file holds the holder's PID and start time only so a refused run
can say who holds it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from minemig.errors import StoreError

log = logging.getLogger("minemig")


class LockedError(StoreError):
    """Another process holds the update lock of this database."""

    code = "M510"


def lock_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class UpdateLock:
    """``with UpdateLock(path):`` holds the lock or raises :class:`LockedError` at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.took_over_from = ""  # what a stale lock file said, when one was found

    def acquire(self) -> UpdateLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot open the lock file {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise LockedError(
                f"another minemig update is running on this database ({holder or 'unknown'});"
                f" this one stops. The lock is {self.path}; it frees itself when that run ends"
            ) from None
        stale = _read(fd)
        if stale:
            self.took_over_from = stale
            log.debug("took over the lock left by a run that ended without releasing it: %s", stale)
        os.ftruncate(fd, 0)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.write(fd, f"PID {os.getpid()}, started {started}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # Empty the file before unlocking, so the next holder finds nothing stale.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> UpdateLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""
