"""``train`` on a small slice of the shared data: the file it writes is what the service loads, the
service computes exactly the features the trainer fitted (chars ⊕ words ⊕ head), and extra labels
(triage decisions, 职能不符 returns) are learnt."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from router.classify.model import BOARD, HOTLINE, ModelMeta, TextModel, model_text
from router.classify.training import (
    HOLDOUT_FILE,
    MODEL_DOMAINS,
    TOKENS_FILE,
    TRAIN_FILE,
    LabelledExample,
    TrainingRows,
    TrainParams,
    _fit,
    _fit_scores,
    _to_model,
    hotline_skips,
    load_hotline_tickets,
    load_training_texts,
    raw_words,
    train,
)
from schemas.v1.vocab import Domain

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="needs ../shared/data next to the repository"
)

#: small and quick, but every feature block switched on
PARAMS = TrainParams(synthetic_per_domain=20, keyword_examples=False, head_length=30, head_weight=0.5)


def _slice(src: Path, dst: Path, name: str, n: int) -> None:
    with (src / name).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_label: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    keep = [r for group in by_label.values() for r in group[:n]]
    with (dst / name).open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("data")
    _slice(SHARED_DATA, d, TRAIN_FILE, 40)
    _slice(SHARED_DATA, d, TOKENS_FILE, 20)
    return d


def test_train_writes_a_model_the_service_loads(small_data: Path, tmp_path: Path) -> None:
    assert not (small_data / HOLDOUT_FILE).exists()  # train never needs the holdout
    extra = [LabelledExample("乘客反映网约车司机绕路多收费", Domain.TRANSPORT, 2.0)]
    report = train(small_data, tmp_path, extra=extra, params=PARAMS, tickets_dir=tmp_path / "none")
    assert report.model_file.is_file() and report.model_file.parent == tmp_path
    assert report.version.startswith("domain-v2-")
    assert 0.0 <= report.validation.macro_f1 <= 1.0
    model = TextModel.load(report.model_file)
    assert model.version == report.version
    assert model.meta.head_length == 30 and model.head_terms
    assert model.meta.params["n_extra"] == 1
    assert report.n_features == len(model.terms) + len(model.words) + len(model.head_terms)
    assert set(model.scorers) == {BOARD}  # one label is too few for a hotline scorer: it trains the board


def test_service_features_equal_training_features(small_data: Path) -> None:
    with (small_data / TRAIN_FILE).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = np.array([r["text"] for r in rows], dtype=object)
    labels = np.array([r["label"] for r in rows])
    fitted = _fit(texts, [raw_words(t) for t in texts], labels, np.ones(len(rows)), PARAMS)
    meta = ModelMeta(
        version="t",
        classes=MODEL_DOMAINS,
        ngram_min=1,
        ngram_max=3,
        temperature=1.0,
        trained_at="",
        word_weight=PARAMS.word_weight,
        head_length=PARAMS.head_length,
        head_weight=PARAMS.head_weight,
    )
    model = _to_model(fitted, meta)
    probe = [*texts[:20], "来电人反映：出租车司机拒载，要求处理", "短"]
    served = model.features([model_text(t) for t in probe]).toarray()
    trained = fitted.features(list(probe)).toarray()
    np.testing.assert_allclose(served, trained, rtol=1e-5, atol=1e-6)
    order = [list(fitted.clf.classes_).index(c) for c in MODEL_DOMAINS]
    np.testing.assert_allclose(
        model.decision(model.features([model_text(t) for t in probe])),
        fitted.decision_function(list(probe))[:, order],
        rtol=1e-2,
        atol=1e-2,  # coefficients are stored as float16
    )


def _slice_xy(small_data: Path) -> tuple[np.ndarray, np.ndarray]:
    with (small_data / TRAIN_FILE).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([r["text"] for r in rows], dtype=object), np.array([r["label"] for r in rows])


def test_nb_svm_and_blend_are_plain_linear_scores(small_data: Path) -> None:
    """NB-SVM scales features per domain; folded back, it is one linear score per domain like the
    plain SVM, and the blend of the two is too: the service needs no second code path."""
    texts, labels = _slice_xy(small_data)
    toks = [raw_words(t) for t in texts]
    w = np.ones(len(texts))
    fits = {mix: _fit(texts, toks, labels, w, replace(PARAMS, nb_mix=mix)).clf for mix in (0.0, 0.5, 1.0)}
    plain = _fit(texts, toks, labels, w, replace(PARAMS, nb_alpha=0.0)).clf
    np.testing.assert_allclose(fits[0.0].coef_, plain.coef_)  # mix 0 is the plain SVM
    for clf in fits.values():
        assert clf.coef_.shape == plain.coef_.shape
        assert list(clf.classes_) == sorted(set(labels.tolist()))
    assert not np.allclose(fits[1.0].coef_, plain.coef_)
    # the blend scores are a weighted sum of the two fits' scores
    x = _fit(texts, toks, labels, w, PARAMS).features(list(texts[:30]))
    s_plain, s_nb, s_mix = (fits[m].decision_function(x) for m in (0.0, 1.0, 0.5))
    a, b = np.linalg.lstsq(np.stack([s_plain.ravel(), s_nb.ravel()], axis=1), s_mix.ravel(), rcond=None)[0]
    np.testing.assert_allclose(a * s_plain + b * s_nb, s_mix, atol=1e-6)
    assert a > 0 and b > 0
    # and it learns: training texts are mostly scored right
    assert (fits[0.5].predict(x) == labels[:30]).mean() > 0.8


def test_board_scorer_learns_board_rows_only(small_data: Path) -> None:
    """Keyword and synthetic examples imitate phone tickets: they shape the vocabulary (and train the
    hotline scorer) but the board scorer, which decides web messages, learns the board rows only."""
    params = replace(PARAMS, keyword_examples=True)
    rows = load_training_texts(small_data, params)
    lexicon = [i for i, b in enumerate(rows.board) if not b]
    assert lexicon and lexicon == list(range(lexicon[0], len(rows.texts)))  # board rows come first
    assert not any(rows.full[i] for i in lexicon)
    n_board = lexicon[0]
    assert sum(rows.full) == len(_slice_xy(small_data)[0])  # every board message is a full row
    texts = np.array(rows.texts, dtype=object)
    labels = np.array(rows.labels)
    toks = [raw_words(t) for t in rows.texts]
    learns = np.array(rows.board)
    only_board = _fit(texts, toks, labels, rows.weights, params, learns)
    everything = _fit(texts, toks, labels, rows.weights, params)
    # same vocabulary (every row), different scores (fewer rows)
    assert only_board.vec.vocabulary_ == everything.vec.vocabulary_
    assert only_board.words == everything.words
    assert not np.allclose(only_board.clf.coef_, everything.clf.coef_)
    # the scores are those of the board rows alone, in that vocabulary
    x = everything.features(rows.texts[:n_board])
    again = _fit_scores(x, labels[:n_board], np.asarray(rows.weights[:n_board]), params)
    np.testing.assert_allclose(only_board.clf.coef_, again.coef_, atol=1e-8)


def test_hotline_scorer_skips_board_messages_in_the_board_taxonomy() -> None:
    """The board files put bus and metro matters under 城乡建设 and coach fares under 商贸旅游; the
    hotline taxonomy has them as transport, so the hotline scorer does not learn those rows."""
    rows = TrainingRows()
    rows.add("312路公交车票价上涨，老人卡不能用", "城乡建设", full=True)  # skipped
    rows.add("县城至低庄 客车 乱收费", "商贸旅游", full=False)  # tokens row: skipped too
    rows.add("公交车司机拖欠工资三个月", "劳动和社会保障", full=True)  # wages: the same in both
    rows.add("地铁站出口太少，建议增设", "交通运输", full=True)  # already transport
    rows.add("小区物业乱收费", "城乡建设", full=True)  # no transport word
    rows.add("公交站台", "城乡建设", full=False, board=False)  # a lexicon example, not a board row
    assert hotline_skips(rows, TrainParams()).tolist() == [True, True, False, False, False, False]
    assert not hotline_skips(rows, TrainParams(hotline_skip_words=())).any()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 17 tickets × weight 3
def test_hotline_scorer_learns_other_from_tickets(small_data: Path, tmp_path: Path) -> None:
    """Labelled hotline tickets (and stored labels, 其他 included) train a second scorer over the same
    features; the board scorer is the one trained without them."""
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    other = [
        {"content": f"来电人身份证丢失第{i}次，派出所要求本人到场补办", "domain": "其他"} for i in range(8)
    ]
    taxi = [{"content": f"乘客反映出租车司机拒载第{i}次", "domain": "交通运输"} for i in range(8)]
    rows = other + taxi
    (tickets / "set.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    extra = [LabelledExample("来电人称接到诈骗电话，要求报警", Domain.OTHER)]
    report = train(small_data, tmp_path / "out", extra=extra, params=PARAMS, tickets_dir=tickets)
    model = TextModel.load(report.model_file)
    assert set(model.scorers) == {BOARD, HOTLINE}
    assert "其他" in model.scorers[HOTLINE].classes and "其他" not in model.scorers[BOARD].classes
    assert model.meta.params["n_hotline"] == 17
    assert report.validation.extra["hotline_tickets"] == 17
    x = model.features([model_text("来电人反映身份证丢失，派出所要求其本人到场补办")])
    logp = model.log_proba(model.decision(x, HOTLINE), scorer=HOTLINE)[0]
    assert model.scorers[HOTLINE].classes[int(np.argmax(logp))] == "其他"
    # without tickets or labels there is no hotline scorer, and stored labels go to the board model
    plain = train(small_data, tmp_path / "plain", params=replace(PARAMS, hotline_weight=0.0))
    assert set(TextModel.load(plain.model_file).scorers) == {BOARD}


def test_bad_training_ticket_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"content": "x", "domain": "火星"}\n', "utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_hotline_tickets(tmp_path)
