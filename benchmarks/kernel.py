"""Kernel overheads: CLI start-up, each pipeline's first example end to end from the CLI, and
in one process the first and the second render through the API (the second with the cached
pipeline and engine weights). Prints one JSON object, also saved to
benchmarks/results/kernel.json, with the same figures of the code before the run API and the
engine cache under "before".

    python benchmarks/kernel.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import animakit  # noqa: E402
from animakit import ASSETS, cache  # noqa: E402
from animakit.cache import MODELS  # noqa: E402
from animakit.registry import pipeline_classes  # noqa: E402

EXE = str(Path(sys.executable).parent / "animakit")
RESULT = ROOT / "benchmarks" / "results" / "kernel.json"

# The same measurements with the code of commit 996251a (no run API, a new pipeline instance
# and a fresh weight load per render), taken on the same machine. video.kenburns was
# registered as animakit.kenburns there.
BEFORE = {
    "pipelines_startup_s": 3.28,
    "pipelines": {
        "video.kenburns": {"cli_first_example_s": 5.54, "api_first_s": 4.6, "api_second_s": 4.05},
        "dit.generate": {"cli_first_example_s": 11.41, "api_first_s": 5.71, "api_second_s": 2.25},
        "editing.first_frame": {"cli_first_example_s": 4.02, "api_first_s": 0.88,
                                "api_second_s": 0.81},
        "portrait.pose": {"cli_first_example_s": 4.95, "api_first_s": 1.94, "api_second_s": 1.87},
        "portrait.talking": {"cli_first_example_s": 5.2, "api_first_s": 4.28, "api_second_s": 2.98},
        "video.i2v": {"cli_first_example_s": 6.05, "api_first_s": 1.86, "api_second_s": 1.71},
    },
}


def wall(cmd: list[str]) -> float:
    """Seconds a subprocess takes, start-up included."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def startup_s(repeats: int = 3) -> float:
    """Median wall time of ``animakit pipelines`` (import, entry points, listing)."""
    return statistics.median(wall([EXE, "pipelines"]) for _ in range(repeats))


def example_args(example: dict) -> tuple[dict[str, str], dict]:
    """An example's inputs (relative to the shipped assets) as paths, and its params."""
    inputs = {k: str(ASSETS / v) for k, v in example["inputs"].items()}
    return inputs, dict(example.get("params", {}))


def cli_s(name: str, example: dict, out: Path) -> float:
    """One ``animakit run ... -q`` of the example, in a fresh process."""
    inputs, params = example_args(example)
    args = [EXE, "run", name, "-q", "-o", str(out)]
    args += [a for k, v in inputs.items() for a in ("-i", f"{k}={v}")]
    args += [a for k, v in params.items() for a in ("-p", f"{k}={v}")]
    return wall(args)


def api_s(name: str, example: dict, out: Path) -> float:
    """One ``animakit.render`` of the example in this process."""
    inputs, params = example_args(example)
    t0 = time.perf_counter()
    animakit.render(name, out, inputs=inputs, params=params, progress=False)
    return round(time.perf_counter() - t0, 2)


def api_figures(name: str, example: dict, folder: Path) -> dict:
    """Wall time of the first and the second render of the example in this process, the
    model loads the two took, and a third render after ``cache.clear()``: what the second
    costs when pipeline and weights are built again (the old behaviour), measured alongside."""
    loads = sum(MODELS.loads.values())
    first, second = (api_s(name, example, folder / f"{name}-{i}.mp4") for i in range(2))
    figures = {"api_first_s": first, "api_second_s": second,
               "model_loads": sum(MODELS.loads.values()) - loads}
    cache.clear()
    figures["api_second_uncached_s"] = api_s(name, example, folder / f"{name}-2.mp4")
    return figures


def measure() -> dict:
    # the 1-minute load average before and after: other work on the machine slows every figure
    after: dict = {"load_average": [round(os.getloadavg()[0], 2)],
                   "pipelines_startup_s": round(startup_s(), 2), "pipelines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cls in pipeline_classes().items():
            example = cls.examples[0]
            figures = {"cli_first_example_s": round(cli_s(name, example, Path(tmp) / "cli.mp4"), 2),
                       **api_figures(name, example, Path(tmp))}
            after["pipelines"][name] = figures
            print(name, figures, file=sys.stderr)
    after["load_average"].append(round(os.getloadavg()[0], 2))
    return after


def main() -> None:
    result = {"method": "wall seconds on a shared CPU; start-up: median of 3 `animakit "
                        "pipelines`; cli: one `animakit run <first example> -q`; api: two "
                        "animakit.render calls of the first example in one process, then a "
                        "third after animakit.cache.clear()",
              "before": BEFORE, "after": measure()}
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
