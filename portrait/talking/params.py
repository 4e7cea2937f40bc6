"""Controls of ``portrait.talking``: one dataclass feeding the CLI, job files and the studio."""
from __future__ import annotations

from dataclasses import dataclass

from animakit.params import param

from .rig import Expression


@dataclass
class TalkingParams:
    # per-region motion multipliers (scale what the driver does)
    lips: float = param(1.0, "lip and jaw motion multiplier", min=0.0, max=3.0)
    eyes: float = param(1.0, "eye motion multiplier (blinks, gaze, lids)", min=0.0, max=3.0)
    brows: float = param(1.0, "brow motion multiplier", min=0.0, max=3.0, advanced=True)
    head: float = param(1.0, "head motion multiplier", min=0.0, max=3.0)
    # expression offsets, usable with any driver or none
    smile: float = param(0.0, "smile offset (negative turns the corners down)", min=-1.0, max=1.0, advanced=True)
    mouth_open: float = param(0.0, "mouth opening offset (negative closes an open source mouth)",
                              min=-1.0, max=1.0, advanced=True)
    eyes_open: float = param(0.0, "eye opening offset (negative lowers the lids)", min=-1.0, max=0.3, advanced=True)
    brow_raise: float = param(0.0, "brow raise offset (negative lowers)", min=-1.0, max=1.0, advanced=True)
    yaw: float = param(0.0, "head yaw offset in degrees (positive turns to the image's right)",
                       min=-25.0, max=25.0, advanced=True)
    pitch: float = param(0.0, "head pitch offset in degrees (positive nods down)", min=-20.0, max=20.0, advanced=True)
    roll: float = param(0.0, "head roll offset in degrees (positive tilts clockwise)",
                        min=-25.0, max=25.0, advanced=True)
    gaze_x: float = param(0.0, "gaze offset left (-1) .. right (1)", min=-1.0, max=1.0, advanced=True)
    gaze_y: float = param(0.0, "gaze offset up (-1) .. down (1)", min=-1.0, max=1.0, advanced=True)
    # timing and behaviour
    blink_rate: float = param(15.0, "blinks per minute with audio or no driver (0 = none)",
                              min=0.0, max=60.0, advanced=True)
    lip_closures: bool = param(True, "close the lips on /m/, /b/, /p/ found in the audio "
                                     "(nasal murmurs and stop closures)", advanced=True)
    phonemes: str = param("auto", "mouth shapes from English phones (pocketsphinx): auto = when "
                                  "the speech reads as English, en = always, off = loudness "
                                  "and spectrum only", choices=("auto", "en", "off"), advanced=True)
    text: str = param("", "what the audio says (English, up to 5 min of audio): phone timings "
                          "by forced alignment instead of recognition; empty = recognize",
                          advanced=True)
    smoothing: float = param(0.5, "temporal smoothing: 0 = raw driver .. 1 = smoothest",
                             min=0.0, max=1.0, advanced=True)
    face_index: int = param(0, "which face to animate in the source, 0 = the largest", min=0, max=15, advanced=True, label="which face")
    fps: float | None = param(None, "output frame rate (default: the driver's, else 25)",
                              min=1.0, max=120.0, advanced=True)
    duration: float | None = param(None, "seconds of video (default: the driver's length; "
                                         "5 s with no driver)", min=0.04, max=86400.0)
    crop_scale: float = param(1.9, "side of the animated square around the face, in face sizes",
                              min=1.3, max=4.0, advanced=True)
    feather: float = param(0.06, "width of the paste-back seam, as a share of that square",
                           min=0.0, max=0.3, advanced=True)


def offsets_of(p: TalkingParams) -> Expression:
    """The params' expression offsets as an :class:`Expression`."""
    return Expression(jaw=0.8 * p.mouth_open, smile=p.smile, brow=p.brow_raise,
                      blink_r=-p.eyes_open, blink_l=-p.eyes_open, gaze_x=p.gaze_x,
                      gaze_y=p.gaze_y, yaw=p.yaw, pitch=p.pitch, roll=p.roll)
