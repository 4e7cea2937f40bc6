"""The run manifest: one JSON line per job attempt as it ends, beside the job file.

``--resume`` trusts it together with the files: a job is done only when its last record
says ``done`` and its video and every export it asks for exist with the sizes recorded. A
job killed between its video and its exports has no ``done`` record, so it is rendered
again; so is one whose file was deleted, truncated or replaced since.

The writer is a plain ``on_result`` callable, so the local and the Ray executor record
their attempts the same way.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import InputError
from .jobfile import Job
from .jobrun import JobResult


def default_manifest(job_file: str | Path) -> Path:
    """``jobs.toml`` -> ``jobs.toml.manifest.jsonl`` beside it."""
    p = Path(job_file)
    return p.with_name(p.name + ".manifest.jsonl")


class ManifestWriter:
    """``on_result`` callback appending one record per attempt; each line is flushed and
    synced before the next job is recorded, so a killed driver loses at most the line it
    was writing (which the reader skips)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as e:
            raise InputError(self.path, f"cannot write the manifest ({e.strerror})") from None

    def __call__(self, result: JobResult) -> None:
        self._file.write(json.dumps(record_of(result)) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record_of(result: JobResult) -> dict[str, Any]:
    """The manifest line for one attempt: what ended how, where, and the files it wrote
    with their sizes (what ``--resume`` checks them against)."""
    written = {}
    if result.status == "done":
        written[str(result.output)] = _size(result.output)
        if result.result is not None:
            for path in result.result.exports.values():
                written[str(path)] = _size(path)
    return {"job": result.name, "output": str(result.output), "status": result.status,
            "attempt": result.attempt, "seconds": round(result.seconds, 3),
            "host": result.host, "written": written, "error": result.error,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _size(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def last_records(path: str | Path) -> dict[str, dict[str, Any]]:
    """Each output's last record in the manifest at ``path`` (none when it is missing);
    a line cut short by a kill is skipped."""
    last: dict[str, dict[str, Any]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return last
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the manifest ({e})") from None
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("output"), str):
            last[rec["output"]] = rec
    return last


def is_done(job: Job, records: dict[str, dict[str, Any]]) -> bool:
    """Whether ``records`` say ``job`` finished and every file it writes is still there,
    with the size recorded."""
    rec = records.get(str(job.output))
    if rec is None or rec.get("status") != "done":
        return False
    written = rec.get("written") or {}
    for p in job.written_paths():
        size = written.get(str(p))
        if size is None or _size(p) != size:
            return False
    return True
