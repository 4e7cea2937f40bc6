"""Where a render may write: the checks that run before any frame is made, so that a render
never replaces its own input, one of its own results, or a file that is not what it writes
(issue 13). Overwriting an existing video output (or an export of its own type) stays allowed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import InputError

# the first bytes of the files a render writes, by suffix: how "a file of the expected type"
# is told from an unrelated one that merely has the same name
_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".npz": (b"PK",), ".png": (b"\x89PNG",), ".jpg": (b"\xff\xd8",), ".jpeg": (b"\xff\xd8",),
    ".webp": (b"RIFF",), ".mkv": (b"\x1a\x45\xdf\xa3",)}
_ISO = (".mp4", ".mov", ".m4v")                   # ISO / QuickTime media: an atom at byte 4
_ISO_ATOMS = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def check_targets(output: Path, exports: dict[str, Path], inputs: dict[str, Any],
                  overwrite: bool = False) -> None:
    """Refuse (:class:`InputError`, naming the user's path) a target that is a directory or in
    a directory we cannot write, two targets that are one file, and unless ``overwrite``: a
    target that is an input or an existing file of another type. Runs before the pipeline
    loads anything."""
    targets = {"the output": output, **{f"--export {k}": v for k, v in exports.items()}}
    seen: dict[str, Path] = {}
    for label, path in targets.items():
        _check_writable(path)
        real = os.path.realpath(path)
        if real in seen:
            raise InputError(path, f"{label} would overwrite {seen[real]}, written by the same "
                                   "render; give each result its own file")
        seen[real] = path
    if not overwrite:
        sources = {os.path.realpath(v): v for v in inputs.values() if _is_existing_path(v)}
        for label, path in targets.items():
            _check_not_input(label, path, sources)
            _check_same_type(label, path)


def check_export_suffixes(exports: dict[str, Path],
                          suffixes: dict[str, tuple[str, ...]]) -> None:
    """Refuse an export whose suffix is not one its stream declares it writes."""
    for name, path in exports.items():
        _check_suffix(name, path, suffixes.get(name))


def _check_suffix(name: str, path: Path, suffixes: tuple[str, ...] | None) -> None:
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(path, f"--export {name} writes {' or '.join(suffixes)}, "
                               f"not {path.suffix or 'a file without a suffix'}")


def _check_writable(path: Path) -> None:
    """A directory at ``path``, or a parent we cannot create files in, is refused up front
    (before a full-size temporary file is written)."""
    if path.is_dir():
        raise InputError(path, "is a directory; name a file to write")
    parent = _existing_parent(path)
    if not parent.is_dir():
        raise InputError(path, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(path, f"cannot write in {parent} (permission denied or read-only)")


def _existing_parent(path: Path) -> Path:
    """The nearest ancestor of ``path`` that exists (the writer creates the rest)."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _is_existing_path(value: Any) -> bool:
    return isinstance(value, (str, Path)) and str(value) != "" and os.path.isfile(value)


def _check_not_input(label: str, path: Path, sources: dict[str, Any]) -> None:
    real = os.path.realpath(path)
    if real in sources:
        raise InputError(path, f"{label} is the input {sources[real]}; writing it would destroy "
                               "the source (pass --overwrite / overwrite=True to replace it)")


def _check_same_type(label: str, path: Path) -> None:
    """An existing non-empty file at ``path`` must look like what we write there."""
    if path.is_file() and path.stat().st_size > 0 and not _looks_like(path):
        raise InputError(path, f"{label} exists and is not a {path.suffix or 'suffixless'} "
                               "file this render writes; refusing to replace it "
                               "(pass --overwrite / overwrite=True)")


def _looks_like(path: Path) -> bool:
    """Whether ``path``'s first bytes match its suffix (unknown suffixes are trusted)."""
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(12)
    if suffix in _ISO:
        return head[4:8] in _ISO_ATOMS
    magic = _MAGIC.get(suffix)
    return magic is None or head.startswith(magic)
