"""Start training from an earlier run's ONNX export, so a CPU-only machine can build on
hours already spent instead of starting from scratch again.

A model with more classes than the export (new classes appended) keeps what the old class
head learnt for the old classes; the new classes start from ultralytics' own initialisation.

ultralytics exports with batch norm folded into each convolution, so the exported
weight and bias go into the convolution and its batch norm becomes the identity
(mean 0, variance 1 - eps, scale 1, shift = the folded bias): the rebuilt network
computes what the export computes.

Identity norms are exact in eval mode but not in training, where a norm divides by the
batch's own statistics: the first steps would scramble the network. So the norms are
calibrated on sample images: each takes its channel's measured mean and variance as
running statistics and undoes them with its scale and shift, which keeps eval-mode
output unchanged and makes train-mode output nearly so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def checkpoint_from_onnx(
    onnx_path: Path, arch: str, classes: int, out: Path, samples: list[Path] | None = None, imgsz: int = 320
) -> Path:
    """Write an ultralytics-loadable `.pt` with the weights of `onnx_path`; returns `out`.
    `samples` (image files) calibrate the batch norms for training."""
    import onnx
    import torch
    from onnx import numpy_helper
    from ultralytics.nn.tasks import DetectionModel

    exported = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_path)).graph.initializer}
    model = DetectionModel(arch, nc=classes, verbose=False)
    modules = dict(model.named_modules())
    loaded = 0
    for name, value in exported.items():
        owner, _, kind = name.rpartition(".")
        module = modules.get(owner)
        if module is None or kind not in ("weight", "bias"):
            continue
        tensor = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
        bn = modules.get(owner.removesuffix(".conv") + ".bn") if owner.endswith(".conv") else None
        if kind == "weight":
            _copy_rows(module.weight.data, tensor, f"{onnx_path}: {name}", arch, classes)
        elif bn is not None:  # a folded batch norm: the bias moves into the norm's shift
            bn.weight.data.fill_(1.0)
            _copy_rows(bn.bias.data, tensor, f"{onnx_path}: {name}", arch, classes)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        else:
            _copy_rows(module.bias.data, tensor, f"{onnx_path}: {name}", arch, classes)
        loaded += 1
    if loaded < len(exported) - 1:  # the DFL's fixed convolution is the only one allowed to miss
        raise ValueError(f"{onnx_path}: only {loaded} of {len(exported)} tensors fit {arch}")
    if samples:
        calibrate_norms(model, samples, imgsz)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}}, out)
    return out


def _copy_rows(target, source, what: str, arch: str, classes: int) -> None:  # noqa: ANN001 - torch tensors
    """Copy `source` into `target`. A model with more classes than the export (classes are only
    ever appended, vision/classes.py) keeps the old classes' rows of the class head and leaves
    the new rows as ultralytics initialised them; any other mismatch is an error."""
    if tuple(target.shape) == tuple(source.shape):
        target.copy_(source)
        return
    head = target.shape[0] == classes and source.shape[0] < classes  # the class head's outputs
    if head and tuple(target.shape[1:]) == tuple(source.shape[1:]):
        target[: source.shape[0]].copy_(source)
        return
    raise ValueError(f"{what} has shape {tuple(source.shape)}, {arch} wants {tuple(target.shape)}")


def calibrate_norms(model, samples: list[Path], imgsz: int) -> None:  # noqa: ANN001 - a torch module
    """Give every identity batch norm of `model` its input's statistics on `samples`,
    with scale and shift chosen so that it still computes the identity plus its shift."""
    import cv2
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    sums: dict[int, list] = {}

    def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        x = inputs[0].double()
        acc = sums.setdefault(id(module), [0.0, 0.0, 0])  # per channel: sum, sum of squares; count
        acc[0] = acc[0] + x.sum(dim=(0, 2, 3))
        acc[1] = acc[1] + (x * x).sum(dim=(0, 2, 3))
        acc[2] += x.shape[0] * x.shape[2] * x.shape[3]

    hooks = [m.register_forward_hook(record) for m in norms]
    model.eval()
    with torch.no_grad():
        for path in samples:
            image = cv2.imread(str(path))
            if image is None:
                continue
            chw = cv2.resize(image, (imgsz, imgsz))[:, :, ::-1].transpose(2, 0, 1) / 255.0
            model(torch.from_numpy(chw.copy()).float()[None])
    for hook in hooks:
        hook.remove()
    for norm in norms:
        total, squares, count = sums[id(norm)]
        mean = total / count
        var = (squares / count - mean * mean).clamp(min=0)
        std = (var + norm.eps).sqrt()
        # eval: (x - mean) / std * std + shift + mean = x + shift, as before
        # Default BatchNorm2d tracks running statistics: both buffers exist.
        assert norm.running_mean is not None and norm.running_var is not None
        norm.running_mean.copy_(mean.float())
        norm.running_var.copy_(var.float())
        norm.weight.data.copy_(std.float())
        norm.bias.data.add_(mean.float())
