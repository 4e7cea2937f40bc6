"""``animakit`` command line: list pipelines, run one, batch-render a TOML job file.

User mistakes print one line on stderr and exit with code 2; no traceback, no output file.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.util
import json
import os
import signal
import sys
import warnings
from typing import Any, Iterator, Sequence

from .errors import AnimakitError, InputError
from .render import render

EXIT_USER = 2
OVERWRITE_HELP = ("let an output or export replace an input or an existing file of another "
                  "type (an existing video output is always replaced)")


def _pairs(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(flag, f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


# -- pipelines ---------------------------------------------------------------------------
def cmd_pipelines(args: argparse.Namespace) -> int:
    from .registry import pipeline_classes
    described = [cls.describe() for cls in pipeline_classes().values()]
    if args.json:
        print(json.dumps(described, indent=2, default=str))
        return 0
    for d in described:
        print(f"{d['name']}  — {d['help']}")
        print("  inputs:  " + ", ".join(
            f"{i['name']} ({i['kind']}{'' if i['required'] else ', optional'})" for i in d["inputs"]))
        print("  engines: " + ", ".join(
            f"{e['name']}{' (default)' if e['default'] else ''}{' [neural]' if e['neural'] else ''}"
            for e in d["engines"]))
        print("  params:")
        _print_params(d["params"], "    ")
        for e in d["engines"]:
            if e["params"]:
                print(f"  {e['name']} engine params:")
                _print_params(e["params"], "    ")
        print()
    return 0


def _print_params(params: list[dict], indent: str) -> None:
    for p in params:
        rng = ""
        if p["choices"]:
            rng = " {" + "|".join(map(str, p["choices"])) + "}"
        elif p["min"] is not None or p["max"] is not None:
            rng = f" [{p['min']}..{p['max']}]"
        print(f"{indent}{p['name']} = {p['default']!r}  ({p['type']}{rng})  {p['help']}")


# -- run ---------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    inputs = _pairs(args.input, "--input")
    params: dict[str, Any] = _pairs(args.param, "--param")
    exports = _pairs(args.export, "--export")
    if args.export_landmarks:
        exports["landmarks"] = args.export_landmarks
    if args.export_pose:
        exports["pose"] = args.export_pose
    with sigterm_as_interrupt():
        result = render(args.pipeline, args.output, inputs=inputs, params=params,
                        engine=args.engine, seed=args.seed, exports=exports,
                        progress=not args.quiet, overwrite=args.overwrite)
    for w in result.warnings:
        _show_warning(w)
    if not args.quiet:
        print(f"wrote {result.output}: {result.frames} frames at {result.fps:g} fps "
              f"({result.seconds:.2f} s)")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, ``docker stop``, a scheduler), raised like Ctrl-C so that the
    same cleanup runs: the writer removes its temporary files, scratch folders are deleted."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` instead of killing us."""
    def stop(signum: int, frame: Any) -> None:
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- render ------------------------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    from .jobs import BatchCancelled, check_inside_root, default_manifest, load_jobs, run_jobs
    if args.retries < 0:
        raise InputError("--retries", f"must be 0 or more, got {args.retries}")
    if args.timeout is not None and not args.timeout > 0:
        raise InputError("--timeout", f"must be a positive number of seconds, got {args.timeout}")
    jobs = load_jobs(args.jobs)
    if args.overwrite:
        jobs = [dataclasses.replace(job, overwrite=True) for job in jobs]
    if args.root is not None:
        check_inside_root(jobs, args.root)
    executor = _executor(args)
    workers = capped_workers(args.workers)
    manifest = args.manifest or default_manifest(args.jobs)
    try:
        results = run_jobs(jobs, workers=workers, resume=args.resume, progress=not args.quiet,
                           retries=args.retries, timeout=args.timeout, manifest=manifest,
                           executor=executor)
    except BatchCancelled as e:
        print_summary(e.results, len(jobs))
        print(f"animakit: {e}; running jobs were stopped and their partial files removed",
              file=sys.stderr)
        return 128 + e.signum
    print_summary(results, len(jobs))
    return 1 if any(r.status == "failed" for r in results) else 0


def _executor(args: argparse.Namespace) -> Any:
    """The function that runs the jobs: the local pool, or Ray's imported only now."""
    from .local_executor import run_local
    if args.executor == "local":
        if args.address:
            raise InputError("--address", "only applies to --executor ray")
        return run_local
    try:
        from .ray_executor import run_on_ray  # type: ignore[import-not-found]
        ray_found = importlib.util.find_spec("ray") is not None
    except ImportError:
        ray_found = False
    if not ray_found:
        raise AnimakitError("--executor ray needs Ray: pip install 'animakit[ray]'")
    return functools.partial(run_on_ray, address=args.address)


def capped_workers(asked: int) -> int:
    """``asked`` workers, at most one per core this process may use (with a warning)."""
    if asked < 1:
        raise InputError("--workers", f"must be at least 1, got {asked}")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                      # not on Linux
        cores = os.cpu_count() or 1
    if asked > cores:
        _show_warning(f"--workers {asked} capped at {cores}, the cores available")
        return cores
    return asked


def print_summary(results: list[Any], total: int) -> None:
    """The per-status counts and one line per job (the error under a failed one)."""
    count = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed",
                                                              "cancelled")}
    line = f"\n{total} jobs: {count['done']} done, {count['skipped']} skipped, {count['failed']} failed"
    print(line + (f", {count['cancelled']} cancelled" if count["cancelled"] else ""))
    for r in results:
        line = f"  [{r.status:>9}] {r.name} -> {r.output}"
        if r.attempt > 1:
            line += f"  (attempt {r.attempt})"
        if r.error is not None:
            line += f"\n              {r.error}"
        elif r.result is not None:
            line += f"  ({r.result.frames} frames, {r.result.wall_seconds:.1f} s)"
        print(line)
    sys.stdout.flush()


# -- entry -------------------------------------------------------------------------------
def cmd_live(args: argparse.Namespace) -> int:
    from .live.local import run_live
    stats = run_live(args.image, camera=args.camera, virtual_camera=args.virtual_camera,
                     pipeline=args.pipeline, params=_pairs(args.param, "--param"),
                     seconds=args.seconds)
    print(f"{stats['frames']} frames at {stats['fps']:.1f} fps")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="animakit", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pipelines", help="list registered pipelines, their inputs, engines, params")
    p.add_argument("--json", action="store_true", help="machine-readable list")
    p.set_defaults(func=cmd_pipelines)

    p = sub.add_parser("run", help="run one pipeline into a video file")
    p.add_argument("pipeline", help="dotted pipeline name (see `animakit pipelines`)")
    p.add_argument("--input", "-i", action="append", metavar="KEY=PATH", help="a named input")
    p.add_argument("--param", "-p", action="append", metavar="KEY=VALUE", help="a parameter")
    p.add_argument("--engine", "-e", help="engine name (default: the pipeline's default)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--export", action="append", metavar="NAME=PATH",
                   help="also write a side output (e.g. landmarks=motion.npz, preview=cmp.mp4)")
    p.add_argument("--export-landmarks", metavar="PATH", help="shorthand for --export landmarks=PATH")
    p.add_argument("--export-pose", metavar="PATH", help="shorthand for --export pose=PATH")
    p.add_argument("--output", "-o", required=True, help="output video (.mp4)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("render", help="batch-render the jobs of a TOML file")
    p.add_argument("jobs", help="TOML job file (see assets/jobs.example.toml)")
    p.add_argument("--workers", "-j", type=int, default=1,
                   help="jobs rendered in parallel (at most the cores available)")
    p.add_argument("--resume", action="store_true",
                   help="skip jobs the manifest records done whose files still match")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="times a job whose worker died is tried again (default 1)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop a job's attempt after this long and report it failed")
    p.add_argument("--manifest", metavar="PATH",
                   help="run manifest (JSON lines; default: <jobfile>.manifest.jsonl)")
    p.add_argument("--root", metavar="DIR",
                   help="refuse any input, output or export outside DIR (for a service)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray tasks (pip install 'animakit[ray]')")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join (auto, ray://host:10001); default: a local Ray")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("live", help="a camera drives IMAGE in real time (a pipeline's live mode)")
    p.add_argument("image", help="the picture to animate")
    p.add_argument("--camera", type=int, default=0, metavar="N", help="camera index (default 0)")
    p.add_argument("--virtual-camera", action="store_true",
                   help="also feed a virtual camera for OBS / Zoom (needs pyvirtualcam)")
    p.add_argument("--pipeline", help="which live pipeline (default: the only one)")
    p.add_argument("--param", "-p", action="append", metavar="KEY=VALUE", help="a parameter")
    p.add_argument("--seconds", type=float, help="stop after this long (default: q / Esc)")
    p.set_defaults(func=cmd_live)
    return ap


_SHOWN: set[str] = set()


def _show_warning(message: object, *_: Any, **__: Any) -> None:
    """One ``animakit: warning:`` line per distinct message: Python warnings raised while a
    pipeline runs and the render summary's warnings say the same thing once, without the
    source line Python's default display adds."""
    text = str(message)
    if text not in _SHOWN:
        _SHOWN.add(text)
        print(f"animakit: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except AnimakitError as e:
        print(f"animakit: error: {e}", file=sys.stderr)
        return EXIT_USER
    except Terminated:
        print("animakit: terminated; no partial output was kept", file=sys.stderr)
        return 128 + Terminated.signum
    except KeyboardInterrupt:
        print("animakit: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
