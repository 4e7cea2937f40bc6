"""What a person should know about an edit when uploading it (:meth:`input_notes`)."""
from __future__ import annotations

from typing import Any

from .inputs import load_edit_image, load_mask, open_source_video
from .regions import find_edit_region, shape_note

DEFAULT_THRESHOLD = 12.0      # the flow engine's default ``mask_threshold``


def edit_notes(inputs: dict[str, Any]) -> list[str]:
    """Plain-language notes on an upload: size mismatches of the edited frame or mask,
    and whether the edit changes an object's shape. Needs ``video`` and ``edited``;
    returns [] while either is missing. Raises InputError naming a file that cannot
    be read."""
    if inputs.get("video") is None or inputs.get("edited") is None:
        return []
    reader, _ = open_source_video(inputs["video"])
    first = next(iter(reader))
    notes: list[str] = []
    edited = load_edit_image(inputs["edited"], "edited", reader.size, notes)
    mask = load_mask(inputs["mask"], reader.size, notes) if inputs.get("mask") is not None \
        else None
    note = shape_note(find_edit_region(first, edited, mask, DEFAULT_THRESHOLD))
    return notes + ([note] if note else [])
