"""The classes of the project's own detector (models/grid-yolo.onnx), in output order.

Class id i of a trained model is CLASSES[i]: reordering them would make every model
trained before misname what it finds, so a new class goes at the end. The names are those
the scene renderer (`scenes`) gives its labels; training data and evaluation map a
rendered label to its id here.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "person",
    "vehicle",
    "bicycle",
    "fire",
    "smoke",
    "garbage",
    "stall",
    # Governance problems (added together; a model trained before knows the first seven only).
    "overflowing_bin",
    "construction_waste",
    "piled_goods",
    "banner",
    "laundry",
    "waterlogging",
    "fallen_tree",
    "pothole",
    "open_manhole",
)


def class_id(name: str) -> int:
    """The model's class id of a label name; ValueError names the label the model lacks."""
    try:
        return CLASSES.index(name)
    except ValueError:
        raise ValueError(f"label {name!r} is not one of the detector's classes {CLASSES}") from None
