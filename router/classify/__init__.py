"""The production classifier (DESIGN §5): a trained domain model fused with the operator's lexicon.

``build_classifier(config_dir)`` is what the service, the CLI and ``bench`` call; ``training``
holds ``train``/``evaluate``/``evaluate_holdout``/``bench_classify``.
"""

from __future__ import annotations

from pathlib import Path

from config.classifier import ClassifierConfigError, load_classifier_config
from config.settings import PACKAGED_CONFIG_DIR
from router.classify.classifier import AreaResolverLike, HotlineClassifier, NoAreas
from router.classify.model import ModelFileError, TextModel

__all__ = [
    "AreaResolverLike",
    "ClassifierConfigError",
    "HotlineClassifier",
    "ModelFileError",
    "build_classifier",
    "build_classifier_with_model",
    "latest_model_file",
]


def _default_areas(config_dir: Path) -> AreaResolverLike:
    try:
        from router.areas import AreaResolver
    except ImportError:
        return NoAreas()
    resolver: AreaResolverLike = AreaResolver.from_config(config_dir)
    return resolver


def build_classifier(
    config_dir: Path = PACKAGED_CONFIG_DIR, *, areas: AreaResolverLike | None = None
) -> HotlineClassifier:
    """Load ``classifier.yaml`` and its model file from ``config_dir``; the only I/O of this package.

    Raises ``ClassifierConfigError`` / ``ModelFileError`` naming the file and what is wrong.
    """
    config = load_classifier_config(config_dir)
    model_file = config.resolve_model_file(config_dir)
    if not model_file.is_file():
        raise ModelFileError(model_file, "model file not found (run `hotline-router train`)")
    model = TextModel.load(model_file)
    return HotlineClassifier(config, model, areas if areas is not None else _default_areas(config_dir))


def build_classifier_with_model(
    config_dir: Path | None, model_file: Path, *, areas: AreaResolverLike | None = None
) -> HotlineClassifier:
    """Like :func:`build_classifier` but with an explicit model file (``evaluate`` of a new model)."""
    cdir = config_dir or PACKAGED_CONFIG_DIR
    config = load_classifier_config(cdir)
    return HotlineClassifier(config, TextModel.load(model_file), areas if areas is not None else NoAreas())


def latest_model_file(model_dir: Path) -> Path:
    """The most recently written ``domain-v*.npz`` in ``model_dir``."""
    files = sorted(model_dir.glob("domain-v*.npz"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise ModelFileError(model_dir, "no domain-v*.npz model in this directory")
    return files[-1]
