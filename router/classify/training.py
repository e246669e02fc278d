"""Build and score the domain model (``hotline-router train`` / ``evaluate``).

``train`` reads the shared training files (never the holdout), validates on a stratified split of
them, fits the softmax temperature on out-of-fold scores, refits on everything and writes a
versioned plain-data model file. ``evaluate`` and ``evaluate_holdout`` score the holdout file
through ``Classifier.classify_many`` — the same path the service uses.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

from config.settings import PACKAGED_CONFIG_DIR
from router.classification import Classifier, TicketText, joined_text
from router.classify.augment import synthetic_tickets
from router.classify.model import ModelMeta, TextModel, model_text, segment, word_prefixes
from schemas.v1.vocab import Channel, Domain, Hotline

TRAIN_FILE = "gov_messages_train.csv"
TOKENS_FILE = "gov_messages_tokens_train.csv"
HOLDOUT_FILE = "gov_messages_holdout.csv"
MODEL_DOMAINS = tuple(d.value for d in Domain if d is not Domain.OTHER)


#: fewer labelled tickets than this (files + stored labels): no hotline scorer, labels go to the board
MIN_HOTLINE_TICKETS = 10
#: labelled hotline tickets the hotline scorer learns from (one JSON object per line with at least
#: ``content`` and ``domain``; ``title`` optional): test sets written for earlier rounds, once scored
TRAINING_TICKETS_DIR = PACKAGED_CONFIG_DIR.parent / "training"


@dataclass(frozen=True, slots=True)
class LabelledExample:
    """A labelled text from outside the shared files: a department's 职能不符 return, a supervisor's
    re-dispatch, an agent's triage decision, a labelled hotline ticket. The hotline scorer learns
    ``domain`` 其他 as a class; the board scorer has no such class and skips it."""

    text: str
    domain: Domain
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class TrainParams:
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2
    c: float = 1.0
    #: weight of the word block (0 = characters only). Words: jieba (HMM off) on the training texts,
    #: the tokens file's own tokens; 2–6 characters, in ≥ ``min_df`` texts; the model then matches
    #: them by forward maximum matching (:func:`router.classify.model.segment`), here and at inference
    word_weight: float = 0.7
    #: the head block: char 1–3-grams of the first ``head_length`` characters (a message's title, a
    #: ticket's gist) as a separate block × ``head_weight``; 0 = off (issue 3 round 5: see docs)
    head_length: int = 40
    head_weight: float = 0.5
    #: "balanced" weighs each domain inversely to its frequency (交通运输 is the smallest class)
    class_weight: str | None = "balanced"
    #: NB-SVM (Wang & Manning 2012): each domain's one-vs-rest SVM sees the features scaled by their
    #: naive-Bayes log-count ratio for that domain (smoothing ``nb_alpha``); the fitted model is still
    #: one linear score per domain (coef × ratio), so the service is unchanged. 0 = plain LinearSVC
    nb_alpha: float = 1.0
    #: blend of the two fits (each scaled to unit score spread on the training texts): 1 = NB-SVM
    #: only, 0 = plain SVM only; in between is still one linear score per domain
    nb_mix: float = 0.5
    #: also learn every lexicon keyword (transport rules with domain_weight ≥ 3, domain hints except
    #: 其他) as a one-word example of its domain: the board messages rarely use hotline words
    #: (拒载, ETC, 网约车), so without them the model is weak on short phone-call tickets
    keyword_examples: bool = True
    #: also learn each message's title on its own: titles are short, like hotline tickets
    title_examples: bool = True
    #: synthetic short hotline tickets per domain built from the lexicon keywords
    #: (:mod:`router.classify.augment`; 交通运输 gets twice as many), at ``synthetic_weight``
    synthetic_per_domain: int = 300
    synthetic_weight: float = 0.3
    #: whether the board scorer also learns the lexicon-derived rows (keyword and synthetic
    #: examples). They always shape the vocabulary and train the hotline scorer, which decides the
    #: short phone tickets they imitate; the board scorer decides citizens' web messages, and
    #: without them it is 0.6 pt better out-of-fold (round 7; before round 7 it learnt them). With
    #: no hotline scorer (too few labelled tickets) the board scorer decides everything and learns them
    board_learns_lexicon: bool = False
    #: the hotline scorer: the board data plus labelled hotline tickets (``tickets_dir``) and the
    #: service's stored labels at this sample weight, with an 其他 class; 0 = no hotline scorer
    #: (then stored labels go to the board model, as before round 6)
    hotline_weight: float = 3.0
    #: board messages the hotline scorer does not learn: the board files put bus, metro, coach and
    #: driving-school matters under 城乡建设 or 商贸旅游, the hotline taxonomy (DESIGN §5) under
    #: 交通运输. A board message naming one of ``hotline_skip_words`` and labelled one of
    #: ``hotline_skip_labels`` would teach phone tickets the board's taxonomy (round 7: 197 rows;
    #: the labelled tickets decide these matters instead). The board scorer still learns them.
    hotline_skip_words: tuple[str, ...] = ("公交", "地铁", "轨道交通", "客车", "驾校", "汽车站", "客运")
    hotline_skip_labels: tuple[str, ...] = (Domain.URBAN.value, Domain.COMMERCE.value)
    validation_size: float = 0.15
    seed: int = 0


def load_hotline_tickets(tickets_dir: Path) -> list[LabelledExample]:
    """Every ``*.jsonl`` in ``tickets_dir`` as labelled examples (a missing directory: none)."""
    out: list[LabelledExample] = []
    for path in sorted(tickets_dir.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(
                    LabelledExample(joined_text(str(row["content"]), row.get("title")), Domain(row["domain"]))
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a labelled ticket ({exc})") from exc
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@dataclass(slots=True)
class TrainingRows:
    """The rows both scorers are trained on, in order: the board files' rows, the lexicon-derived
    rows, then (only when there is no hotline scorer) the stored labels."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    #: a whole board message (not a title, tokens row or lexicon-derived example): what the
    #: validation split and the out-of-fold figures are measured on
    full: list[bool] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    #: ``False`` for the keyword and synthetic examples derived from the lexicon, which the board
    #: scorer learns only when there is no hotline scorer (``TrainParams.board_learns_lexicon``)
    board: list[bool] = field(default_factory=list)

    def add(self, text: str, label: str, *, full: bool, weight: float = 1.0, board: bool = True) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.full.append(full)
        self.weights.append(weight)
        self.board.append(board)


def load_training_texts(data_dir: Path, params: TrainParams) -> TrainingRows:
    """The two training files (+ lexicon-derived examples); never reads the holdout."""
    rows = TrainingRows()
    for r in _read_csv(data_dir / TRAIN_FILE):
        rows.add(r["text"], r["label"], full=True)
        if params.title_examples and r.get("title", "").strip():
            rows.add(r["title"], r["label"], full=False)
    for r in _read_csv(data_dir / TOKENS_FILE):
        # jieba tokens, space separated: model_text drops the spaces
        rows.add(r["tokens"], r["label"], full=False)
    if params.keyword_examples:
        for word, label in lexicon_examples():
            rows.add(word, label, full=False, board=False)
    if params.synthetic_per_domain:
        by_domain: dict[str, list[str]] = {}
        for word, label in lexicon_examples():
            by_domain.setdefault(label, []).append(word)
        n = params.synthetic_per_domain
        per = {d: 2 * n if d == Domain.TRANSPORT.value else n for d in by_domain}
        for text, label in synthetic_tickets(by_domain, per, seed=params.seed):
            rows.add(text, label, full=False, weight=params.synthetic_weight, board=False)
    return rows


def lexicon_examples(config_dir: Path | None = None) -> list[tuple[str, str]]:
    """(keyword, domain) pairs from the operator's lexicon, used as one-word training examples."""
    from config.classifier import load_classifier_config

    config = load_classifier_config(config_dir or PACKAGED_CONFIG_DIR)
    out: list[tuple[str, str]] = []
    for r in config.transport:
        dw = r.weight if r.domain_weight is None else r.domain_weight
        if dw >= 3:
            out += [(k, Domain.TRANSPORT.value) for k in r.keywords]
    for r in config.domain:
        if r.label != Domain.OTHER.value:
            out += [(k, r.label) for k in r.keywords]
    return out


# -- reports ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalReport:
    name: str
    n: int
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    labels: list[str]
    confusion: list[list[int]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class_f1": {k: round(v, 4) for k, v in self.per_class_f1.items()},
            "labels": self.labels,
            "confusion": self.confusion,
            **self.extra,
        }

    def format(self) -> str:
        lines = [
            f"{self.name}: n={self.n}  accuracy={self.accuracy:.4f}  macro-F1={self.macro_f1:.4f}",
            "",
            "per-class F1:",
        ]
        lines += [f"  {k:<10} {v:.4f}" for k, v in self.per_class_f1.items()]
        lines += ["", "confusion (rows = truth, columns = predicted):"]
        short = [lbl[:2] for lbl in self.labels]
        lines.append("  " + " " * 8 + "".join(f"{s:>6}" for s in short))
        for lbl, row in zip(short, self.confusion, strict=True):
            lines.append(f"  {lbl:<8}" + "".join(f"{v:>8}" for v in row))
        for k, v in self.extra.items():
            lines.append(f"{k}: {v}")
        return "\n".join(lines)


def transport_vs_not(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Share of texts on the right side of the 12328/12345 line (交通运输 or not), 4 decimals."""
    t = Domain.TRANSPORT.value
    return round(sum((g == t) == (q == t) for g, q in zip(gold, pred, strict=True)) / len(gold), 4)


def score(
    name: str, gold: Sequence[str], pred: Sequence[str], extra: dict[str, Any] | None = None
) -> EvalReport:
    labels: list[str] = [str(d.value) for d in Domain if d.value in set(gold) | set(pred)]
    f1s = f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    gold_labels = [lbl for lbl in labels if lbl in set(gold)]
    return EvalReport(
        name=name,
        n=len(gold),
        accuracy=float(accuracy_score(gold, pred)),
        macro_f1=float(f1_score(gold, pred, labels=gold_labels, average="macro", zero_division=0)),
        per_class_f1={lbl: float(f) for lbl, f in zip(labels, f1s, strict=True)},
        labels=labels,
        confusion=confusion_matrix(gold, pred, labels=labels).tolist(),
        extra=extra or {},
    )


@dataclass(frozen=True, slots=True)
class TrainReport:
    version: str
    model_file: Path
    n_train: int
    n_features: int
    temperature: float
    validation: EvalReport
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model_file": str(self.model_file),
            "n_train": self.n_train,
            "n_features": self.n_features,
            "temperature": round(self.temperature, 4),
            "validation": self.validation.to_dict(),
            "seconds": round(self.seconds, 1),
        }

    def format(self) -> str:
        return "\n".join(
            [
                f"model {self.version} → {self.model_file}",
                f"trained on {self.n_train} texts, {self.n_features} features, "
                f"temperature {self.temperature:.3f}, {self.seconds:.0f} s",
                "",
                self.validation.format(),
            ]
        )


# -- fitting ------------------------------------------------------------------------------------------


_NOT_A_WORD = re.compile(r"^[0\W_a-z]*$")


def raw_words(text: str) -> list[str]:
    """Candidate words of a training text: the tokens of a tokens-file row (space separated),
    else jieba's segmentation without the HMM (deterministic, dictionary words only)."""
    import jieba

    norm = model_text(text)
    toks = [model_text(w) for w in text.split()] if " " in text.strip() else jieba.lcut(norm, HMM=False)
    return [w for w in toks if 2 <= len(w) <= 6 and not _NOT_A_WORD.match(w)]


@dataclass(slots=True)
class _Fitted:
    vec: TfidfVectorizer
    words: list[str]
    word_idf: np.ndarray[Any, Any]
    clf: _LinearScores
    word_weight: float
    head: TfidfVectorizer | None
    head_length: int
    head_weight: float

    def features(self, texts: Sequence[str]) -> Any:
        return _features(
            [model_text(t) for t in texts],
            self.vec,
            self.words,
            self.word_idf,
            self.word_weight,
            self.head,
            self.head_length,
            self.head_weight,
        )

    def decision_function(self, texts: Sequence[str]) -> Any:
        return self.clf.decision_function(self.features(texts))


def _word_matrix(norm: Sequence[str], words: list[str], idf: np.ndarray[Any, Any], weight: float) -> Any:
    """The same word block the service computes (:meth:`TextModel._word_features`)."""
    vocab = {w: i for i, w in enumerate(words)}
    prefixes = word_prefixes(words)
    ids: list[int] = []
    indptr = [0]
    for t in norm:
        ids.extend(segment(t, vocab, prefixes))
        indptr.append(len(ids))
    return TextModel._tfidf(ids, indptr, len(norm), idf.astype(np.float32), weight)


def _features(  # noqa: PLR0917 (the blocks of one feature matrix)
    norm: Sequence[str],
    vec: TfidfVectorizer,
    words: list[str],
    word_idf: np.ndarray[Any, Any],
    word_weight: float,
    head: TfidfVectorizer | None,
    head_length: int,
    head_weight: float,
) -> Any:
    """The feature matrix the service computes (:meth:`TextModel.features`): chars ⊕ words ⊕ head."""
    blocks = [vec.transform(norm)]
    if words:
        blocks.append(_word_matrix(norm, words, word_idf, word_weight))
    if head is not None:
        blocks.append(head.transform([t[:head_length] for t in norm]) * head_weight)
    return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")


def _char_vectorizer(params: TrainParams) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(params.ngram_min, params.ngram_max),
        lowercase=False,
        sublinear_tf=True,
        min_df=params.min_df,
        dtype=np.float32,
    )


def _fit(  # noqa: PLR0917 (rows, their tokens, labels, weights, which rows the scorer learns)
    texts: Any,
    tokens: Sequence[Sequence[str]],
    labels: Any,
    weights: Any,
    params: TrainParams,
    learns: Any = None,
) -> _Fitted:
    """Vocabulary and idf from every row; the linear scores from the rows where ``learns`` (all
    when ``None``)."""
    vec = _char_vectorizer(params)
    norm = [model_text(t) for t in texts]
    vec.fit(norm)
    words: list[str] = []
    word_idf = np.zeros(0, dtype=np.float32)
    if params.word_weight > 0:
        df = Counter(w for toks in tokens for w in set(toks))
        words = sorted(w for w, n in df.items() if n >= params.min_df)
        # idf of the words as the service segments them (smooth idf, like TfidfVectorizer)
        vocab = {w: i for i, w in enumerate(words)}
        prefixes = word_prefixes(words)
        seg_df = np.zeros(len(words))
        for t in norm:
            seg_df[list(set(segment(t, vocab, prefixes)))] += 1
        word_idf = (np.log((1 + len(norm)) / (1 + seg_df)) + 1).astype(np.float32)
    head: TfidfVectorizer | None = None
    if params.head_length > 0:
        head = _char_vectorizer(params).fit([t[: params.head_length] for t in norm])
    x = _features(
        norm, vec, words, word_idf, params.word_weight, head, params.head_length, params.head_weight
    )
    if learns is not None:
        keep = np.flatnonzero(learns)
        x, labels, weights = x[keep], np.asarray(labels)[keep], np.asarray(weights)[keep]
    clf = _fit_scores(x, labels, weights, params)
    return _Fitted(
        vec, words, word_idf, clf, params.word_weight, head, params.head_length, params.head_weight
    )


def _fit_scores(x: Any, labels: Any, weights: Any, params: TrainParams) -> _LinearScores:
    """The linear scores on a feature matrix: SVM, NB-SVM or their blend (``nb_mix``)."""
    sw = np.asarray(weights, dtype=np.float64)
    mix = params.nb_mix if params.nb_alpha > 0 else 0.0
    fits: list[tuple[float, _LinearScores]] = []
    if mix < 1:
        svc = LinearSVC(C=params.c, random_state=params.seed, class_weight=params.class_weight)
        svc.fit(x, list(labels), sample_weight=sw)
        fits.append((1 - mix, _LinearScores(np.asarray(svc.classes_), svc.coef_, svc.intercept_)))
    if mix > 0:
        fits.append((mix, _fit_nbsvm(x, np.asarray(labels), sw, params)))
    return _blend(fits, x) if len(fits) > 1 else fits[0][1]


@dataclass(frozen=True, slots=True)
class _LinearScores:
    """One linear score per class: what the model file stores, whatever fitted it."""

    classes_: np.ndarray[Any, Any]
    coef_: np.ndarray[Any, Any]
    intercept_: np.ndarray[Any, Any]

    def decision_function(self, x: Any) -> np.ndarray[Any, Any]:
        scores: np.ndarray[Any, Any] = np.asarray(x @ self.coef_.T) + self.intercept_
        return scores

    def predict(self, x: Any) -> np.ndarray[Any, Any]:
        labels: np.ndarray[Any, Any] = self.classes_[self.decision_function(x).argmax(axis=1)]
        return labels

    def in_order(self, classes: Sequence[str]) -> _LinearScores:
        """The same scores with their classes in ``classes``' order (the model file's, the report's)."""
        order = [[str(c) for c in self.classes_].index(c) for c in classes]
        return _LinearScores(np.array(classes), self.coef_[order], self.intercept_[order])


def _blend(fits: Sequence[tuple[float, _LinearScores]], x: Any) -> _LinearScores:
    """Weighted sum of linear scorers over the same classes, each divided by the spread of its
    scores on ``x`` (so the weights mean what they say); the temperature is fitted afterwards."""
    classes = fits[0][1].classes_
    coef = np.zeros_like(fits[0][1].coef_, dtype=np.float64)
    intercept = np.zeros(len(classes))
    for weight, f in fits:
        if list(f.classes_) != list(classes):
            raise ValueError("blended scorers must have the same classes in the same order")
        scale = weight / float(np.std(f.decision_function(x)))
        coef += scale * f.coef_
        intercept += scale * f.intercept_
    return _LinearScores(classes, coef, intercept)


def _fit_nbsvm(
    x: Any, labels: np.ndarray[Any, Any], weights: np.ndarray[Any, Any], params: TrainParams
) -> _LinearScores:
    """One-vs-rest SVMs on naive-Bayes-scaled features, folded back into plain linear scores."""
    present = (x > 0).astype(np.float64)
    classes = np.array(sorted(set(labels.tolist())))
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.zeros(len(classes))
    for k, label in enumerate(classes):
        pos = labels == label
        p = np.asarray(present[pos].sum(axis=0)).ravel() + params.nb_alpha
        q = np.asarray(present[~pos].sum(axis=0)).ravel() + params.nb_alpha
        ratio = np.log((p / p.sum()) / (q / q.sum()))
        svc = LinearSVC(C=params.c, random_state=params.seed, class_weight=params.class_weight)
        svc.fit(x @ sp.diags(ratio), pos.astype(int), sample_weight=weights)
        coef[k] = svc.coef_.ravel() * ratio
        intercept[k] = svc.intercept_[0]
    return _LinearScores(classes, coef, intercept)


def _terms(vec: TfidfVectorizer) -> list[str]:
    vocab: dict[str, int] = vec.vocabulary_
    terms = [""] * len(vocab)
    for t, i in vocab.items():
        terms[i] = t
    return terms


def _to_model(f: _Fitted, meta: ModelMeta, hotline: _LinearScores | None = None) -> TextModel:
    board = f.clf.in_order(meta.classes)
    return TextModel(
        meta,
        _terms(f.vec),
        np.asarray(f.vec.idf_, dtype=np.float32),
        np.asarray(board.coef_, dtype=np.float32),
        np.asarray(board.intercept_, dtype=np.float32),
        words=f.words,
        word_idf=f.word_idf,
        head_terms=_terms(f.head) if f.head is not None else (),
        head_idf=np.asarray(f.head.idf_, dtype=np.float32) if f.head is not None else None,
        hotline_coef=np.asarray(hotline.coef_, dtype=np.float32) if hotline else None,
        hotline_intercept=np.asarray(hotline.intercept_, dtype=np.float32) if hotline else None,
    )


def _fit_temperature(scores: np.ndarray[Any, Any], gold_idx: np.ndarray[Any, Any]) -> float:
    """The softmax temperature minimising the negative log-likelihood of out-of-fold scores."""

    def nll(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(z)), gold_idx]))

    res = minimize_scalar(nll, bounds=(math.log(0.01), math.log(10.0)), method="bounded")
    return math.exp(float(res.x))


def train(
    data_dir: Path,
    out_dir: Path,
    extra: Sequence[LabelledExample] = (),
    params: TrainParams | None = None,
    tickets_dir: Path = TRAINING_TICKETS_DIR,
) -> TrainReport:
    """Train the model on the shared training files (board scorer) and, unless ``hotline_weight`` is
    0, the hotline scorer on those plus the tickets in ``tickets_dir`` and ``extra`` (stored labels);
    write it to ``out_dir``."""
    p = params or TrainParams()
    started = time.perf_counter()
    rows = load_training_texts(data_dir, p)
    hotline = [*load_hotline_tickets(tickets_dir), *extra] if p.hotline_weight > 0 else []
    if len(hotline) < MIN_HOTLINE_TICKETS:  # too few for a scorer of their own (and its calibration)
        hotline = []
    for ex in () if hotline else extra:
        if ex.domain is not Domain.OTHER:
            rows.add(ex.text, ex.domain.value, full=True, weight=ex.weight)
    texts, labels, full, weights = rows.texts, rows.labels, rows.full, rows.weights
    y = np.array(labels)
    w = np.array(weights)
    tx = np.array(texts, dtype=object)
    # without a hotline scorer the board scorer decides phone tickets too: then it learns everything
    learns = np.array(rows.board if hotline and not p.board_learns_lexicon else [True] * len(texts))
    toks = [raw_words(t) for t in texts] if p.word_weight > 0 else [[] for _ in texts]

    def fit(idx: np.ndarray[Any, Any]) -> _Fitted:
        return _fit(tx[idx], [toks[i] for i in idx], y[idx], w[idx], p, learns[idx])

    # validation: a stratified share of the full messages; their title rows stay out of training too
    full_idx = np.flatnonzero(full)
    _, val_idx = train_test_split(
        full_idx, test_size=p.validation_size, stratify=y[full_idx], random_state=p.seed
    )
    val_set = set(val_idx.tolist())
    val_texts = {texts[i] for i in val_idx}
    fit_idx = np.array([i for i in range(len(texts)) if i not in val_set and texts[i] not in val_texts])
    fit_idx = _drop_titles_of(fit_idx, val_idx, texts)
    fitted = fit(fit_idx)
    val_pred = fitted.clf.predict(fitted.features(list(tx[val_idx])))
    validation = score("validation split", y[val_idx].tolist(), [str(v) for v in val_pred])

    # temperature: out-of-fold scores on the full messages
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=p.seed)
    oof_scores = np.zeros((len(full_idx), len(MODEL_DOMAINS)))
    gold = np.array([MODEL_DOMAINS.index(lbl) for lbl in y[full_idx]])
    for _tr_pos, te_pos in skf.split(full_idx, y[full_idx]):
        te = full_idx[te_pos]
        tr = np.setdiff1d(np.arange(len(texts)), te)
        tr = _drop_titles_of(tr, te, texts)
        f = fit(tr)
        oof_scores[te_pos] = f.clf.in_order(MODEL_DOMAINS).decision_function(f.features(list(tx[te])))
    temperature = _fit_temperature(oof_scores, gold)
    oof_pred = [MODEL_DOMAINS[i] for i in oof_scores.argmax(axis=1)]
    cv = score("5-fold out-of-fold (full messages)", y[full_idx].tolist(), oof_pred)

    fitted = fit(np.arange(len(texts)))
    metrics = {"validation": validation.to_dict(), "cv": cv.to_dict()}
    hot: _HotlineScorer | None = None
    if hotline:
        hot = _fit_hotline(fitted, rows, hotline, p)
        metrics["hotline_cv"] = hot.cv.to_dict()
    trained_at = datetime.now(UTC)
    hot_rows = [(ex.text, ex.domain.value, ex.weight) for ex in hotline]
    digest = hashlib.sha1(
        json.dumps([texts, labels, weights, hot_rows, repr(p)], ensure_ascii=False).encode()
    ).hexdigest()[:8]
    version = f"domain-v2-{trained_at:%Y%m%d}-{digest}"
    meta = ModelMeta(
        version=version,
        classes=MODEL_DOMAINS,
        ngram_min=p.ngram_min,
        ngram_max=p.ngram_max,
        temperature=temperature,
        trained_at=trained_at.isoformat(timespec="seconds"),
        word_weight=p.word_weight,
        head_length=p.head_length,
        head_weight=p.head_weight,
        hotline_classes=hot.classes if hot else (),
        hotline_temperature=hot.temperature if hot else 1.0,
        metrics=metrics,
        params={**asdict(p), "n_train": len(texts), "n_extra": len(extra), "n_hotline": len(hotline)},
    )
    model = _to_model(fitted, meta, hot.scores if hot else None)
    path = model.save(out_dir / version)
    return TrainReport(
        version=version,
        model_file=path,
        n_train=len(texts),
        n_features=len(model.terms) + len(model.words) + len(model.head_terms),
        temperature=temperature,
        validation=EvalReport(
            validation.name,
            validation.n,
            validation.accuracy,
            validation.macro_f1,
            validation.per_class_f1,
            validation.labels,
            validation.confusion,
            {
                "cv_accuracy": round(cv.accuracy, 4),
                "cv_macro_f1": round(cv.macro_f1, 4),
                **(
                    {
                        "hotline_tickets": len(hotline),
                        "hotline_cv_accuracy": round(hot.cv.accuracy, 4),
                        "hotline_cv_macro_f1": round(hot.cv.macro_f1, 4),
                        "hotline_cv_transport_vs_not": hot.cv.extra["transport_vs_not_accuracy"],
                    }
                    if hot
                    else {}
                ),
            },
        ),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True, slots=True)
class _HotlineScorer:
    scores: _LinearScores  # classes in Domain order
    temperature: float
    cv: EvalReport

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.scores.classes_)


def _fit_hotline(
    fitted: _Fitted, rows: TrainingRows, tickets: Sequence[LabelledExample], p: TrainParams
) -> _HotlineScorer:
    """The hotline scorer over the board model's features: the training rows (less the board
    messages of :func:`hotline_skips`) plus labelled tickets (× ``hotline_weight``), 其他 a class of
    its own. Temperature and the reported accuracy come from 5-fold out-of-fold scores on the
    tickets (the board rows are in every fold's training)."""
    keep = np.flatnonzero(~hotline_skips(rows, p))
    texts = [rows.texts[i] for i in keep]
    labels = [rows.labels[i] for i in keep]
    weights = [rows.weights[i] for i in keep]
    x_board = fitted.features(texts)
    x_hot = fitted.features([ex.text for ex in tickets])
    y_hot = np.array([ex.domain.value for ex in tickets])
    w_hot = np.array([ex.weight * p.hotline_weight for ex in tickets])
    classes = tuple(d.value for d in Domain if d.value in set(labels) | set(y_hot.tolist()))

    def fit(idx: np.ndarray[Any, Any]) -> _LinearScores:
        x = sp.vstack([x_board, x_hot[idx]], format="csr")
        y = np.concatenate([np.asarray(labels), y_hot[idx]])
        return _fit_scores(x, y, np.concatenate([np.asarray(weights), w_hot[idx]]), p)

    oof = np.zeros((len(tickets), len(classes)))
    folds = KFold(n_splits=min(5, len(tickets)), shuffle=True, random_state=p.seed)
    for tr, te in folds.split(x_hot):
        oof[te] = fit(tr).in_order(classes).decision_function(x_hot[te])
    gold = np.array([classes.index(v) for v in y_hot])
    pred = [classes[i] for i in oof.argmax(axis=1)]
    cv = score(
        "hotline tickets, 5-fold out-of-fold",
        y_hot.tolist(),
        pred,
        {"transport_vs_not_accuracy": transport_vs_not(y_hot.tolist(), pred)},
    )
    scores = fit(np.arange(len(tickets))).in_order(classes)
    return _HotlineScorer(scores, _fit_temperature(oof, gold), cv)


def hotline_skips(rows: TrainingRows, p: TrainParams) -> np.ndarray[Any, Any]:
    """Which training rows the hotline scorer skips: board messages where the board's taxonomy
    and the hotline's disagree (``hotline_skip_words`` × ``hotline_skip_labels``)."""
    words = [model_text(w) for w in p.hotline_skip_words]
    labels = set(p.hotline_skip_labels)
    return np.array(
        [
            board and label in labels and any(w in model_text(text) for w in words)
            for text, label, board in zip(rows.texts, rows.labels, rows.board, strict=True)
        ],
        dtype=bool,
    )


def _drop_titles_of(
    idx: np.ndarray[Any, Any], held: np.ndarray[Any, Any], texts: Sequence[str]
) -> np.ndarray[Any, Any]:
    """Keep title-only rows of held-out messages out of training (a title is a prefix of its text)."""
    held_texts = [texts[i] for i in held]
    held_prefixes = {t[:12] for t in held_texts}
    return np.array([i for i in idx if not (len(texts[i]) < 80 and texts[i][:12] in held_prefixes)])


# -- evaluation through the service path -------------------------------------------------------------


def holdout_tickets(data_dir: Path) -> tuple[list[TicketText], list[str]]:
    """The holdout messages as what they are: citizens' own texts to the city's web message board,
    i.e. 12345 tickets from the ``web`` channel."""
    rows = _read_csv(data_dir / HOLDOUT_FILE)
    tickets = [TicketText(hotline=Hotline.H12345, content=r["text"], channel=Channel.WEB) for r in rows]
    return tickets, [r["label"] for r in rows]


def evaluate_holdout(classifier: Classifier, data_dir: Path) -> EvalReport:
    """Score the holdout file through ``classifier.classify_many`` (exactly the service's path)."""
    tickets, gold = holdout_tickets(data_dir)
    results = classifier.classify_many(tickets)
    pred = [c.domain.value for c in results]
    return score(
        f"holdout ({classifier.version})",
        gold,
        pred,
        {
            "transport_vs_not_accuracy": transport_vs_not(gold, pred),
            "predicted_other": pred.count(Domain.OTHER.value),
        },
    )


def evaluate(data_dir: Path, model_dir: Path, config_dir: Path | None = None) -> EvalReport:
    """Load the newest model in ``model_dir`` with the lexicon of ``config_dir`` and score the holdout."""
    from router.classify import build_classifier_with_model, latest_model_file

    model_file = latest_model_file(model_dir)
    classifier = build_classifier_with_model(config_dir, model_file)
    return evaluate_holdout(classifier, data_dir)


def bench_classify(classifier: Classifier, n: int = 5000, batch: int = 200) -> float:
    """Tickets per second through ``classify_many`` on synthetic 50–300-character hotline tickets."""
    from router.classify.samples import synthetic_tickets

    tickets = synthetic_tickets(n)
    classifier.classify_many(tickets[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(0, n, batch):
        classifier.classify_many(tickets[i : i + batch])
    return n / (time.perf_counter() - started)
