"""An ONNX export turned back into a training checkpoint computes what the export does,
and its batch norms carry real statistics (so training does not start from a scrambled
network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT

MODEL = ROOT / "models" / "grid-yolo.onnx"


@pytest.mark.skipif(not MODEL.exists(), reason="models/grid-yolo.onnx is not in this checkout")
def test_the_rebuilt_checkpoint_matches_the_export_and_its_norms_are_calibrated(tmp_path: Path) -> None:
    import cv2
    import onnxruntime as ort
    import torch

    from scenes import SceneRenderer
    from vision.train.warmstart import checkpoint_from_onnx

    samples = []
    for t in (5.0, 20.0, 40.0, 70.0):
        path = tmp_path / f"{t}.jpg"
        cv2.imwrite(str(path), SceneRenderer(11, width=640, height=360, kind="street").render(t)[0])
        samples.append(path)
    from vision.classes import CLASSES

    ckpt = checkpoint_from_onnx(MODEL, "yolov8n.yaml", len(CLASSES), tmp_path / "init.pt", samples, 320)
    model = torch.load(ckpt, weights_only=False)["model"].float().eval()

    image = cv2.resize(cv2.imread(str(samples[1])), (320, 320))[:, :, ::-1].transpose(2, 0, 1) / 255.0
    x = np.ascontiguousarray(image, dtype=np.float32)[None]
    with torch.no_grad():
        ours = model(torch.from_numpy(x))[0].numpy()
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    exported = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.abs(ours - exported).max() < 1e-2  # boxes in pixels; scores agree to ~1e-4
    assert np.abs(ours[:, 4:] - exported[:, 4:]).max() < 1e-3

    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    identity = [m for m in norms if torch.allclose(m.running_var, torch.full_like(m.running_var, 1 - m.eps))]
    assert norms and not identity  # every norm learnt its input's statistics
    assert all(torch.allclose(m.weight, (m.running_var + m.eps).sqrt()) for m in norms)


@pytest.mark.skipif(not MODEL.exists(), reason="models/grid-yolo.onnx is not in this checkout")
def test_a_model_with_more_classes_keeps_the_old_classes_outputs(tmp_path: Path) -> None:
    """Classes are appended (vision/classes.py): a model with nine classes more, warm-started
    from the export (as the 16-class one was from the 7-class v3), gives the same boxes and the
    same scores for the export's classes."""
    import cv2
    import onnxruntime as ort
    import torch

    from scenes import SceneRenderer
    from vision.train.warmstart import checkpoint_from_onnx

    frame = cv2.resize(SceneRenderer(11, width=640, height=360, kind="street").render(20.0)[0], (320, 320))
    x = np.ascontiguousarray(frame[:, :, ::-1].transpose(2, 0, 1) / 255.0, dtype=np.float32)[None]
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    exported = session.run(None, {session.get_inputs()[0].name: x})[0]
    old = exported.shape[1] - 4
    ckpt = checkpoint_from_onnx(MODEL, "yolov8n.yaml", old + 9, tmp_path / "init.pt")
    model = torch.load(ckpt, weights_only=False)["model"].float().eval()
    with torch.no_grad():
        ours = model(torch.from_numpy(x))[0].numpy()
    assert ours.shape[1] == exported.shape[1] + 9
    assert np.abs(ours[:, : 4 + old] - exported).max() < 1e-2
    with pytest.raises(ValueError, match="has shape"):
        checkpoint_from_onnx(MODEL, "yolov8s.yaml", old, tmp_path / "wrong.pt")
