"""portrait.pose rig, ``skinning=arap``: the as-rigid-as-possible refinement of the joint zones,
on the shipped figure (its own keypoints and mask, no detection) and the shipped dance."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from animakit import load_pipeline
from animakit.errors import InputError
from animakit.portrait.pose.arap import (FREE_RADIUS, ArapSolver, deformation_gradients, nearest_rotations,
                                 triangle_gradients)
from animakit.portrait.pose.reference import load_reference
from animakit.portrait.pose.retarget import ROOT, extend
from animakit.portrait.pose.rig_engine import RigRenderer, rig_renderer
from animakit.portrait.pose.skinning import frame_transforms

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "pose"
FIGURE = {"image": str(ASSETS / "figure.png"), "keypoints": str(ASSETS / "figure_keypoints.json"),
          "mask": str(ASSETS / "figure_mask.png")}
LIMB_PARTS = ("l_upper_arm", "l_forearm", "r_upper_arm", "r_forearm",
              "l_thigh", "l_shin", "r_thigh", "r_shin")


@pytest.fixture(scope="module")
def renderers():
    ref = load_reference(FIGURE, 320)
    base = rig_renderer(ref, None, False)
    return ref, {m: RigRenderer(base.rig, base.background, skinning=m)
                 for m in ("linear", "rigid", "arap")}


def _turned(points: np.ndarray, idx: list[int], centre: int, degrees: float) -> np.ndarray:
    out = points.copy()
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out[idx, :2] = (points[idx, :2] - points[centre, :2]) @ rot.T + points[centre, :2]
    return out


def _bent_elbows(points: np.ndarray, degrees: float) -> np.ndarray:
    """Both forearms (with the hands) turned about the elbows, in opposite directions."""
    p = _turned(points, [15, 17, 19, 21], 13, -degrees)
    return _turned(p, [16, 18, 20, 22], 14, degrees)


def _deformed(renderer: RigRenderer, points: np.ndarray) -> list[np.ndarray]:
    ext = extend(points[None].astype(np.float64))[0]
    return renderer.deform_all(frame_transforms(renderer.rig.ref_ext, ext))


def _area_ratios(renderer: RigRenderer, deformed: list[np.ndarray]) -> np.ndarray:
    """det J of every limb triangle (its area ratio; negative = flipped)."""
    out = []
    for part, x in zip(renderer.rig.parts, deformed):
        if part.name in LIMB_PARTS:
            grads, _ = triangle_gradients(part.vertices[part.triangles])
            out.append(np.linalg.det(deformation_gradients(x, part.triangles, grads)))
    return np.concatenate(out)


def test_arap_reproduces_a_rigid_motion_exactly(renderers):
    """The whole pose turned by 25 degrees and shifted: every vertex lands on the rigidly moved
    rest mesh, and the solver pulls perturbed joint zones back onto it."""
    ref, r = renderers
    arap = r["arap"]
    assert len(arap.arap.free) > 50 and len(arap.arap.triangles) > 100
    centre = extend(ref.points[None].astype(np.float64))[0, ROOT, :2]
    t = np.radians(25)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    shift = np.array([12.0, -7.0])
    moved = ref.points.astype(np.float64)
    moved[:, :2] = (moved[:, :2] - centre) @ rot.T + centre + shift
    rigid = [(p.vertices - centre) @ rot.T + centre + shift for p in arap.rig.parts]
    for part, x, want in zip(arap.rig.parts, _deformed(arap, moved), rigid):
        # 0.01 px: the skinning maps alone are exact to ~3e-3 px (the torso quad's bilinear
        # coordinates come from a few Newton steps)
        assert np.abs(x - want).max() < 0.01, part.name
    rest = _deformed(arap, ref.points)
    assert max(np.abs(x - p.vertices).max() for p, x in zip(arap.rig.parts, rest)) < 0.01

    solver = ArapSolver(arap.rig.parts, free_radius=FREE_RADIUS * arap.rig.grid,
                        iterations=40, prior=1e-3)
    target = np.concatenate(rigid)
    start = target.copy()
    start[solver.free] += np.random.default_rng(0).normal(0, 1.0, (len(solver.free), 2))
    out = solver.solve(start, np.broadcast_to(np.eye(2), (len(solver.triangles), 2, 2)))
    rest_all = np.concatenate([p.vertices for p in arap.rig.parts])
    grads, area = triangle_gradients(rest_all[solver.triangles])

    def energy(x):
        j = deformation_gradients(x, solver.triangles, grads)
        return float((area * ((j - nearest_rotations(j)) ** 2).sum(axis=(1, 2))).sum())

    assert energy(out) < 1e-4 * energy(start)
    err = np.linalg.norm(out - target, axis=1)[solver.free]
    # a vertex only on sliver triangles along the outline barely feels a slide along them,
    # so the tail converges slowly; the bulk is back on the rigid motion
    assert np.median(err) < 0.01 and np.percentile(err, 90) < 0.05
    assert np.array_equal(out[solver.fixed], target[solver.fixed])


def test_arap_bent_elbows_fold_less_than_linear_and_rigid(renderers):
    """Elbows bent by 45 degrees: linear blend skinning and the joint-angle blend flip
    triangles on the inner side of the bend, ARAP none; at 120 degrees (where the two limbs'
    inner sides overlap and some folding is unavoidable) ARAP still flips far fewer and
    distorts areas less."""
    ref, r = renderers
    for bend, most_flips in ((45, 0), (120, None)):
        pose = _bent_elbows(ref.points, bend)
        det = {m: _area_ratios(rr, _deformed(rr, pose)) for m, rr in r.items()}
        flips = {m: int((d < 0).sum()) for m, d in det.items()}
        log_area = {m: float(np.abs(np.log(np.clip(d, 0.01, None))).mean()) for m, d in det.items()}
        assert flips["linear"] > 0 and flips["rigid"] > 0, (bend, flips)
        if most_flips is not None:
            assert flips["arap"] <= most_flips, (bend, flips)
        assert flips["arap"] <= min(flips["linear"], flips["rigid"]) / 2, (bend, flips)
        assert log_area["arap"] < 0.75 * min(log_area["linear"], log_area["rigid"]), \
            (bend, log_area)


def test_arap_handles_land_on_their_skinned_targets(renderers):
    """Pinned vertices (one bone, away from the joints; the joint vertices) keep their skinned
    positions exactly; the solved ones move off the joint-angle blend."""
    ref, r = renderers
    pose = _bent_elbows(ref.points, 100)
    arap = np.concatenate(_deformed(r["arap"], pose))
    rigid = np.concatenate(_deformed(r["rigid"], pose))
    solver = r["arap"].arap
    assert np.array_equal(arap[solver.fixed], rigid[solver.fixed])
    assert np.abs(arap[solver.free] - rigid[solver.free]).max() > 1.0
    ext = extend(pose[None].astype(np.float64))[0]
    for part, x in zip(r["arap"].rig.parts, _deformed(r["arap"], pose)):
        if part.name in ("l_forearm", "r_forearm"):
            elbow = 13 if part.name == "l_forearm" else 14
            at = np.linalg.norm(part.vertices - r["arap"].rig.ref_ext[elbow, :2], axis=1) < 0.1
            # mesh vertices are rounded to 0.1 px
            assert at.sum() == 1 and np.abs(x[at] - ext[elbow, :2]).max() < 0.1


def test_pipeline_renders_with_arap_skinning():
    """The shipped figure driven by the shipped dance, end to end with ``skinning=arap``."""
    pipe = load_pipeline("portrait.pose")
    assert "arap" in {s.name: s for s in pipe.engine_param_specs("rig")}["skinning"].choices
    kw = dict(FIGURE, driving=str(ASSETS / "dance.npz"), size=256, duration=0.25)
    out = pipe(**kw, skinning="arap")
    rigid = pipe(**kw, skinning="rigid")
    frames, base = np.asarray(out.frames), np.asarray(rigid.frames)
    assert frames.shape == base.shape and frames.shape[0] >= 5 and frames.shape[-1] == 3
    diff = np.abs(frames.astype(int) - base).mean(axis=(1, 2, 3))
    assert diff.max() < 3.0                              # the same body, the same place
    assert diff.max() > 0.0                              # but the joints are refined
    with pytest.raises(InputError, match="skinning"):
        pipe(**kw, skinning="dual-quaternion")
