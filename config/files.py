"""Reading the operator's YAML files with errors that name the file and what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, what: str, error: Callable[[str], Exception]) -> Any:
    """Parse ``path``; an unreadable file or invalid YAML raises ``error(message)``."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
