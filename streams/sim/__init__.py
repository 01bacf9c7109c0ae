"""Rendered camera and drone feeds with exact ground truth, for demos, tests and training data.

A street or plaza camera (`SceneRenderer`) stages scheduled incidents (fire and smoke, a fallen
person, a crowd, a car in the no-parking box, dumped rubbish, a street stall) among ordinary
traffic; a drone (`DroneFlight` + `AerialRenderer`) flies a lon/lat route over a grid city.
`open_sim("sim://street?seed=3", fps)` wraps either behind the `Source` protocol.
"""

from streams.sim.drone import AerialRenderer, DroneFlight
from streams.sim.scene import CLASSES, SCENE_KINDS, SceneRenderer
from streams.sim.source import SimCameraSource, SimDroneSource, open_sim

__all__ = [
    "CLASSES",
    "SCENE_KINDS",
    "AerialRenderer",
    "DroneFlight",
    "SceneRenderer",
    "SimCameraSource",
    "SimDroneSource",
    "open_sim",
]
