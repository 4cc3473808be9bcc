"""Writing files and folders so that nothing already written is lost or left half-written:
everything goes to a temporary name beside its destination and is renamed into place."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytrain.errors import UserError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path`; when the block succeeds it replaces `path`,
    otherwise it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def check_writable_file(path: str | os.PathLike, what: str = "output") -> Path:
    """Checks, before any work, that a file can be written at `path`: its folder exists or can
    be made, and takes a new file. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: the {what} path is a folder")
    probe = path.with_name(f".{path.name}.check{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"{path}: cannot write the {what} there: {e.strerror or e}") from None
    return path


class RunFolder:
    """A run folder written as a whole: claimed at the start, filled in a hidden sibling, and
    renamed into place at the end.

    `claim()` fails at once if `out/name` exists, or if another live process is writing it
    (two runs started with the same name: the second is refused before any work). A partial
    folder left by a process that died is taken over. `commit()` renames the finished folder
    into place; `abort()` removes it, and so does leaving a `with` block over a claimed folder
    with an exception (Ctrl-C included)."""

    def __init__(self, out: str | os.PathLike, name: str):
        self.final = Path(out) / name
        self.partial = Path(out) / f".{name}.partial"

    def claim(self) -> Path:
        if self.final.exists():
            raise UserError(f"{self.final}: the run folder exists (choose another name)")
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._take()
        except OSError as e:
            raise UserError(f"{self.final.parent}: cannot write run folders there: {e.strerror or e}") from None
        return self.partial

    def _take(self) -> None:
        try:
            self.partial.mkdir()
        except FileExistsError:
            owner = _read_pid(self.partial / ".owner")
            if owner is not None and _alive(owner):
                raise UserError(f"{self.final}: another run (process {owner}) is writing it") from None
            shutil.rmtree(self.partial)  # left by a process that died
            self.partial.mkdir()
        (self.partial / ".owner").write_text(str(os.getpid()))

    def commit(self) -> Path:
        (self.partial / ".owner").unlink(missing_ok=True)
        try:
            os.rename(self.partial, self.final)
        except OSError as e:
            raise UserError(f"{self.final}: cannot put the finished run in place: {e.strerror or e}") from None
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
