"""The statistical text model for the first-level domain: TF-IDF features + a linear classifier.

Only plain data is persisted: a compressed ``.npz`` of numeric and fixed-width-string arrays
(loaded with ``allow_pickle=False``, so no code can ride along) and a ``.json`` of metadata next to
it. Inference is done here with numpy/scipy from those arrays, so the running service does not need
to unpickle any scikit-learn object.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FORMAT = "hotline-router/text-model/v1"
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")

FloatArray = npt.NDArray[np.float32]
T = TypeVar("T")


class ModelFileError(ValueError):
    """The model file is missing, unreadable or not a model this code can use."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def model_text_normalised(text: str) -> str:
    """:func:`model_text` for text already NFKC-normalised and lower-cased."""
    return _DIGITS.sub("0", _SPACE.sub("", text))


def model_text(text: str) -> str:
    """What the model sees: NFKC, lower case, no whitespace, every digit as ``0``.

    Digits carry no topic (house numbers, plates, dates) and would only spread weight thin.
    """
    return _DIGITS.sub("0", _SPACE.sub("", unicodedata.normalize("NFKC", text).lower()))


def word_prefixes(words: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """First two characters of every word → the lengths of the words starting with them, longest
    first (for :func:`segment`)."""
    lengths: dict[str, set[int]] = {}
    for w in words:
        if len(w) >= 2:
            lengths.setdefault(w[:2], set()).add(len(w))
    return {p: tuple(sorted(ls, reverse=True)) for p, ls in lengths.items()}


def segment(text: str, vocab: Mapping[str, T], prefixes: Mapping[str, tuple[int, ...]]) -> list[T]:
    """Forward maximum matching of ``text`` against the model's word list: the vocab entries of the
    longest known word at each position, left to right; characters in no word are skipped.

    Much faster than jieba (one dict probe per position when no word starts there) and the same at
    training and at inference, which matters more than linguistic accuracy.
    """
    out: list[T] = []
    i = 0
    n = len(text)
    get = vocab.get
    pget = prefixes.get
    while i < n - 1:
        lengths = pget(text[i : i + 2])
        if lengths is None:
            i += 1
            continue
        for k in lengths:
            v = get(text[i : i + k])
            if v is not None:
                out.append(v)
                i += k
                break
        else:
            i += 1
    return out


@dataclass(frozen=True, slots=True)
class ModelMeta:
    version: str
    classes: tuple[str, ...]
    ngram_min: int
    ngram_max: int
    temperature: float
    trained_at: str
    #: weight of the word block (0 = characters only); words are matched by :func:`segment`
    word_weight: float = 0.0
    #: the head block: char n-grams of the first ``head_length`` characters only (a message's title,
    #: a ticket's gist), × ``head_weight``; 0 = no head block
    head_length: int = 0
    head_weight: float = 0.0
    #: the hotline scorer (round 6+): classes (incl. 其他) and softmax temperature; () = none
    hotline_classes: tuple[str, ...] = ()
    hotline_temperature: float = 1.0
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "classes": list(self.classes),
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "temperature": self.temperature,
            "word_weight": self.word_weight,
            "head_length": self.head_length,
            "head_weight": self.head_weight,
            **(
                {"hotline": {"classes": list(self.hotline_classes), "temperature": self.hotline_temperature}}
                if self.hotline_classes
                else {}
            ),
            "trained_at": self.trained_at,
            "metrics": self.metrics,
            "params": self.params,
        }


@dataclass(slots=True)
class Scorer:
    """One linear score per class over the model's features, and its softmax temperature."""

    classes: tuple[str, ...]
    coef: FloatArray
    intercept: FloatArray
    temperature: float
    coef_t: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.coef = np.ascontiguousarray(self.coef, dtype=np.float32)
        self.coef_t = np.ascontiguousarray(self.coef.T)
        self.intercept = self.intercept.astype(np.float32)
        if self.coef.shape[0] != len(self.classes) or self.intercept.shape != (len(self.classes),):
            raise ValueError("scorer classes do not match its coefficients")


#: the scorer trained on the message board only (web messages; the holdout) and the one trained on
#: the board plus labelled hotline tickets, with an 其他 class (agents' phone tickets)
BOARD = "board"
HOTLINE = "hotline"


class TextModel:
    """Char n-gram TF-IDF (sublinear tf, l2) ⊕ word TF-IDF (sublinear tf, l2, × ``word_weight``)
    ⊕ head char n-gram TF-IDF (first ``head_length`` characters, × ``head_weight``) → linear scores
    → softmax with a fitted temperature; one such scorer per entry of ``scorers`` (board, and hotline
    when the file has one)."""

    def __init__(
        self,
        meta: ModelMeta,
        terms: Sequence[str],
        idf: FloatArray,
        coef: FloatArray,
        intercept: FloatArray,
        *,
        words: Sequence[str] = (),
        word_idf: FloatArray | None = None,
        head_terms: Sequence[str] = (),
        head_idf: FloatArray | None = None,
        hotline_coef: FloatArray | None = None,
        hotline_intercept: FloatArray | None = None,
    ) -> None:
        n_features = coef.shape[1]
        w_idf = np.zeros(0, dtype=np.float32) if word_idf is None else word_idf
        h_idf = np.zeros(0, dtype=np.float32) if head_idf is None else head_idf
        if (
            len(terms) + len(words) + len(head_terms) != n_features
            or idf.shape != (len(terms),)
            or w_idf.shape != (len(words),)
            or h_idf.shape != (len(head_terms),)
            or (len(head_terms) > 0) != (meta.head_length > 0)
        ):
            raise ValueError("model arrays do not agree in shape")
        board = Scorer(meta.classes, coef, intercept, meta.temperature)  # checks classes × coefficients
        self.meta = meta
        self.terms = list(terms)
        self.idf = idf.astype(np.float32)
        self.words = list(words)
        self.word_idf = w_idf.astype(np.float32)
        self._word_vocab = {w: i for i, w in enumerate(self.words)}
        self._word_prefixes = word_prefixes(self.words)
        self.head_terms = list(head_terms)
        self.head_idf = h_idf.astype(np.float32)
        self._head_vocab = {t: i for i, t in enumerate(self.head_terms)}
        self._all_terms = self.terms + self.words + self.head_terms
        self.scorers = {BOARD: board}
        if meta.hotline_classes:
            if hotline_coef is None or hotline_intercept is None or hotline_coef.shape[1] != n_features:
                raise ValueError("hotline scorer arrays missing or not over the model's features")
            self.scorers[HOTLINE] = Scorer(
                meta.hotline_classes, hotline_coef, hotline_intercept, meta.hotline_temperature
            )
        self._vocab = {t: i for i, t in enumerate(self.terms)}
        self._ngrams = range(meta.ngram_min, meta.ngram_max + 1)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def classes(self) -> tuple[str, ...]:
        return self.meta.classes

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows for already-normalised texts (see :func:`model_text`)."""
        blocks = [self._char_features(texts, self._vocab, self.idf, 1.0)]
        if self.words:
            blocks.append(self._word_features(texts))
        if self.head_terms:
            n = self.meta.head_length
            heads = [t[:n] for t in texts]
            blocks.append(self._char_features(heads, self._head_vocab, self.head_idf, self.meta.head_weight))
        if len(blocks) == 1:
            return blocks[0]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _word_features(self, texts: Sequence[str]) -> sp.csr_matrix:
        ids: list[int] = []
        indptr = [0]
        for text in texts:
            ids.extend(segment(text, self._word_vocab, self._word_prefixes))
            indptr.append(len(ids))
        return self._tfidf(ids, indptr, len(texts), self.word_idf, self.meta.word_weight)

    def _char_features(
        self, texts: Sequence[str], vocab: Mapping[str, int], idf: FloatArray, weight: float
    ) -> sp.csr_matrix:
        get = vocab.get
        ngrams = self._ngrams
        ids: list[int] = []
        for text in texts:
            ids.extend(
                map(get, [text[k : k + n] for n in ngrams for k in range(len(text) - n + 1)], repeat(-1))
            )
            ids.append(-2)  # end of row
        # unknown n-grams are -1, row ends -2: filter in numpy rather than per n-gram in Python
        arr = np.asarray(ids, dtype=np.int64)
        ends = np.flatnonzero(arr == -2)
        keep = arr >= 0
        indptr = np.concatenate(([0], np.cumsum(keep)[ends]))
        return self._tfidf(arr[keep], indptr, len(texts), idf, weight)

    @staticmethod
    def _tfidf(
        ids: Sequence[int] | npt.NDArray[np.int64],
        indptr: Sequence[int] | npt.NDArray[np.int64],
        n_rows: int,
        idf: FloatArray,
        weight: float,
    ) -> sp.csr_matrix:
        """Sublinear tf × idf, each row l2-normalised and then scaled by ``weight``."""
        rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(indptr))
        x = sp.csr_matrix(
            (np.ones(len(ids), dtype=np.float32), (rows, np.asarray(ids, dtype=np.int32))),
            shape=(n_rows, len(idf)),
        )
        x.sum_duplicates()
        x.data = (1.0 + np.log(x.data)) * idf[x.indices]
        sq = np.asarray(x.multiply(x).sum(axis=1)).ravel()
        norms = np.sqrt(sq, dtype=np.float64)
        norms[norms == 0] = 1.0
        scale = np.repeat((weight / norms).astype(np.float32), np.diff(x.indptr))
        x.data *= scale
        return x

    def decision(self, x: sp.csr_matrix, scorer: str = BOARD) -> FloatArray:
        s = self.scorers[scorer]
        return np.asarray(x @ s.coef_t, dtype=np.float32) + s.intercept

    def log_proba(self, scores: FloatArray, temperature: float = 1.0, scorer: str = BOARD) -> FloatArray:
        """Calibrated log-probabilities from linear scores (softmax at the fitted temperature)."""
        z = scores / np.float32(self.scorers[scorer].temperature * temperature)
        z = z - z.max(axis=1, keepdims=True)
        out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return out

    def top_terms(
        self, x: sp.csr_matrix, row: int, class_index: int, k: int = 3, scorer: str = BOARD
    ) -> list[str]:
        """The n-grams that pushed this row most towards ``class_index`` (for the explanation)."""
        start, end = x.indptr[row], x.indptr[row + 1]
        idx = x.indices[start:end]
        contrib = x.data[start:end] * self.scorers[scorer].coef[class_index, idx]
        order = np.argsort(-contrib)
        picked: list[str] = []
        for j in order:
            if contrib[j] <= 0 or len(picked) >= k:
                break
            term = self._all_terms[idx[j]]
            if len(term) < 2 or any(term in p or p in term for p in picked):
                continue
            picked.append(term)
        return picked

    # -- persistence ------------------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        """Write ``<path>.npz`` and ``<path>.json``; returns the ``.npz`` path."""
        npz = path.with_suffix(".npz")
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "terms": np.array(self.terms, dtype=np.str_),
            "idf": self.idf.astype(np.float32),
            "coef": self.scorers[BOARD].coef.astype(np.float16),
            "coef_scale": np.array([1.0], dtype=np.float32),
            "intercept": self.scorers[BOARD].intercept,
            "words": np.array(self.words, dtype=np.str_),
            "word_idf": self.word_idf.astype(np.float32),
            "head_terms": np.array(self.head_terms, dtype=np.str_),
            "head_idf": self.head_idf.astype(np.float32),
        }
        if HOTLINE in self.scorers:
            arrays["hotline_coef"] = self.scorers[HOTLINE].coef.astype(np.float16)
            arrays["hotline_intercept"] = self.scorers[HOTLINE].intercept
        np.savez_compressed(npz, **arrays)
        npz.with_suffix(".json").write_text(
            json.dumps(self.meta.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return npz

    @classmethod
    def load(cls, npz: Path) -> TextModel:
        """Load a model saved by :meth:`save`. Never unpickles: plain arrays and JSON only."""
        meta_path = npz.with_suffix(".json")
        try:
            raw = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(meta_path, f"cannot read model metadata: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ModelFileError(meta_path, f"not a {FORMAT} metadata file")
        try:
            meta = ModelMeta(
                version=str(raw["version"]),
                classes=tuple(str(c) for c in raw["classes"]),
                ngram_min=int(raw["ngram_min"]),
                ngram_max=int(raw["ngram_max"]),
                temperature=float(raw["temperature"]),
                word_weight=float(raw.get("word_weight", 0.0)),
                head_length=int(raw.get("head_length", 0)),
                head_weight=float(raw.get("head_weight", 0.0)),
                hotline_classes=tuple(str(c) for c in raw.get("hotline", {}).get("classes", ())),
                hotline_temperature=float(raw.get("hotline", {}).get("temperature", 1.0)),
                trained_at=str(raw.get("trained_at", "")),
                metrics=dict(raw.get("metrics", {})),
                params=dict(raw.get("params", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(meta_path, f"bad model metadata: {exc}") from exc
        try:
            with np.load(npz, allow_pickle=False) as z:
                terms = z["terms"]
                idf = z["idf"]
                coef = z["coef"].astype(np.float32) * z["coef_scale"].astype(np.float32)
                intercept = z["intercept"]
                words = z["words"] if "words" in z.files else np.zeros(0, dtype=np.str_)
                word_idf = z["word_idf"] if "word_idf" in z.files else np.zeros(0, dtype=np.float32)
                head_terms = z["head_terms"] if "head_terms" in z.files else np.zeros(0, dtype=np.str_)
                head_idf = z["head_idf"] if "head_idf" in z.files else np.zeros(0, dtype=np.float32)
                hotline_coef = z["hotline_coef"].astype(np.float32) if "hotline_coef" in z.files else None
                hotline_intercept = z["hotline_intercept"] if "hotline_intercept" in z.files else None
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(npz, f"cannot read model arrays: {exc}") from exc
        if any(len(a) and a.dtype.kind != "U" for a in (terms, words, head_terms)):
            raise ModelFileError(npz, "terms, words and head terms must be unicode arrays")
        try:
            return cls(
                meta,
                terms.tolist(),
                idf,
                coef,
                intercept,
                words=words.tolist(),
                word_idf=word_idf,
                head_terms=head_terms.tolist(),
                head_idf=head_idf,
                hotline_coef=hotline_coef,
                hotline_intercept=hotline_intercept,
            )
        except ValueError as exc:
            raise ModelFileError(npz, str(exc)) from exc
