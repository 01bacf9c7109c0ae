"""Class names: COCO's 80 (for YOLOX and other COCO exports that carry no names) and
the mapping of detector labels to the product's labels. The project's own model names its
classes in its metadata; the list it is trained on is vision/classes.py."""

from __future__ import annotations

import numpy as np

COCO = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

# Rules speak of vehicles; COCO models see cars, buses and trucks.
DEFAULT_LABEL_MAP = {"car": "vehicle", "bus": "vehicle", "truck": "vehicle", "motorcycle": "vehicle"}


def class_thresholds(
    names: list[str], label_map: dict[str, str] | None, thresholds: dict[str, float] | None
) -> tuple[list[str], tuple[str, ...], np.ndarray]:
    """Per class index: the product label, the distinct labels, and the score threshold
    (by product label, else by the model's own name, else `default`)."""
    mapping = DEFAULT_LABEL_MAP if label_map is None else label_map
    class_labels = [mapping.get(name, name) for name in names]
    thresholds = thresholds or {}
    default = thresholds.get("default", 0.35)
    per_class = [thresholds.get(lbl, thresholds.get(raw, default)) for raw, lbl in zip(names, class_labels, strict=True)]
    return class_labels, tuple(dict.fromkeys(class_labels)), np.array(per_class, dtype=np.float32)
