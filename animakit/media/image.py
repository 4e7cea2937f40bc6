"""Image loading: EXIF orientation applied, RGBA / gray / 16-bit gray / palette converted to
RGB, pixel count checked from the header before decoding, long side capped."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import ImageTooLargeError, MediaError
from .ffmpeg import check_readable

MAX_PIXELS = 100_000_000     # refuse to decode above this (a 20000x20000 header is 400 MP)
DEFAULT_MAX_SIDE = 4096      # downscale above this long side


WIDE_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")   # 16/32-bit integer grayscale


def _eight_bit_gray(img):
    """An 8-bit "L" image from 16/32-bit grayscale, scaled (65535 -> 255), not clipped:
    Pillow's own convert clips every value above 255 to white. Mode "I" holds 16-bit PNGs in
    older Pillows and genuinely 8-bit data elsewhere, so it is scaled only when a value
    passes 255."""
    from PIL import Image
    a = np.asarray(img)
    if img.mode != "I" or a.max(initial=0) > 255:
        a = a.astype(np.float32) / 257.0          # 65535 / 257 = 255 exactly
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def _to_rgb(img, background=(255, 255, 255)):
    from PIL import Image
    if img.mode in WIDE_GRAY_MODES:
        img = _eight_bit_gray(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return img.convert("RGB")


def _from_array(arr: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise MediaError(name, f"expected an (H, W, 3) image array, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (a[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def load_image(source, name: str = "image", max_side: int | None = DEFAULT_MAX_SIDE,
               alpha: bool = False) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array (or (H, W, 4) with ``alpha=True``) from a path, a PIL
    image or an array. Raises :class:`MediaError` / :class:`ImageTooLargeError` naming it."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(source, np.ndarray):
        arr = _from_array(source, name) if not alpha else np.asarray(source)
        return _cap(arr, max_side)
    if isinstance(source, Image.Image):
        img, label = source, name
    else:
        path = check_readable(source, name)
        label = path
        # the error names the file; the text says what it was for ("image", "mask"), never
        # the file again when a caller passed the path as the name
        role = "image" if name in (str(source), str(path), Path(str(path)).name) else name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                # our own header check below is stricter than Pillow's bomb guard and
                # reports the size; Pillow's would fire first with a vaguer message
                limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    img = Image.open(path)
                finally:
                    Image.MAX_IMAGE_PIXELS = limit
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageTooLargeError(path, f"image is {w}x{h} ({w * h / 1e6:.0f} MP); "
                                             f"the limit is {MAX_PIXELS / 1e6:.0f} MP")
                img.load()
        except ImageTooLargeError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError):
            raise MediaError(path, f"{role} is not a readable image") from None
        except (OSError, ValueError, SyntaxError) as e:
            raise MediaError(path, f"{role} is corrupt or truncated ({e})") from None
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # malformed EXIF: keep the pixels as stored
        pass
    if alpha:
        arr = np.asarray((_eight_bit_gray(img) if img.mode in WIDE_GRAY_MODES else img)
                         .convert("RGBA"))
    else:
        arr = np.asarray(_to_rgb(img))
    if arr.size == 0:
        raise MediaError(label, f"{name} has no pixels")
    return _cap(np.ascontiguousarray(arr), max_side)


def _cap(arr: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = arr.shape[:2]
    if max_side and max(h, w) > max_side:
        import cv2
        s = max_side / max(h, w)
        arr = cv2.resize(arr, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    return arr


def save_image(path: str | Path, image: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(np.asarray(image)).save(path)
