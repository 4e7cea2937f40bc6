"""``video.kenburns``: a pan-and-zoom over a still image, with an optional soundtrack.

The built-in pipeline: a real render that exercises the whole host (params, engines,
streaming, audio mux) and a reference for plugin authors.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from animakit.media import AudioClip, load_audio, load_image
from animakit.params import param
from animakit.pipeline import Engine, FrameStream, InputSpec, Pipeline

ANCHORS = ("center", "top", "bottom", "left", "right", "top-left", "top-right",
           "bottom-left", "bottom-right")
_ANCHOR_XY = {"center": (0.5, 0.5), "top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5),
              "right": (1.0, 0.5), "top-left": (0.0, 0.0), "top-right": (1.0, 0.0),
              "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}


MAX_SECONDS = 3600.0     # longest clip, and longest soundtrack read whole


@dataclass
class KenBurnsParams:
    duration: float | None = param(None, "seconds of video (default: the soundtrack's length, else 5)",
                                   min=0.1, max=MAX_SECONDS)
    fps: float = param(25.0, "output frame rate", min=1, max=120, advanced=True)
    zoom_start: float = param(1.0, "zoom at the first frame (1 = whole image)", min=1.0, max=8.0)
    zoom_end: float = param(1.3, "zoom at the last frame", min=1.0, max=8.0)
    start: str = param("center", "where the view starts", choices=ANCHORS, advanced=True)
    end: str = param("center", "where the view ends", choices=ANCHORS, advanced=True)
    width: int = param(0, "output width in pixels (0 = the image's, capped at 1920)", min=0, max=3840, advanced=True)
    height: int = param(0, "output height in pixels (0 = keep the image's aspect)", min=0, max=3840, advanced=True)
    ease: bool = param(True, "ease in and out instead of moving at constant speed", advanced=True)


def soundtrack(source, duration: float | None) -> AudioClip:
    """The soundtrack's samples: only its first ``duration`` seconds when a duration is set
    (a 2-hour file behind a 10-second clip costs 10 seconds of decoding), else the whole
    file, refused from its header when it is longer than the longest clip rendered."""
    return load_audio(source, name="audio", duration=duration, max_seconds=MAX_SECONDS)


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def _out_size(img_w: int, img_h: int, p: KenBurnsParams) -> tuple[int, int]:
    w = p.width or min(img_w, 1920)
    h = p.height or round(w * img_h / img_w)
    return max(2, w - w % 2), max(2, h - h % 2)


def view_rect(t: float, img_w: int, img_h: int, out_w: int, out_h: int,
              p: KenBurnsParams) -> tuple[float, float, float, float]:
    """The source rectangle (cx, cy, w, h) shown at progress ``t`` in [0, 1]."""
    s = _ease(t) if p.ease else t
    zoom = p.zoom_start * (p.zoom_end / p.zoom_start) ** s      # geometric: constant perceived speed
    aspect = out_w / out_h
    base_w = min(img_w, img_h * aspect)                         # largest rect of the output aspect
    w, h = base_w / zoom, base_w / zoom / aspect
    (ax0, ay0), (ax1, ay1) = _ANCHOR_XY[p.start], _ANCHOR_XY[p.end]
    ax, ay = ax0 + (ax1 - ax0) * s, ay0 + (ay1 - ay0) * s
    cx = w / 2 + ax * (img_w - w)
    cy = h / 2 + ay * (img_h - h)
    return cx, cy, w, h


class KenBurnsEngine(Engine):
    name = "affine"
    help = "sub-pixel affine resampling of the source (area filter when zoomed out)"

    def stream(self, inputs, params: KenBurnsParams, generator=None) -> FrameStream:
        image = load_image(inputs["image"], name="image", max_side=8192)
        audio = soundtrack(inputs["audio"], params.duration) if "audio" in inputs else None
        duration = params.duration or (audio.duration if audio is not None else 5.0)
        n = max(1, int(round(duration * params.fps)))
        img_h, img_w = image.shape[:2]
        out_w, out_h = _out_size(img_w, img_h, params)

        def frames():
            for i in range(n):
                cx, cy, w, h = view_rect(i / max(1, n - 1), img_w, img_h, out_w, out_h, params)
                sx, sy = out_w / w, out_h / h
                m = np.array([[sx, 0, out_w / 2 - sx * cx], [0, sy, out_h / 2 - sy * cy]])
                interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_CUBIC
                if sx < 0.5:   # heavy downscale: prefilter so the moving view does not shimmer
                    k = int(1 / sx) | 1
                    src = cv2.GaussianBlur(image, (k, k), 0)
                    interp = cv2.INTER_LINEAR
                else:
                    src = image
                yield cv2.warpAffine(src, m, (out_w, out_h), flags=interp,
                                     borderMode=cv2.BORDER_REFLECT)

        return FrameStream(frames(), fps=params.fps, size=(out_w, out_h), num_frames=n,
                           audio=audio.slice(0, duration) if audio is not None else None)


class KenBurnsPipeline(Pipeline):
    name = "video.kenburns"
    title = "Pan & zoom"
    help = "Pan and zoom over a still image, with an optional soundtrack."
    inputs = (InputSpec("image", "image", "the photo to animate"),
              InputSpec("audio", "audio", "soundtrack; sets the duration unless given",
                        required=False))
    Params = KenBurnsParams
    engines = {"affine": KenBurnsEngine}
    default_engine = "affine"
    examples = (
        {"label": "portrait zoom with speech", "inputs": {"image": "portrait.png", "audio": "speech.wav"},
         "params": {"zoom_end": 1.6, "end": "top", "width": 512}},
        {"label": "slow pan, no sound", "inputs": {"image": "portrait.png"},
         "params": {"duration": 3.0, "zoom_start": 1.4, "zoom_end": 1.4, "start": "left",
                    "end": "right", "width": 640, "height": 360}},
    )
