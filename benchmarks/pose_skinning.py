"""portrait.pose rig: candy-wrapper and distortion figures of the three skinning methods
(``linear`` blend skinning, joint-angle ``rigid`` blending, ``arap`` refinement), all measured in
one process on the shipped figure (``assets/pose/figure.png`` with its keypoints and mask).

Poses: the reference keypoints with elbows bent 90/120/150 degrees, knees bent 90/120, arms
raised overhead, forearms folded across the torso (and foreshortened to 0.6, as a forearm
turned towards the camera), plus every frame of the shipped ``dance.npz`` retargeted onto the
figure as the engine does.

Quality, over all triangles of the head and limb meshes (away from the joints they follow
one bone and are identical under all three methods), per triangle the
Jacobian ``J`` of rest -> frame with singular values s1 >= s2 (s2 < 0 when flipped):
``flipped`` (det J < 0), ``collapsed`` (area below 50 % or flipped), ``mean_abs_log_area``
(|log det J|, det clipped to >= 0.01), ``sv_deviation_mean`` / ``sv_deviation_max``
(max(|s1 - 1|, |s2 - 1|): the distance from a rotation; foreshortening counts too), and the
rendered area of each limb relative to the rest pose (``limb_area_min`` / ``limb_area_mean``).
Speed: ms per frame over the dance frames for the deformation alone (all parts) and for the
full render, best of ``--repeat``, the methods interleaved (their order rotated each repeat).

PCK@0.1 per method (``--pck``: the shipped driver clip; ``--dev DIR``: the dev clip, 4 s) checks
that the refinement does not move the joints the detector sees.

    nice -n 10 .venv/bin/python benchmarks/pose_skinning.py --repeat 3 --pck \
        --dev ../shared/dev-data --figure docs/portrait_pose_arap.png \
        > benchmarks/results/pose_skinning.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from animakit.portrait.pose.arap import FREE_RADIUS, deformation_gradients, triangle_gradients  # noqa: E402
from animakit.portrait.pose.posefile import load_pose_file  # noqa: E402
from animakit.portrait.pose.raster import draw_part  # noqa: E402
from animakit.portrait.pose.reference import load_reference, targets  # noqa: E402
from animakit.portrait.pose.retarget import extend  # noqa: E402
from animakit.portrait.pose.rig_engine import RigRenderer, rig_renderer  # noqa: E402
from animakit.portrait.pose.skinning import frame_transforms  # noqa: E402

ASSETS = ROOT / "assets" / "pose"
METHODS = ("linear", "rigid", "arap")
FOREARM = {"l": ([15, 17, 19, 21], 13), "r": ([16, 18, 20, 22], 14)}
ARM = {"l": ([13, 15, 17, 19, 21], 11), "r": ([14, 16, 18, 20, 22], 12)}
SHIN = {"l": ([27, 29, 31], 25), "r": ([28, 30, 32], 26)}


def rotated(points: np.ndarray, chain: tuple[list[int], int], degrees: float,
            scale: float = 1.0) -> np.ndarray:
    """(33, 3) ``points`` with the joints ``chain[0]`` turned about joint ``chain[1]`` (and
    scaled towards it)."""
    out = points.copy()
    idx, centre = chain
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) * scale
    out[idx, :2] = (points[idx, :2] - points[centre, :2]) @ rot.T + points[centre, :2]
    return out


def test_poses(ref_points: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Named pose sets (each a list of (33, 3)) that provoke candy-wrapper artefacts. Image y
    points down: a positive angle turns clockwise on screen; the figure's left arm is on the
    image's right."""
    p = ref_points
    sets: dict[str, list[np.ndarray]] = {}
    for bend in (90, 120, 150):
        sets[f"elbow_{bend}"] = [rotated(rotated(p, FOREARM["l"], -bend), FOREARM["r"], bend)]
    for bend in (90, 120):
        sets[f"knee_{bend}"] = [rotated(rotated(p, SHIN["l"], bend), SHIN["r"], -bend)]
    up = rotated(rotated(p, ARM["l"], -140), ARM["r"], 140)
    sets["arms_overhead"] = [rotated(rotated(up, FOREARM["l"], -35), FOREARM["r"], 35)]
    sets["forearm_across_torso"] = [
        rotated(rotated(p, FOREARM["l"], 125, scale), FOREARM["r"], -125, scale)
        for scale in (1.0, 0.6)]
    return sets


def dance_poses(ref) -> list[np.ndarray]:
    seq = load_pose_file(ASSETS / "dance.npz")
    return list(targets(ref, seq, smoothing=0.5, mode="skeleton", root_motion=0.5).points)


def measured(part) -> np.ndarray:
    """(K,) bool: the part's triangles that are measured (every one but the torso's, which
    follows the torso quad alone under all three methods)."""
    return np.full(len(part.triangles), part.name != "torso")


def triangle_quality(rest_parts, deformed: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per measured triangle: det J (area ratio) and the largest |singular value - 1|."""
    dets, devs = [], []
    for part, x in zip(rest_parts, deformed):
        zone = measured(part)
        if not zone.any():
            continue
        grads, _ = triangle_gradients(part.vertices[part.triangles[zone]])
        j = deformation_gradients(x, part.triangles[zone], grads)
        det = np.linalg.det(j)
        s = np.linalg.svd(j, compute_uv=False)
        s2 = np.where(det < 0, -s[:, 1], s[:, 1])
        dets.append(det)
        devs.append(np.maximum(np.abs(s[:, 0] - 1), np.abs(s2 - 1)))
    return {"det": np.concatenate(dets), "dev": np.concatenate(devs)}


def limb_areas(renderer: RigRenderer, deformed: list[np.ndarray],
               rest: list[np.ndarray]) -> list[float]:
    """Rendered area of each limb part at the pose over its rest-pose area."""
    w, h = renderer.rig.size
    out = []
    for part, x, x0 in zip(renderer.rig.parts, deformed, rest):
        if part.name in ("torso", "head"):
            continue
        cov = [np.zeros((h, w), np.float32) for _ in range(2)]
        for c, verts in zip(cov, (x, x0)):
            draw_part(np.zeros((h, w, 3), np.float32), part, verts, c)
        out.append(float(cov[0].sum() / max(cov[1].sum(), 1e-6)))
    return out


def quality(renderer: RigRenderer, poses: list[np.ndarray], areas: bool = True) -> dict[str, float]:
    rig = renderer.rig
    rest = renderer.deform_all(frame_transforms(rig.ref_ext, rig.ref_ext))
    dets, devs, limb = [], [], []
    for pts in poses:
        ext = extend(pts[None].astype(np.float64))[0]
        d = renderer.deform_all(frame_transforms(rig.ref_ext, ext))
        q = triangle_quality(rig.parts, d)
        dets.append(q["det"])
        devs.append(q["dev"])
        if areas:
            limb += limb_areas(renderer, d, rest)
    det, dev = np.concatenate(dets), np.concatenate(devs)
    out = {"triangles": int(len(det)), "flipped": round(float(np.mean(det < 0)), 4),
           "collapsed": round(float(np.mean(det < 0.5)), 4),
           "mean_abs_log_area": round(float(np.mean(np.abs(np.log(np.clip(det, 0.01, None))))), 4),
           "sv_deviation_mean": round(float(dev.mean()), 4),
           "sv_deviation_max": round(float(dev.max()), 4)}
    if areas:
        out.update(limb_area_min=round(min(limb), 4), limb_area_mean=round(float(np.mean(limb)), 4))
    return out


def timings(renderers: dict[str, RigRenderer], poses: list[np.ndarray],
            repeat: int) -> dict[str, float]:
    """ms per frame, best of ``repeat``: the full render, then (in a separate pass, as the
    deform-only loops were seen to slow the render loop that followed them) the deformation."""
    exts = [extend(p[None].astype(np.float64))[0] for p in poses]
    names = list(renderers)
    best: dict[str, float] = {}
    for kind in ("render", "deform"):
        for rep in range(repeat):
            for m in names[rep % len(names):] + names[:rep % len(names)]:     # rotate the order
                r = renderers[m]
                t = time.perf_counter()
                if kind == "render":
                    for p in poses:
                        r.render(p)
                else:
                    for e in exts:
                        r.deform_all(frame_transforms(r.rig.ref_ext, e))
                dt = (time.perf_counter() - t) / len(poses)
                best[f"{m}_{kind}"] = min(best.get(f"{m}_{kind}", np.inf), dt)
    return {f"ms_{k}": round(1000 * v, 3) for k, v in sorted(best.items())}


def joint_views(renderer: RigRenderer, pts: np.ndarray, box: tuple[int, int, int, int],
                zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """The render at ``pts`` cropped to ``box`` (x0, y0, x1, y1) and enlarged, plain and with the
    limbs' meshes drawn over it (collapsed triangles outlined red, flipped ones filled)."""
    rig = renderer.rig
    ext = extend(pts[None].astype(np.float64))[0]
    d = renderer.deform_all(frame_transforms(rig.ref_ext, ext))
    x0, y0, x1, y1 = box
    plain = cv2.resize(renderer.render(pts)[y0:y1, x0:x1], None, fx=zoom, fy=zoom,
                       interpolation=cv2.INTER_NEAREST)
    mesh = plain.copy()
    for i in renderer.order(ext):
        part, x = rig.parts[i], d[i]
        zone = measured(part)
        if not zone.any():
            continue
        det = triangle_quality([part], [x])["det"]
        for tri, a in zip(part.triangles[zone], det):
            c = np.round((x[tri] - [x0, y0]) * zoom * 16).astype(np.int32)
            if a < 0:
                cv2.fillConvexPoly(mesh, c, (230, 30, 30), cv2.LINE_AA, shift=4)
            cv2.polylines(mesh, [c], True, (230, 30, 30) if a < 0.5 else (30, 30, 30), 1,
                          cv2.LINE_AA, shift=4)
    return plain, cv2.addWeighted(plain, 0.4, mesh, 0.6, 0)


FIGURE_VIEWS = (("elbow_150", 13), ("forearm_across_torso", 13), ("knee_90", 25))


def figure(renderers: dict[str, RigRenderer], sets: dict[str, list[np.ndarray]],
           path: Path) -> None:
    """Columns = methods; per pose of ``FIGURE_VIEWS`` two rows around its joint: the render
    and the render with the limbs' meshes."""
    w, h = renderers["rigid"].rig.size
    half = int(0.12 * h)
    rows = []
    for name, joint in FIGURE_VIEWS:
        pts = sets[name][0]
        x0 = int(np.clip(pts[joint, 0] - half, 0, w - 2 * half))
        y0 = int(np.clip(pts[joint, 1] - half, 0, h - 2 * half))
        views = [joint_views(renderers[m], pts, (x0, y0, x0 + 2 * half, y0 + 2 * half), 2)
                 for m in METHODS]
        for k in range(2):
            rows.append(np.hstack([np.pad(v[k], ((2, 2), (2, 2), (0, 0)), constant_values=255)
                                   for v in views]))
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


PCK_JOINTS = (0,) + tuple(range(11, 29))     # nose, shoulders ... ankles


def pck_by_method(image: str, driving: str, duration: float | None) -> dict[str, float]:
    """PCK@0.1 per skinning method: the pipeline renders ``driving`` onto ``image`` at 512 px,
    MediaPipe (image mode) re-detects every output frame, and a joint counts when it lies within
    0.1 x the target's neck-to-mid-hip distance of the retargeted target (as in
    ``benchmarks/portrait_pose.py``)."""
    from animakit import load_pipeline
    from animakit.portrait.landmarks import PoseDetector
    pipe = load_pipeline("portrait.pose")
    out = {}
    for m in METHODS:
        res = pipe(image=image, driving=driving, size=512, root_motion=0.5, skinning=m,
                   duration=duration)
        hits = []
        with PoseDetector() as det:
            for frame, tgt in zip(res.frames, res.extras["targets"]):
                pose = det(np.asarray(frame))
                e = extend(tgt[None, :, :2].astype(np.float64))[0]
                scale = max(float(np.linalg.norm(e[33] - e[34])), 1e-6)
                if pose is None:
                    hits.append(np.zeros(len(PCK_JOINTS), bool))
                    continue
                j = list(PCK_JOINTS)
                d = np.linalg.norm(pose.points[j, :2] - tgt[j, :2], axis=1)
                hits.append(d < 0.1 * scale)
        out[m] = round(float(np.mean(hits)), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--figure", type=Path, default=None, help="write the side-by-side PNG here")
    ap.add_argument("--pck", action="store_true", help="also PCK@0.1 per method on the shipped "
                    "dance_driver.mp4 (MediaPipe on the reference, driver and outputs)")
    ap.add_argument("--dev", type=Path, default=None, help="a folder with dance_fullbody.mp4 and "
                    "fullbody_ref_illustration.png: PCK@0.1 per method on its first 4 s too")
    args = ap.parse_args()
    ref = load_reference({"image": str(ASSETS / "figure.png"),
                          "mask": str(ASSETS / "figure_mask.png"),
                          "keypoints": str(ASSETS / "figure_keypoints.json")}, args.size)
    base = rig_renderer(ref, None, True)
    renderers = {m: RigRenderer(base.rig, base.background, skinning=m) for m in METHODS}
    t = time.perf_counter()
    RigRenderer(base.rig, base.background, skinning="arap")
    setup_ms = 1000 * (time.perf_counter() - t)
    sets = test_poses(ref.points)
    dance = dance_poses(ref)
    result = {"reference": "assets/pose/figure.png", "size": list(ref.image.shape[1::-1]),
              "dance_frames": len(dance), "arap_setup_ms": round(setup_ms, 2),
              "arap_iterations": renderers["arap"].arap.iterations,
              "arap_free_vertices": int(len(renderers["arap"].arap.free)),
              "arap_free_radius_px": round(FREE_RADIUS * base.rig.grid, 2),
              "assets_md5": {n: hashlib.md5((ASSETS / n).read_bytes()).hexdigest()[:10]
                             for n in ("figure.png", "figure_keypoints.json", "dance.npz")},
              "vertices": int(sum(len(p.vertices) for p in base.rig.parts)), "quality": {}}
    for name, poses in {**sets, "dance": dance}.items():
        result["quality"][name] = {m: quality(renderers[m], poses, areas=name != "dance")
                                   for m in METHODS}
    result["speed"] = timings(renderers, dance, args.repeat)
    if args.pck:
        result["pck@0.1_shipped_driver"] = pck_by_method(
            str(ASSETS / "figure.png"), str(ASSETS / "dance_driver.mp4"), None)
    if args.dev:
        result["pck@0.1_dev_clip_4s"] = pck_by_method(
            str(args.dev / "fullbody_ref_illustration.png"), str(args.dev / "dance_fullbody.mp4"),
            4.0)
    if args.figure:
        figure(renderers, sets, args.figure)
        result["figure"] = str(args.figure)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
