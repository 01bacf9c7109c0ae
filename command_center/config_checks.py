"""How configuration problems are reported (file: key path: reason), and the checks of a
parsed configuration against the world: files exist, every rule, source kind,
detector backend, model and PTZ kind it names is known, and each ONNX model loads. Run by
`parse_config` after the models' own validation, so every problem is reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from vision.config import DetectorConfig

if TYPE_CHECKING:
    from command_center.config import Config


def key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def validation_errors(source: str, exc: ValidationError) -> list[str]:
    errors = []
    for err in exc.errors():
        loc = key_path(err["loc"])
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        errors.append(f"{source}: {loc}: {reason}")
    return errors


def check_references(config: Config, source: str) -> list[str]:
    """What the models alone cannot say: files exist, named rules, kinds, backends and
    models are known, a detector loads."""
    # Imported here: the registries pull in backends that plain validation does not need.
    from dispatch.catalog import load_catalog
    from streams.registry import kinds
    from vision.rules import build_rules, known_rules

    errors: list[str] = []
    try:
        load_catalog(config.catalog)
    except FileNotFoundError:
        errors.append(f"{source}: catalog: file not found: {config.catalog}")
    except ValidationError as exc:
        errors.extend(validation_errors(str(config.catalog), exc))
    except (ValueError, yaml.YAMLError) as exc:
        errors.append(f"{config.catalog}: {exc}")
    errors.extend(_check_plans(config.plans, source))
    if config.city.geojson is not None and not config.city.geojson.exists():
        errors.append(f"{source}: city.geojson: file not found: {config.city.geojson}")
    errors.extend(_check_detector(config.detector, "detector", source))
    for name, detector in config.detectors.items():
        errors.extend(_check_detector(detector, f"detectors.{name}", source))
    errors.extend(_check_models(config, source))
    rules = set(known_rules())
    for i, cam in enumerate(config.cameras):
        scheme = cam.url.split("://", 1)[0] if "://" in cam.url else ""
        if cam.kind not in kinds() and scheme not in kinds():
            errors.append(f"{source}: cameras[{i}].kind: unknown source kind {cam.kind!r}; known: {', '.join(kinds())}")
        for j, zone in enumerate(cam.zones):
            for k, rule in enumerate(zone.rules):
                if rule not in rules:
                    errors.append(f"{source}: cameras[{i}].zones[{j}].rules[{k}]: unknown rule {rule!r}")
                else:
                    try:
                        build_rules([zone.model_copy(update={"rules": [rule]})], config.rules)
                    except ValueError as exc:
                        errors.append(f"{source}: cameras[{i}].zones[{j}].rules[{k}]: {exc}")
    return errors


def _check_detector(detector: DetectorConfig, key: str, source: str) -> list[str]:
    from vision.detectors import backends, create_detector

    if detector.backend not in backends():
        return [f"{source}: {key}.backend: unknown backend {detector.backend!r}; known: {', '.join(backends())}"]
    if detector.model is not None and not detector.model.exists():
        return [f"{source}: {key}.model: file not found: {detector.model}"]
    if detector.backend == "onnx":
        try:
            create_detector(detector)
        except ValueError as exc:
            return [f"{source}: {key}.model: {exc}"]
    return []


def _check_models(config: Config, source: str) -> list[str]:
    """Every model a camera or group names is configured; every PTZ kind is known."""
    from streams.ptz import ptz_kinds

    known = ["default", *config.detectors]
    errors = [
        f"{source}: camera_groups.{group}.models[{j}]: unknown model {name!r}; known: {', '.join(known)}"
        for group, entry in config.camera_groups.items()
        for j, name in enumerate(entry.models)
        if name not in known
    ]
    for i, cam in enumerate(config.cameras):
        if cam.group is not None and cam.group not in config.camera_groups:
            errors.append(
                f"{source}: cameras[{i}].group: camera {cam.id!r} names unknown group {cam.group!r};"
                f" known: {', '.join(config.camera_groups) or 'none'}"
            )
        for j, name in enumerate(cam.models or []):
            if name not in known:
                errors.append(f"{source}: cameras[{i}].models[{j}]: camera {cam.id!r} names unknown model {name!r}; known: {', '.join(known)}")
        if cam.ptz is not None and cam.ptz.kind not in ptz_kinds():
            errors.append(f"{source}: cameras[{i}].ptz.kind: unknown PTZ kind {cam.ptz.kind!r}; known: {', '.join(ptz_kinds())}")
    return errors


def _check_plans(path: Path, source: str) -> list[str]:
    from command_center.emergency.plans import load_plans

    try:
        load_plans(path)
    except FileNotFoundError:
        return [f"{source}: plans: file not found: {path}"]
    except ValidationError as exc:
        return validation_errors(str(path), exc)
    except (ValueError, yaml.YAMLError) as exc:
        return [f"{path}: {exc}"]
    return []
