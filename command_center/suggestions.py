"""Suggested classes for a report (自动输出事件分类建议): its text through the report classifier
(dispatch/report_classifier.py), its photo through the project's detector, merged into one
ranked list of matters; and the classifier kept fitted and retrained on people's choices.

A photo: the configured detector when it is a model (onnx, ultralytics), else the project's
own models/grid-yolo.onnx; what it finds (its 16 classes: fire, garbage, a stall, a parked
vehicle, an open manhole, standing water...) maps to matters through the catalogue's labels,
scored by the best detection of each. A person alone names no matter, so labels that fall to
the default matter are left out. There is no scene classifier: a photo of something the
detector has no class for adds nothing, and the text decides.

Merging: with both, score = 0.6 × text probability + 0.4 × photo score; either alone is
taken as it is. The text has the larger share because it names 54 matters and the photo
fewer, but a clear detection (0.8) outweighs a hesitant text (under 0.5).

Training: on first use (a request, or `warm()` when the server starts), in a thread, never
on the request's own time beyond a bounded wait; again in a thread after every
RETRAIN_EVERY new choices and once a day (the `report-classifier` job), from the catalogue,
configs/report_examples.yaml and every stored choice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from command_center.config import CONFIG_DIR
from command_center.store.suggestion_records import SuggestionRecords
from dispatch.catalog import Catalog
from vision.config import DetectorConfig
from vision.detectors import Detector, create_detector

if TYPE_CHECKING:
    from dispatch.report_classifier import ReportClassifier, TrainingCounts

log = logging.getLogger(__name__)
EXAMPLES = CONFIG_DIR / "report_examples.yaml"
MODEL = Path(__file__).resolve().parent.parent / "models" / "grid-yolo.onnx"
TEXT_WEIGHT = 0.6
PHOTO_WEIGHT = 0.4
RETRAIN_EVERY = 20  # new choices before the classifier is fitted again
RETRAIN_EVERY_S = 24 * 3600.0
PHOTO_THRESHOLD = 0.3  # lower than a camera's: a suggestion is only offered, and one look is all there is
MODEL_BACKENDS = ("onnx", "ultralytics")

Ranked = list[tuple[str, float]]


class PhotoReader:
    """What the detector sees in one photo: label → best score. The detector is loaded on
    the first photo; None when there is no model to load (the motion backend sees nothing
    in a single picture)."""

    def __init__(self, configured: DetectorConfig, fallback: Path = MODEL) -> None:
        self._configured = configured
        self._fallback = fallback
        self._detector: Detector | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def _load(self) -> Detector | None:
        if self._configured.backend in MODEL_BACKENDS and self._configured.model is not None:
            config = self._configured.model_copy(update={"thresholds": {"default": PHOTO_THRESHOLD}})
        elif self._fallback.exists():
            config = DetectorConfig(backend="onnx", model=self._fallback, thresholds={"default": PHOTO_THRESHOLD})
        else:
            return None
        try:
            return create_detector(config)
        except (ValueError, OSError) as exc:
            log.warning("no detector for photo suggestions: %s", exc)
            return None

    def labels(self, jpeg: bytes) -> dict[str, float] | None:
        """None: no detector (the photo was not looked at)."""
        with self._lock:  # one photo at a time: a detector is not shared across threads
            if not self._loaded:
                self._detector, self._loaded = self._load(), True
            if self._detector is None:
                return None
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            found = self._detector.detect(image, "suggestions") if image is not None else []
        best: dict[str, float] = {}
        for detection in found:
            best[detection.label] = max(best.get(detection.label, 0.0), float(detection.score))
        return best


def photo_scores(catalog: Catalog, labels: dict[str, float]) -> dict[str, float]:
    """Matter code → score of the labels the photo shows (the catalogue's label map)."""
    scores: dict[str, float] = {}
    for label, score in labels.items():
        matter = catalog.match(None, label)
        if matter.code != catalog.default:
            scores[matter.code] = max(scores.get(matter.code, 0.0), score)
    return scores


def merge(text: Ranked, photo: dict[str, float], k: int = 5) -> Ranked:
    """One ranked list from the text's probabilities and the photo's scores (see the module)."""
    if not photo:
        return text[:k]
    if not text:
        return sorted(((c, round(s, 4)) for c, s in photo.items()), key=lambda cs: -cs[1])[:k]
    mixed = {code: TEXT_WEIGHT * score for code, score in text}
    for code, score in photo.items():
        mixed[code] = mixed.get(code, 0.0) + PHOTO_WEIGHT * score
    return sorted(((c, round(s, 4)) for c, s in mixed.items()), key=lambda cs: -cs[1])[:k]


class ReportSuggestions:
    """The service: suggest, record, keep the classifier fitted."""

    def __init__(
        self,
        catalog: Catalog,
        store: object,
        detector: DetectorConfig,
        examples: Path = EXAMPLES,
        photo_reader: Callable[[bytes], dict[str, float] | None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.records = SuggestionRecords(store)
        self.examples = examples
        self.read_photo = photo_reader or PhotoReader(detector).labels
        self._classifier: ReportClassifier | None = None
        self._ready = threading.Event()
        self._fitting = threading.Lock()  # one fit at a time
        self._guard = threading.Lock()
        self._background = False  # a fit in a thread started and not ended
        self._choices = 0  # since the last fit

    @property
    def classifier(self) -> ReportClassifier | None:
        return self._classifier

    def retrain(self) -> TrainingCounts:
        """Fit from the catalogue, the examples and every stored choice, and swap it in."""
        # scikit-learn is imported here, on the first fit: a process that never suggests
        # (a detection worker, a CLI command) does not pay for loading it.
        from dispatch.report_classifier import fit, load_examples

        with self._fitting:
            self._choices = 0
            try:
                examples = load_examples(self.examples)
            except (ValueError, OSError) as exc:  # a broken file must not leave the service without suggestions
                log.error("report examples not used: %s", exc)
                examples = {}
            classifier = fit(self.catalog, examples, self.records.feedback())
            self._classifier = classifier
            self._ready.set()
        log.info("report classifier fitted: %s", classifier.counts.as_dict())
        return classifier.counts

    def warm(self) -> None:
        """Fit in a thread unless one is under way (the server's start, the first request)."""
        with self._guard:
            if self._background:
                return
            self._background = True
        threading.Thread(target=self._retrain_logged, name="report-classifier", daemon=True).start()

    def _retrain_logged(self) -> None:
        try:
            self.retrain()
        except Exception:  # a thread's exception would go nowhere else
            log.exception("fitting the report classifier failed")
        finally:
            self._background = False

    def wait_ready(self, timeout_s: float) -> ReportClassifier | None:
        """The classifier, starting a fit if there is none, waiting up to `timeout_s`."""
        if self._classifier is None:
            self.warm()
            self._ready.wait(timeout_s)
        return self._classifier

    def suggest(self, text: str, photo: bytes | None, k: int = 5, wait_s: float = 20.0) -> tuple[Ranked, dict[str, float] | None]:
        """(ranked [(code, score)], what the photo showed or None). Blocking: call in a thread."""
        classifier = self.wait_ready(wait_s)
        if classifier is None:
            raise TimeoutError("the report classifier is still being fitted")
        ranked = classifier.suggest(text, k=max(k, 10)) if text.strip() else []
        labels = self.read_photo(photo) if photo is not None else None
        return merge(ranked, photo_scores(self.catalog, labels or {}), k), labels

    def note_choice(self) -> None:
        """One more choice stored: every RETRAIN_EVERY of them the classifier learns them."""
        self._choices += 1
        if self._choices >= RETRAIN_EVERY and self._classifier is not None:
            self._choices = 0
            self.warm()

    async def run(self) -> None:
        """The daily refit (the job); choices between refit at RETRAIN_EVERY."""
        while True:
            await asyncio.sleep(RETRAIN_EVERY_S)
            if self._classifier is not None:  # never used on this node: nothing to refresh
                self.warm()


def train_command(catalog: Catalog, store: object) -> dict[str, object]:
    """`command-center train-reports`: fit as a server would, from the same store; the counts.
    (A running server refits by itself: every RETRAIN_EVERY choices and daily.)"""
    service = ReportSuggestions(catalog, store, DetectorConfig(), photo_reader=lambda _jpeg: None)
    counts = service.retrain().as_dict()
    return {**counts, "feedback_stored": service.records.count_chosen(), "examples_file": str(service.examples)}


def evaluate_command(catalog: Catalog, heldout: Path | None, model: str, folds: int) -> dict[str, object]:
    """`command-center evaluate-reports`: top-1/top-3 on the held-out file (fitted on the
    catalogue and the examples, no stored feedback: a figure anyone can reproduce), or with
    `heldout` None, `folds`-fold cross-validation on the examples."""
    from dispatch.report_classifier import cross_validate, evaluate, fit, load_examples, load_labelled

    examples = load_examples(EXAMPLES)
    if heldout is None:
        result = cross_validate(catalog, examples, model, folds)
        counts: dict[str, object] = {"folds": folds}
    else:
        classifier = fit(catalog, examples, model=model)
        result = evaluate(classifier, load_labelled(heldout))
        counts = classifier.counts.as_dict()
    return {"model": model, "heldout": str(heldout) if heldout else None, "training": counts, **result.as_dict()}
