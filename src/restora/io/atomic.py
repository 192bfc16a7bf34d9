"""Atomic output: every file restora writes goes to a hidden temporary file beside its target and
is renamed over it when complete, so no reader ever sees a half-written file and a failed or
interrupted write leaves the previous file (or none) in place. A write the system refuses (no
permission, not a folder, disk full) is a one-line RestoraError naming the target."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from restora.errors import RestoraError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created if needed); write it inside the block. On
    success it gets the normal umask permissions and replaces ``path``; on any error it is removed,
    and an OSError (from the block too) becomes RestoraError naming ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise RestoraError(f"{path}: cannot write there ({_reason(exc)})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RestoraError(f"{path}: cannot write ({_reason(exc)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """``Path(path).write_text(text)``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _reason(exc: OSError) -> str:
    """The system's words for an OSError ("Permission denied", "No space left on device"), else its text."""
    return exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
