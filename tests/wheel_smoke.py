"""Build the wheel and smoke-test it from outside the repository, as a user would run it.

    .venv/bin/python tests/wheel_smoke.py            # what `make wheel-test` runs
    .venv/bin/python tests/wheel_smoke.py --keep     # keep the temp folder to look inside

Run it with the project venv's python: the packages the wheel needs are taken from there.

In a temporary folder: a fresh virtualenv whose only third-party packages are the project
venv's (a ``.pth`` file points at its site-packages), the wheel installed ``--no-deps``, and
from a working directory outside the checkout: ``animakit pipelines``, every pipeline's
first example rendered through the CLI (inputs from the installed ``animakit.ASSETS``; the
DiT with its shipped checkpoint), and the studio started and answering HTTP. Prints one
line per check; exits non-zero when one fails.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from animakit.testing import cli_value   # how `-p KEY=VALUE` spells a param value

ROOT = Path(__file__).resolve().parent.parent
STUDIO_BOOT_S = 240


class Failed(Exception):
    """A check failed; the message says what was seen."""


def run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``args`` run in ``cwd``; raises :class:`Failed` with the tail of stderr on a non-zero exit."""
    r = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
        raise Failed(f"exit {r.returncode}: {' | '.join(tail)}")
    return r


def build_wheel(dist: Path) -> Path:
    """The wheel built from the checkout into ``dist`` (older animakit wheels removed)."""
    for old in dist.glob("animakit-*.whl"):
        old.unlink()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, "."], ROOT)
    wheels = sorted(dist.glob("animakit-*.whl"))
    if len(wheels) != 1:
        raise Failed(f"expected one wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def make_venv(folder: Path) -> Path:
    """A fresh virtualenv in ``folder`` that sees the project venv's packages; its python."""
    run([sys.executable, "-m", "venv", "--without-pip", folder], ROOT)
    python = folder / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    folder).stdout.strip())
    # A path added by a .pth file is searched for modules, but the .pth files inside it (the
    # checkout's editable install among them) are not processed: the checkout stays invisible.
    (site / "project_deps.pth").write_text("".join(f"{p}\n" for p in site_packages()))
    return python


def site_packages() -> list[str]:
    """The site-packages folders this python imports from: the project venv's, and any
    venv it chains to through a ``.pth`` file."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")
            and Path(p).is_dir()]


def install_wheel(python: Path, wheel: Path, cwd: Path) -> None:
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], cwd)


def installed_location(python: Path, venv: Path, cwd: Path) -> str:
    """Where ``animakit`` imports from; must be inside the temp venv, not the checkout."""
    where = run([python, "-c", "import animakit; print(animakit.__file__)"], cwd).stdout.strip()
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise Failed(f"animakit imports from {where}, not from the installed wheel")
    return where


def pipelines(cli: Path, cwd: Path) -> list[dict[str, Any]]:
    """``animakit pipelines`` works; the ``--json`` description of every pipeline."""
    text = run([cli, "pipelines"], cwd).stdout
    described = json.loads(run([cli, "pipelines", "--json"], cwd).stdout)
    missing = [d["name"] for d in described if d["name"] not in text]
    if not described or missing:
        raise Failed(f"pipelines listed: {len(described)}, missing from the text list: {missing}")
    return described


def assets(python: Path, cwd: Path) -> Path:
    """The installed ``animakit.ASSETS``, which must live inside the installed package."""
    path = Path(run([python, "-c", "import animakit; print(animakit.ASSETS)"], cwd).stdout.strip())
    if path.parent.name != "animakit" or not path.is_dir():
        raise Failed(f"animakit.ASSETS is {path}, not the installed animakit/assets")
    return path


def render_example(cli: Path, pipeline: dict[str, Any], assets_dir: Path, cwd: Path) -> str:
    """The pipeline's first example rendered by the installed CLI into ``cwd``."""
    example = pipeline["examples"][0]
    output = cwd / f"{pipeline['name']}.mp4"
    args: list[Any] = [cli, "run", pipeline["name"], "-o", output, "-q", "--seed", "0"]
    for key, rel in (example.get("inputs") or {}).items():
        args += ["-i", f"{key}={assets_dir / rel}"]
    for key, value in (example.get("params") or {}).items():
        args += ["-p", f"{key}={cli_value(value)}"]
    if example.get("engine"):
        args += ["-e", example["engine"]]
    run(args, cwd)
    if not output.is_file() or output.stat().st_size == 0:
        raise Failed(f"no video at {output}")
    return f"{output.name}, {output.stat().st_size // 1024} KiB"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def studio(python: Path, cwd: Path) -> str:
    """The installed studio starts on a free port and answers 200 on ``/config``."""
    port = free_port()
    code = f"from animakit.studio import build_app, launch; launch(build_app(), server_port={port})"
    with open(cwd / "studio.log", "w+") as log:     # a file: a full pipe would stall it
        proc = subprocess.Popen([str(python), "-c", code], cwd=cwd, stdout=log, stderr=log)
        try:
            return wait_for_http(proc, f"http://127.0.0.1:{port}/config", log)
        finally:
            stop(proc)


def wait_for_http(proc: subprocess.Popen, url: str, log: Any) -> str:
    """``url`` answering 200 while ``proc`` runs, within :data:`STUDIO_BOOT_S`."""
    deadline = time.monotonic() + STUDIO_BOOT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().strip().splitlines()[-3:]
            raise Failed(f"studio exited {proc.returncode}: {' | '.join(tail)}")
        if http_ok(url):
            return f"HTTP 200 on {url}"
        time.sleep(1)
    raise Failed(f"no HTTP 200 from {url} within {STUDIO_BOOT_S} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def check(name: str, fn: Callable[[], Any]) -> Any:
    """Run one check, print one line (ok/FAIL, seconds, detail); re-raise a failure."""
    t0 = time.monotonic()
    try:
        result = fn()
    except (Failed, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL {name} ({time.monotonic() - t0:.1f} s): {e}", flush=True)
        raise Failed(name) from e
    detail = result if isinstance(result, str) else ""
    print(f"ok   {name} ({time.monotonic() - t0:.1f} s){': ' + detail if detail else ''}",
          flush=True)
    return result


def smoke(tmp: Path, dist: Path) -> int:
    """Every check in order; the number that failed (later checks need the earlier ones,
    so the first failure of the install stops the run; renders are independent)."""
    venv, work = tmp / "venv", tmp / "work"
    work.mkdir()
    wheel = check("build wheel", lambda: build_wheel(dist))
    python = check("fresh venv", lambda: make_venv(venv))
    check(f"install {wheel.name}", lambda: install_wheel(python, wheel, work))
    check("animakit imports from the wheel", lambda: installed_location(python, venv, work))
    cli = venv / "bin" / "animakit"
    described = check("animakit pipelines", lambda: pipelines(cli, work))
    assets_dir = check("installed assets", lambda: str(assets(python, work)))
    failures = 0
    for p in described:
        try:
            check(f"render {p['name']}",
                  lambda p=p: render_example(cli, p, Path(assets_dir), work))
        except Failed:
            failures += 1
    try:
        check("studio starts", lambda: studio(python, work))
    except Failed:
        failures += 1
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the wheel goes")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    args.dist.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="animakit-wheel-"))
    t0 = time.monotonic()
    try:
        failures = smoke(tmp, args.dist.resolve())
    except Failed:
        failures = 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'}: wheel smoke test in {time.monotonic() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
