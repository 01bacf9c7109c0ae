"""Suggested classes of people's reports (自动输出事件分类建议): which matters of the catalogue a
citizen's or a grid worker's Chinese description most likely is, ranked, with probabilities.

TF-IDF over character 1–3-grams (Chinese needs no word segmenter: a 2- or 3-character
n-gram is most of a word, and a typo spoils one n-gram, not the whole word) and a
multinomial logistic regression, whose probabilities are the scores people see. It learns
from what each matter of the catalogue says of itself (its name strongly; its closure
standard; its class and department weakly: many matters share them), from the example
reports of configs/report_examples.yaml, and from the choices people made on earlier
suggestions (the feedback kept in the store). Fitting takes a second or two, so the server
fits at start and again after new feedback; nothing is pickled (fragile across scikit-learn
versions).

Why logistic regression and not a calibrated linear SVM: measured on the training examples
by 5-fold cross-validation (docs/MODEL.md, "Report classification"), the two rank alike
(top-3 0.942 against 0.936) and the regression's probabilities come without the
calibration's extra folds (three fits more). The SAGA solver with a loose tolerance fits
in about 1.5 s of CPU, lbfgs in 4–8 s for the same ranking.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from dispatch.catalog import Catalog

# How much each kind of training text counts (sample weights). A matter's name is what
# people most often say; its closure standard describes the scene in other words; its class
# and department are shared by many matters and only lean towards a group.
NAME_WEIGHT = 3.0
STANDARD_WEIGHT = 1.0
GROUP_WEIGHT = 0.3
EXAMPLE_WEIGHT = 1.0
FEEDBACK_WEIGHT = 1.0  # a real report as its reporter or an officer classified it
# Inverse regularisation: the examples are few per matter and their n-grams telling, so a
# weak prior fits them closely (chosen by cross-validation on the examples, not the test set).
C = 20.0
NGRAMS = (1, 3)
MAX_TEXT = 4000  # longer texts are cut: a report's first few thousand characters say what it is
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Full-width forms folded (ＡＢＣ１２３ → abc123), lower case, no runs of white space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text[:MAX_TEXT]).lower()).strip()


@dataclass(frozen=True, slots=True)
class TrainingCounts:
    matters: int
    examples: int
    feedback: int
    features: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "matters": self.matters, "examples": self.examples, "feedback": self.feedback,
            "features": self.features, "seconds": round(self.seconds, 2),
        }  # fmt: skip


class ReportClassifier:
    """A fitted classifier: `suggest(text)` → [(matter code, probability), ...], best first."""

    def __init__(self, vectorizer: TfidfVectorizer, model: Any, counts: TrainingCounts) -> None:
        self._vectorizer = vectorizer
        self._model = model
        self.codes: tuple[str, ...] = tuple(str(c) for c in model.classes_)
        self.counts = counts

    def suggest(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        return self.suggest_many([text], k)[0]

    def suggest_many(self, texts: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        """Each text's top `k`; [] for a text with nothing the classifier knows (empty, or
        only characters no training text has), rather than the prior dressed up as a guess."""
        if not texts:
            return []
        features = self._vectorizer.transform([normalize(t) for t in texts])
        probabilities = self._model.predict_proba(features)
        known = np.asarray(features.getnnz(axis=1)) > 0
        out: list[list[tuple[str, float]]] = []
        for row, seen in zip(probabilities, known, strict=True):
            if not seen:
                out.append([])
                continue
            best = np.argsort(-row)[:k]
            out.append([(self.codes[i], round(float(row[i]), 4)) for i in best])
        return out


def training_set(
    catalog: Catalog, examples: Mapping[str, Sequence[str]], feedback: Iterable[tuple[str, str]] = ()
) -> tuple[list[str], list[str], list[float], tuple[int, int]]:
    """(texts, codes, weights, (examples used, feedback used)). An example for a code the
    catalogue lacks is an error (a typo in the file); feedback for one is skipped (a district
    may have added a matter the base catalogue has not)."""
    texts: list[str] = []
    codes: list[str] = []
    weights: list[float] = []

    def add(text: str, code: str, weight: float) -> None:
        text = normalize(text)
        if text:
            texts.append(text)
            codes.append(code)
            weights.append(weight)

    known = {m.code for m in catalog.items}
    for matter in catalog.items:
        add(matter.name, matter.code, NAME_WEIGHT)
        add(matter.closure_standard, matter.code, STANDARD_WEIGHT)
        add(f"{matter.klass} {matter.department}", matter.code, GROUP_WEIGHT)
    unknown = sorted(set(examples) - known)
    if unknown:
        raise ValueError(f"report examples for codes the catalogue lacks: {', '.join(unknown)}")
    n_examples = 0
    for code, items in examples.items():
        for text in items:
            add(text, code, EXAMPLE_WEIGHT)
            n_examples += 1
    n_feedback = 0
    for text, code in feedback:
        if code in known and text.strip():
            add(text, code, FEEDBACK_WEIGHT)
            n_feedback += 1
    return texts, codes, weights, (n_examples, n_feedback)


def make_model(kind: str = "logreg") -> Any:
    """The linear model: `logreg` (the one used) or `svm` (a linear SVM calibrated by
    3-fold sigmoid, kept for the comparison `command-center evaluate-reports --model svm`)."""
    if kind == "logreg":
        return LogisticRegression(C=C, solver="saga", tol=1e-3, max_iter=1000)
    if kind == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        return CalibratedClassifierCV(LinearSVC(C=1.0), cv=3, method="sigmoid")
    raise ValueError(f"unknown model {kind!r}: logreg or svm")


def make_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, sublinear_tf=True, lowercase=False)


def fit(
    catalog: Catalog,
    examples: Mapping[str, Sequence[str]],
    feedback: Iterable[tuple[str, str]] = (),
    model: str = "logreg",
) -> ReportClassifier:
    """A classifier over every matter of `catalog`, from its own words, `examples`
    (code → texts) and `feedback` ((text, chosen code), ...)."""
    started = time.perf_counter()
    texts, codes, weights, (n_examples, n_feedback) = training_set(catalog, examples, feedback)
    vectorizer = make_vectorizer()
    features = vectorizer.fit_transform(texts)
    estimator = make_model(model)
    estimator.fit(features, codes, sample_weight=np.asarray(weights))
    counts = TrainingCounts(
        len(set(codes)), n_examples, n_feedback, len(vectorizer.vocabulary_), time.perf_counter() - started
    )
    return ReportClassifier(vectorizer, estimator, counts)


def load_examples(path: str | Path) -> dict[str, list[str]]:
    """configs/report_examples.yaml: {"examples": {"0101": ["text", ...], ...}}; a missing
    file is no examples (the catalogue's own words still train a classifier)."""
    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise ValueError(f"{path}: expected a mapping 'examples: {{code: [text, ...]}}'")
    out: dict[str, list[str]] = {}
    for code, items in found.items():
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise ValueError(f"{path}: examples of {code}: expected a list of texts")
        out[str(code)] = list(items)
    return out


@dataclass
class ClassScore:
    n: int = 0
    top1: int = 0
    top3: int = 0


@dataclass
class Evaluation:
    """Top-1 and top-3 accuracy over labelled reports, per class, and each miss."""

    n: int = 0
    top1: int = 0
    top3: int = 0
    per_class: dict[str, ClassScore] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)  # top-1 misses: text, code, suggested

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.n if self.n else 0.0

    @property
    def top3_accuracy(self) -> float:
        return self.top3 / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "top1": round(self.top1_accuracy, 4),
            "top3": round(self.top3_accuracy, 4),
            "per_class": {c: {"n": s.n, "top1": s.top1, "top3": s.top3} for c, s in sorted(self.per_class.items())},
            "misses": self.misses,
        }


def evaluate(classifier: ReportClassifier, rows: Sequence[tuple[str, str]]) -> Evaluation:
    """Score `rows` ((text, true code), ...)."""
    result = Evaluation()
    suggested = classifier.suggest_many([text for text, _ in rows], k=3)
    for (text, code), top in zip(rows, suggested, strict=True):
        ranked = [c for c, _ in top]
        score = result.per_class.setdefault(code, ClassScore())
        hit1, hit3 = ranked[:1] == [code], code in ranked
        result.n, score.n = result.n + 1, score.n + 1
        result.top1, score.top1 = result.top1 + hit1, score.top1 + hit1
        result.top3, score.top3 = result.top3 + hit3, score.top3 + hit3
        if not hit1:
            result.misses.append({"text": text, "code": code, "suggested": top, "in_top3": hit3})
    return result


def cross_validate(
    catalog: Catalog, examples: Mapping[str, Sequence[str]], model: str = "logreg", folds: int = 5, seed: int = 0
) -> Evaluation:
    """Each example scored by a classifier fitted without its fold (the catalogue's own words
    always in): how the model choice and C were made without looking at the held-out set."""
    rows = [(text, code) for code, items in examples.items() for text in items]
    order = np.random.default_rng(seed).permutation(len(rows))
    result = Evaluation()
    for fold in range(folds):
        test = [rows[i] for i in order[fold::folds]]
        held = {id(row) for row in test}
        train: dict[str, list[str]] = {}
        for row in rows:
            if id(row) not in held:
                train.setdefault(row[1], []).append(row[0])
        part = evaluate(fit(catalog, train, model=model), test)
        result.n, result.top1, result.top3 = result.n + part.n, result.top1 + part.top1, result.top3 + part.top3
        result.misses += part.misses
        for code, score in part.per_class.items():
            total = result.per_class.setdefault(code, ClassScore())
            total.n, total.top1, total.top3 = total.n + score.n, total.top1 + score.top1, total.top3 + score.top3
    return result


def load_labelled(path: str | Path) -> list[tuple[str, str]]:
    """A CSV of labelled reports with the columns `text,matter_code` (a header row)."""
    import csv

    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = [(r["text"].strip(), r["matter_code"].strip()) for r in csv.DictReader(f)]
    return [(text, code) for text, code in rows if text and code]
