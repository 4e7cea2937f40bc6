"""portrait.pose, rig engine: exact checks on a synthetic figure with known joints driven by
procedural pose sequences, plus the shipped assets through MediaPipe."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from animakit import load_pipeline
from animakit.errors import InputError, MediaError, NoPersonError
from animakit.portrait.pose.skeleton import MIRROR, pck, render_pose_image
from animakit.portrait.pose.filters import facing, fill_lost_frames, fix_flips, smooth_points
from animakit.portrait.pose.posefile import PoseSequence, load_pose_file
from animakit.portrait.pose.retarget import bone_lengths, extend, retarget
from benchmarks.groundtruth.pose_figure import (SKIN, Angles, draw_figure, driver_framing,
                                                figure_pose, framing, motion, motion_sequence,
                                                reference_figure)

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "pose"
SIZE = (240, 400)          # small frames keep the file fast


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline("portrait.pose")


@pytest.fixture(scope="module")
def figure(tmp_path_factory):
    d = tmp_path_factory.mktemp("figure")
    img, mask, pts, vis = reference_figure(SIZE)
    from animakit.media import save_image
    save_image(d / "ref.png", img)
    save_image(d / "mask.png", mask)
    (d / "kp.json").write_text(json.dumps({"points": pts[:, :2].tolist(), "visibility": vis.tolist()}))
    return {"dir": d, "img": img, "mask": mask, "pts": pts, "vis": vis}


def _driver(path: Path, kind: str, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    p, v = motion_sequence(kind, n, SIZE)
    PoseSequence(p, v, 24.0, SIZE).save(path)
    return p, v


def _inputs(fig, driving, **kw):
    d = fig["dir"]
    return dict(image=str(d / "ref.png"), keypoints=str(d / "kp.json"), mask=str(d / "mask.png"),
                driving=str(driving), size=max(SIZE), smoothing=0.0, **kw)


# ---- retargeting -----------------------------------------------------------------------
def test_retarget_same_proportions_reproduces_driver():
    p, v = motion_sequence("dance", 12, SIZE)
    out = retarget(p, np.ones(v.shape, bool), p[0], v[0], ground=False)
    assert np.abs(out[:, :, :2] - p[:, :, :2]).max() < 1.0
    # with the ground line, the lowest foot over the clip lands on the reference's floor
    grounded = retarget(p, np.ones(v.shape, bool), p[0], v[0])
    feet = [27, 28, 29, 30, 31, 32]
    assert abs(grounded[:, feet, 1].max() - p[0, feet, 1].max()) < 0.5


def test_relative_retarget_starts_at_the_reference_and_turns_like_the_driver():
    """``relative``: frame 0 is the reference's own pose (however unlike the driver's first
    frame), a still driver leaves it still, and every bone turns by the driver's turn."""
    p, v = motion_sequence("dance", 12, SIZE)
    ok = np.ones(v.shape, bool)
    _, _, rp, rv = reference_figure(SIZE, Angles(l_arm=12, l_fore=-75, r_arm=-12, r_fore=75))
    out = retarget(p, ok, rp, rv, mode="relative")
    assert np.abs(out[0, :, :2] - rp[:, :2]).max() < 1e-3
    still = retarget(np.repeat(p[:1], 4, 0), ok[:4], rp, rv, mode="relative")
    assert np.abs(still[:, :, :2] - rp[None, :, :2]).max() < 1e-3

    def angle(x, a, b):
        d = x[:, b, :2] - x[:, a, :2]
        return np.arctan2(d[:, 1], d[:, 0])
    for a, b in ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27)):
        turn_out = np.angle(np.exp(1j * (angle(out, a, b) - angle(out[:1], a, b))))
        turn_drv = np.angle(np.exp(1j * (angle(p, a, b) - angle(p[:1], a, b))))
        assert np.abs(turn_out - turn_drv).max() < 1e-3, (a, b)
    # a reference standing like the driver's first frame: the same as the skeleton mode
    same = retarget(p, ok, p[0], v[0], ground=False, mode="relative")
    assert np.abs(same - retarget(p, ok, p[0], v[0], ground=False))[:, :, :2].max() < 0.01


def test_retarget_keeps_reference_proportions_and_ground():
    hip, unit = framing(SIZE)
    ref, vis = figure_pose(Angles(), hip, unit)
    drv = np.array([figure_pose(a, (hip[0] + 30, hip[1] - 20), unit * 1.3)[0]
                    for a in motion("walk", 16)])
    out = retarget(drv, np.ones(drv.shape[:2], bool), ref, vis)
    r_len, o_len = bone_lengths(extend(ref[None]))[0], bone_lengths(extend(out))
    for j in (13, 15, 14, 16, 25, 27, 26, 28):          # in-plane limbs keep the reference length
        assert np.allclose(o_len[:, j], r_len[j], rtol=0.02), j
    torso = [0, 11, 12, 23, 24]
    assert np.allclose(out[0, torso, 0], ref[torso, 0], atol=1.5)   # frame 0 on the reference
    feet = [27, 28, 29, 30, 31, 32]
    low_o, low_d = out[:, feet, 1].max(axis=1), drv[:, feet, 1].max(axis=1)
    assert abs(low_o.max() - ref[feet, 1].max()) < 0.5          # stands on the reference's floor
    assert np.allclose(low_o.max() - low_o, (low_d.max() - low_d) / 1.3, atol=0.5)  # bobs scaled
    # the driver's travel is scaled by 1/1.3 onto the reference
    travel_d = drv[:, 23:25, 0].mean(1) - drv[0, 23:25, 0].mean()
    travel_o = out[:, 23:25, 0].mean(1) - out[0, 23:25, 0].mean()
    assert np.allclose(travel_o, travel_d / 1.3, atol=1.0)


# ---- temporal filters -------------------------------------------------------------------
def test_hold_and_ease_fills_lost_frames():
    pts = np.zeros((10, 33, 3), np.float32)
    pts[:, :, 0] = np.arange(10)[:, None] * 10.0
    valid = np.array([0, 1, 1, 0, 0, 0, 1, 1, 1, 0], bool)
    out = fill_lost_frames(pts, valid)
    x = out[:, 0, 0]
    assert x[0] == 10 and x[9] == 80                     # held at both ends
    assert x[2] == 20 and x[6] == 60
    assert np.all(np.diff(x[2:7]) > 0)                   # eased, monotone inside the gap
    assert x[3] - x[2] < x[4] - x[3]                     # slow start (smoothstep)


def test_smoothing_removes_jitter_without_lag():
    p, _ = motion_sequence("wave", 48, SIZE)
    noisy = p + np.random.default_rng(0).normal(0, 2.0, p.shape).astype(np.float32)
    sm = smooth_points(noisy, 24.0, 0.6, scale=150.0)
    assert np.abs(sm - p).mean() < 0.6 * np.abs(noisy - p).mean()


def test_left_right_flips_are_undone():
    p, v = motion_sequence("walk", 8, SIZE)
    flipped = p.copy()
    flipped[3] = p[3][list(MIRROR)]
    assert facing(flipped)[3] != facing(p[0])
    fixed, _, n = fix_flips(flipped, v, int(facing(p[0])))
    assert n == 1 and np.allclose(fixed, p)


# ---- rendering --------------------------------------------------------------------------
def test_render_matches_ground_truth_figure(pipe, figure, tmp_path):
    p, _ = _driver(tmp_path / "dance.npz", "dance")
    out = pipe(**_inputs(figure, tmp_path / "dance.npz", retarget="off"))
    assert len(out.frames) == len(p) and out.fps == 24.0
    assert out.frames[0].shape == figure["img"].shape
    assert np.abs(out.frames[0].astype(int) - figure["img"]).mean() < 2.0   # rest pose = reference
    hip, unit = framing(SIZE)
    ious = []
    for t in range(0, len(p), 3):
        gt, gt_mask = draw_figure(p[t], SIZE, unit)
        body = np.abs(out.frames[t].astype(int) - gt).sum(2) > 60
        # pixels that differ from the ground truth frame: few, relative to the body area
        ious.append(body.sum() / (gt_mask > 127).sum())
    assert max(ious) < 0.2, ious


def test_background_unchanged_outside_swept_region(pipe, figure, tmp_path):
    import cv2
    p, _ = _driver(tmp_path / "walk.npz", "walk")
    out = pipe(**_inputs(figure, tmp_path / "walk.npz", retarget="off"))
    hip, unit = framing(SIZE)
    swept = figure["mask"] > 0
    for t in range(len(p)):
        swept |= draw_figure(p[t], SIZE, unit)[1] > 0
    swept = cv2.dilate(swept.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    for f in out.frames[::4]:
        assert np.array_equal(f[~swept], figure["img"][~swept])


def test_forearm_crossing_the_torso_is_drawn_in_front(pipe, figure, tmp_path):
    n = 16
    p, _ = _driver(tmp_path / "dance.npz", "dance", n)
    out = pipe(**_inputs(figure, tmp_path / "dance.npz"))
    t = n // 2                                   # peak: right forearm across the chest, nearer
    mid = ((p[t, 14, :2] + p[t, 16, :2]) / 2).round().astype(int)
    colour = out.frames[t][mid[1] - 1:mid[1] + 2, mid[0] - 1:mid[0] + 2].reshape(-1, 3).mean(0)
    assert np.abs(colour - SKIN).max() < 30, colour


def test_legs_out_of_frame_warns_and_animates(pipe, figure, tmp_path):
    from animakit.media import save_image
    h = int(figure["pts"][25, 1]) - 20           # crop above the knees
    save_image(tmp_path / "top.png", figure["img"][:h])
    save_image(tmp_path / "top_mask.png", figure["mask"][:h])
    pts = figure["pts"].copy()
    vis = figure["vis"].copy()
    vis[25:] = 0.0
    (tmp_path / "kp.json").write_text(json.dumps({"points": pts[:, :2].tolist(), "visibility": vis.tolist()}))
    _driver(tmp_path / "wave.npz", "wave", 8)
    stream = pipe.stream(image=str(tmp_path / "top.png"), mask=str(tmp_path / "top_mask.png"),
                         keypoints=str(tmp_path / "kp.json"), driving=str(tmp_path / "wave.npz"),
                         size=0)
    assert any("legs are out of frame" in w for w in stream.warnings)
    frames = list(stream)
    assert len(frames) == 8 and frames[0].shape[0] == h - h % 2
    waved = [np.abs(f.astype(int) - frames[0]).mean() for f in frames[1:]]
    assert max(waved) > 1.0, waved                                     # the arm waved


def test_side_outputs_round_trip(pipe, figure, tmp_path):
    _driver(tmp_path / "walk.npz", "walk", 8)
    stream = pipe.stream(**_inputs(figure, tmp_path / "walk.npz"))
    frames = list(stream)
    stream.side_outputs["pose"](tmp_path / "out.npz")
    stream.side_outputs["preview"](tmp_path / "preview.mp4")
    seq = load_pose_file(tmp_path / "out.npz")
    assert seq.points.shape == (8, 33, 3) and seq.image_size == SIZE and seq.fps == 24.0
    assert (tmp_path / "preview.mp4").stat().st_size > 1000
    again = pipe(**_inputs(figure, tmp_path / "out.npz", retarget="off"))
    assert np.abs(again.frames[5].astype(int) - frames[5]).mean() < 1.0


# ---- rigid skinning ---------------------------------------------------------------------
def _bent_rig(bend: float):
    from dataclasses import replace

    from animakit.portrait.pose.rig import build_rig
    from benchmarks.groundtruth.pose_figure import Angles
    img, mask, pts, vis = reference_figure(SIZE)
    rig = build_rig(img, mask.astype(np.float32) / 255, pts, vis, True)
    hip, unit = framing(SIZE)
    a = Angles()
    bent, _ = figure_pose(replace(a, l_fore=a.l_fore + bend, r_fore=a.r_fore - bend,
                                  l_shin=a.l_shin - bend, r_shin=a.r_shin + bend), hip, unit)
    return img, rig, extend(bent[None].astype(np.float64))[0]


def test_rigid_skinning_keeps_bent_joints_their_width():
    """At elbows and knees bent by 140 degrees, linear blend skinning pulls the blended vertices
    towards the joint (candy-wrapper narrowing) and loses limb area; joint-angle blending keeps
    every blended vertex at its distance from the joint and more of the limbs' area (summed over
    the eight limbs: where a limb folds onto itself its own overlap also costs area)."""
    from animakit.portrait.pose.raster import draw_part
    from animakit.portrait.pose.rig_engine import RigRenderer
    from animakit.portrait.pose.skinning import frame_transforms
    img, rig, ext = _bent_rig(140)
    moved, rest = frame_transforms(rig.ref_ext, ext), frame_transforms(rig.ref_ext, rig.ref_ext)
    lbs, rigid = RigRenderer(rig, img, rigid=False), RigRenderer(rig, img, rigid=True)

    def coverage(part, r, tr):
        cov = np.zeros(SIZE[::-1], np.float32)
        draw_part(np.zeros(SIZE[::-1] + (3,), np.float32), part, r.deform(part, tr), cov)
        return float(cov.sum())

    limbs = [p for p in rig.parts if p.name not in ("torso", "head")]
    assert len(limbs) == 8
    areas = []
    for part in limbs:
        assert np.abs(rigid.deform(part, rest) - part.vertices).max() < 0.01    # rest = identity
        zone = np.stack(list(part.weights.values()), 1).max(1) < 0.8
        assert zone.sum() >= 3, part.name
        joint = moved[part.name](part.pivots[zone])
        before = np.linalg.norm(part.vertices[zone] - part.pivots[zone], axis=1)
        keep = {name: np.linalg.norm(r.deform(part, moved)[zone] - joint, axis=1) / before
                for name, r in (("lbs", lbs), ("rigid", rigid))}
        assert np.percentile(keep["rigid"], 5) > 0.97 and keep["rigid"].max() < 1.03, part.name
        assert np.percentile(keep["lbs"], 10) < 0.9, part.name
        single = ~zone & (np.stack(list(part.weights.values()), 1).max(1) > 0.9999)
        assert np.allclose(rigid.deform(part, moved)[single], lbs.deform(part, moved)[single])
        areas.append((coverage(part, rigid, rest), coverage(part, lbs, moved),
                      coverage(part, rigid, moved)))
    area0, a_lbs, a_rigid = np.sum(areas, axis=0)
    assert a_rigid / area0 > a_lbs / area0 + 0.02 and a_rigid / area0 > 0.9, areas


def test_driver_tracking_is_downscaled_and_bounded(tmp_path):
    """The shipped clip tracked at the default size: points come back in the video's pixels,
    on the procedural dancer's known torso; ``max_seconds`` stops the decoding early."""
    from animakit.portrait.pose.tracking import detect_pose_video
    seq = detect_pose_video(ASSETS / "dance_driver.mp4", max_seconds=0.25)
    assert len(seq) == 7 and seq.image_size == (360, 640) and seq.detected.all()
    hip, unit = driver_framing((360, 640))              # as pose_figure.write_assets draws it
    truth = np.array([figure_pose(a, hip, unit)[0] for a in motion("dance", 48)[:7]])
    torso = (11, 12, 23, 24)
    assert np.mean([pck(p, t, 0.1, joints=torso) for p, t in zip(seq.points, truth)]) >= 0.9


def test_tracking_bar_follows_the_render_progress_flag(pipe, tmp_path, capfd):
    """``-q`` (animakit.render's ``progress=False``) also hides the driver's pose-detection bar."""
    from animakit import render
    inputs = {"image": str(ASSETS / "figure.png"), "driving": str(ASSETS / "dance_driver.mp4")}
    for progress in (True, False):
        render(pipe, tmp_path / "out.mp4", inputs=inputs,
               params={"duration": 0.1, "size": 256}, progress=progress)
        assert ("pose detection" in capfd.readouterr().err) == progress


# ---- bad input --------------------------------------------------------------------------
def test_no_person_in_reference(pipe, tmp_path):
    from animakit.media import save_image
    save_image(tmp_path / "empty.png", np.full((200, 120, 3), 128, np.uint8))
    _driver(tmp_path / "walk.npz", "walk", 4)
    with pytest.raises(NoPersonError, match="empty.png"):
        pipe(image=str(tmp_path / "empty.png"), driving=str(tmp_path / "walk.npz"))


def test_driver_without_person(pipe, figure, tmp_path):
    PoseSequence(np.zeros((5, 33, 3), np.float32), np.zeros((5, 33), np.float32), 24.0,
                 SIZE).save(tmp_path / "none.npz")
    with pytest.raises(NoPersonError, match="none.npz"):
        pipe(**_inputs(figure, tmp_path / "none.npz"))


def test_bad_pose_files(pipe, figure, tmp_path):
    np.savez(tmp_path / "nofps.npz", points=np.zeros((3, 33, 3)), image_size=np.array(SIZE))
    with pytest.raises(MediaError, match="fps"):
        pipe(**_inputs(figure, tmp_path / "nofps.npz"))
    np.savez(tmp_path / "shape.npz", points=np.zeros((3, 17, 2)), fps=24.0)
    with pytest.raises(MediaError, match="33"):
        pipe(**_inputs(figure, tmp_path / "shape.npz"))
    (tmp_path / "kp.json").write_text("[[1, 2]]")
    _driver(tmp_path / "walk.npz", "walk", 4)
    with pytest.raises(InputError, match="kp.json"):
        pipe(**{**_inputs(figure, tmp_path / "walk.npz"), "keypoints": str(tmp_path / "kp.json")})


# ---- shipped assets through MediaPipe ---------------------------------------------------
def test_mediapipe_finds_the_shipped_figure():
    from animakit.portrait.landmarks import detect_pose
    from animakit.media import load_image
    img = load_image(ASSETS / "figure.png")
    known = json.loads((ASSETS / "figure_keypoints.json").read_text())
    pose = detect_pose(img)
    assert pose is not None
    assert pck(pose.points, np.array(known["points"]), 0.1,
               joints=(0, 11, 12, 13, 14, 15, 16, 23, 24, 27, 28)) >= 0.8


def test_shipped_clip_end_to_end_pck(pipe):
    """Detect the shipped driving clip, render, re-detect the output: PCK@0.1 vs target."""
    from animakit.portrait.landmarks import PoseDetector
    out = pipe(image=str(ASSETS / "figure.png"), driving=str(ASSETS / "dance_driver.mp4"),
               duration=0.5, size=512)
    targets = out.extras["targets"]
    scores = []
    with PoseDetector() as det:
        for f, tgt in zip(out.frames[::2], targets[::2]):
            pose = det(f)
            assert pose is not None
            scores.append(pck(pose.points, tgt, 0.1, joints=tuple(range(11, 29))))
    assert np.mean(scores) >= 0.8, scores


def test_pose_image_is_openpose_coloured():
    p, v = motion_sequence("walk", 1, SIZE)
    img = render_pose_image(p[0], v[0], SIZE)
    assert img.shape == (SIZE[1], SIZE[0], 3) and img.max() > 200
    assert (img.sum(2) > 0).mean() < 0.2               # a skeleton on black, not a fill


def test_arms_over_the_body_are_flagged(pipe, tmp_path):
    """A reference whose forearms are folded over the belly gets a warning naming it (the
    arm's pixels cannot be separated from the torso's); the A-pose figure gets none."""
    from animakit.media import save_image
    from animakit.portrait.pose.reference import arms_on_body
    folded = Angles(l_arm=12, l_fore=-75, r_arm=-12, r_fore=75)
    assert arms_on_body(*reference_figure(SIZE)[2:]) == []
    assert arms_on_body(*reference_figure(SIZE, Angles(l_arm=12, l_fore=-75))[2:]) == ["left"]
    img, mask, pts, vis = reference_figure(SIZE, folded)
    assert arms_on_body(pts, vis) == ["left", "right"]
    save_image(tmp_path / "ref.png", img)
    save_image(tmp_path / "mask.png", mask)
    (tmp_path / "kp.json").write_text(json.dumps({"points": pts[:, :2].tolist(),
                                                  "visibility": vis.tolist()}))
    _driver(tmp_path / "wave.npz", "wave", 4)
    stream = pipe.stream(image=str(tmp_path / "ref.png"), mask=str(tmp_path / "mask.png"),
                         keypoints=str(tmp_path / "kp.json"), driving=str(tmp_path / "wave.npz"))
    said = [w for w in stream.warnings if "over the body" in w]
    assert len(said) == 1 and said[0].startswith(str(tmp_path / "ref.png") + ": the two arms")
    assert len(list(stream)) == 4


def test_relative_retarget_through_the_pipeline(pipe, figure, tmp_path):
    """A driver that starts mid-wave (arm up): ``skeleton`` puts the figure's arm up at once,
    ``relative`` starts from the figure's own pose."""
    p, v = motion_sequence("wave", 16, SIZE)
    PoseSequence(p[4:10], v[4:10], 24.0, SIZE).save(tmp_path / "midwave.npz")
    first = {}
    for mode in ("skeleton", "relative"):
        out = pipe(**_inputs(figure, tmp_path / "midwave.npz", retarget=mode))
        assert len(out.frames) == 6
        first[mode] = np.abs(out.extras["targets"][0, :, :2] - figure["pts"][:, :2]).max()
    assert first["relative"] < 1.0 < 10.0 < first["skeleton"], first
