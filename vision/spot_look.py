"""Does the problem's spot still look as it did when the problem was seen?

A verification check decides "cleared" from the detector's silence. A detector that stops
seeing an object still there (light, a score just under the bar, a look it was never good
at) would then close a case while the bin still overflows. The camera holds a second,
independent witness: the pixels. A spot whose look has not changed since the problem was
raised is not evidence of absence, whatever the detector says; a spot that changed (the
stall packed away, the pavement visible again) says nothing either way, and the detector
decides as before. So the comparison can only hold back a "cleared", never make one.

The look is the box's grey levels on a small grid, compared by normalised correlation: a
global change of light (dusk, a cloud, the camera's exposure) moves the mean and contrast,
which the correlation ignores; a removed object changes the pattern. Flat spots (an even
wall, a smooth road) carry no pattern: two flat looks are the same when their means are
close; a flat look and a textured one are not.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from vision.detectors.base import Box
from vision.evidence import undrawn

LOOK_SIDE = 24  # the box resampled to this many cells a side
SAME_LOOK = 0.8  # normalised correlation at or above which two looks are the same spot, unchanged
FLAT_STD = 4.0  # grey-level standard deviation under which a look has no pattern to correlate
FLAT_MEAN = 12.0  # two flat looks are the same when their means are this close
MIN_SIDE_PX = 12  # boxes smaller than this are not compared (too few pixels to tell)


def look(image: np.ndarray, box: Box) -> np.ndarray | None:
    """The box's look: its grey levels on a LOOK_SIDE grid (float32). None when too little of
    it is in the image."""
    h, w = image.shape[:2]
    x1, y1 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    x2, y2 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    if x2 - x1 < MIN_SIDE_PX or y2 - y1 < MIN_SIDE_PX:
        return None
    crop = image[y1:y2, x1:x2]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.resize(grey, (LOOK_SIDE, LOOK_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1.0 for the same look, about 0 for unrelated ones (normalised correlation; flat looks
    compared by their means, see the module's doc)."""
    sa, sb = float(a.std()), float(b.std())
    if sa < FLAT_STD or sb < FLAT_STD:
        both_flat = sa < FLAT_STD and sb < FLAT_STD
        return 1.0 if both_flat and abs(float(a.mean()) - float(b.mean())) <= FLAT_MEAN else 0.0
    za, zb = (a - a.mean()) / sa, (b - b.mean()) / sb
    return float((za * zb).mean())


def raised_look(snapshot_jpeg: bytes, box: Box) -> tuple[np.ndarray, Box] | None:
    """The look of an incident's box in its evidence snapshot (vision/evidence.py: the frame
    with the box and label drawn on it), and the box it was taken over (the undrawn part, to
    compare later frames over). None when the JPEG does not decode or the box is too small."""
    image = cv2.imdecode(np.frombuffer(snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    inner = undrawn(box)
    found = look(image, inner)
    return None if found is None else (found, inner)


def unchanged(reference: np.ndarray | None, image: np.ndarray, box: Box | None) -> bool:
    """Does `box` in `image` look as the reference did? False when either is missing."""
    if reference is None or box is None:
        return False
    now = look(image, box)
    return now is not None and similarity(reference, now) >= SAME_LOOK


def look_to_json(found: tuple[np.ndarray, Box]) -> dict[str, object]:
    """A look and its box for a check request on the bus (JSON): grey levels as base64 bytes."""
    grey, box = found
    cells = np.clip(np.rint(grey), 0, 255).astype(np.uint8).tobytes()
    return {"box": [round(float(v), 1) for v in box], "grey": base64.b64encode(cells).decode()}


def look_from_json(doc: object) -> tuple[np.ndarray, Box] | None:
    """The inverse of look_to_json; None for anything else (an old request, a damaged one)."""
    if not isinstance(doc, dict):
        return None
    try:
        cells = base64.b64decode(str(doc["grey"]), validate=True)
        x1, y1, x2, y2 = (float(v) for v in doc["box"])
    except (KeyError, TypeError, ValueError):
        return None
    if len(cells) != LOOK_SIDE * LOOK_SIDE or not (x2 > x1 and y2 > y1):
        return None
    return np.frombuffer(cells, np.uint8).reshape(LOOK_SIDE, LOOK_SIDE).astype(np.float32), (x1, y1, x2, y2)
