"""Test-pattern stamps for measuring latency end to end: the client draws a frame counter
as a row of black and white cells into the camera frame; the transport copies it into the
output frame, where the client reads it back when the frame is presented. ``client.js``
draws and reads the same layout."""
from __future__ import annotations

import numpy as np

CELL = 16          # cell side in pixels
BITS = 16          # counter bits after the two sync cells (white, black)


def read_stamp(frame: np.ndarray) -> int | None:
    """The counter stamped at the bottom-left of ``frame`` (H, W, 3) uint8, or None when
    the sync cells are not there."""
    h, w = frame.shape[:2]
    if h < CELL or w < CELL * (BITS + 2):
        return None
    y0 = h - CELL
    c = CELL // 4
    # luminance of each cell's centre (the edges bleed under lossy coding)
    row = frame[y0 + c:y0 + CELL - c, : CELL * (BITS + 2)].reshape(CELL - 2 * c, BITS + 2, CELL, 3)
    lum = row[:, :, c:CELL - c].mean(axis=(0, 2, 3))          # (BITS + 2,)
    if lum[0] < 160 or lum[1] > 96:
        return None
    value = 0
    for bit in lum[2:] > 128:
        value = (value << 1) | int(bit)
    return value


def write_stamp(frame: np.ndarray, value: int) -> None:
    """Draw ``value`` (0 .. 2**16 - 1) into ``frame`` (H, W, 3) uint8 in place."""
    h, w = frame.shape[:2]
    if h < CELL or w < CELL * (BITS + 2):
        return
    y0 = h - CELL
    bits = [1, 0] + [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    for i, b in enumerate(bits):
        frame[y0:, i * CELL:(i + 1) * CELL] = 255 if b else 0
