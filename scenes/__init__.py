"""Rendered street, plaza and drone views with exact ground truth, for demos, tests and
training data.

A street or plaza camera (`SceneRenderer`) stages scheduled incidents (fire and smoke, a fallen
person, a crowd, a car in the no-parking box, dumped rubbish, a street stall) among ordinary
traffic; a drone (`DroneFlight` + `AerialRenderer`) flies a lon/lat route over a grid city.
Labels name objects by plain strings (`LABELS`). This package imports nothing of the
project's other packages: `streams.sim` serves it as `sim://` cameras, vision trains and
evaluates on it.
"""

from scenes.drone import AerialRenderer, DroneFix, DroneFlight
from scenes.scene import LABELS, SCENE_KINDS, SceneRenderer

__all__ = [
    "LABELS",
    "SCENE_KINDS",
    "AerialRenderer",
    "DroneFix",
    "DroneFlight",
    "SceneRenderer",
]
