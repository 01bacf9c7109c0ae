"""Start training from an earlier run's ONNX export, so a CPU-only machine can build on
hours already spent instead of starting from scratch again.

ultralytics exports with batch norm folded into each convolution, so the exported
weight and bias go into the convolution and its batch norm becomes the identity
(mean 0, variance 1 - eps, scale 1, shift = the folded bias): the rebuilt network
computes what the export computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def checkpoint_from_onnx(onnx_path: Path, arch: str, classes: int, out: Path) -> Path:
    """Write an ultralytics-loadable `.pt` with the weights of `onnx_path`; returns `out`."""
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
        tensor = torch.from_numpy(np.ascontiguousarray(value)).float()
        bn = modules.get(owner.removesuffix(".conv") + ".bn") if owner.endswith(".conv") else None
        if kind == "weight":
            if tuple(module.weight.shape) != tuple(tensor.shape):
                raise ValueError(f"{onnx_path}: {name} has shape {tuple(tensor.shape)}, {arch} wants {tuple(module.weight.shape)}")
            module.weight.data.copy_(tensor)
        elif bn is not None:  # a folded batch norm: the bias moves into the norm's shift
            bn.weight.data.fill_(1.0)
            bn.bias.data.copy_(tensor)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        else:
            module.bias.data.copy_(tensor)
        loaded += 1
    if loaded < len(exported) - 1:  # the DFL's fixed convolution is the only one allowed to miss
        raise ValueError(f"{onnx_path}: only {loaded} of {len(exported)} tensors fit {arch}")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}}, out)
    return out
