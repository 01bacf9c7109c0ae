"""Bad input to vision: a clear error, and the other cameras keep running."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from streams.base import Frame
from streams.runner import SourceRunner
from streams.sim import open_sim
from tests.test_detect import YOLOX, needs_yolox
from vision.detectors.motion import MotionDetector
from vision.detectors.onnx import OnnxDetector
from vision.pipeline import CameraPipeline, VisionWorker


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ValueError, match=r"cannot load model .*model\.onnx"):
        OnnxDetector(bad)


def test_wrong_input_shape_is_a_clear_error(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "grey",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 32, 32])],
    )
    path = tmp_path / "grey.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ValueError, match=r"expected an image input N×3×H×W, got \[1, 1, 32, 32\]"):
        OnnxDetector(path)


@needs_yolox
@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((40, 40), np.uint8), None])
def test_empty_or_malformed_frames_are_rejected(image: np.ndarray | None) -> None:
    with pytest.raises(ValueError, match="expected a BGR image"):
        OnnxDetector(YOLOX).detect(image)  # type: ignore[arg-type]


class EmptyFrames:
    """A feed that delivers frames with no pixels, like a decoder gone wrong."""

    def __init__(self) -> None:
        self.n = 0

    def open(self) -> None: ...

    def read(self) -> Frame:
        time.sleep(0.05)
        self.n += 1
        return Frame(np.zeros((0, 0, 3), np.uint8), time.monotonic(), self.n, time.time())

    def close(self) -> None: ...


def test_a_broken_camera_does_not_stop_the_others() -> None:
    good = SourceRunner("good", lambda: open_sim("sim://street?seed=2", 20))
    bad = SourceRunner("bad", EmptyFrames)
    detector = MotionDetector()
    pipelines = {name: CameraPipeline(name, detector, [], (0.0, 0.0)) for name in ("good", "bad")}
    worker = VisionWorker({n: (r, pipelines[n], 20.0) for n, r in (("good", good), ("bad", bad))}, lambda _i: None)
    for runner in (good, bad):
        runner.start()
    worker.start()
    try:
        time.sleep(2.0)
    finally:
        worker.stop()
        good.stop()
        bad.stop()
    assert pipelines["bad"].errors > 5 and "empty or malformed frame" in (pipelines["bad"].last_error or "")
    assert pipelines["good"].frames > 10 and pipelines["good"].errors == 0
