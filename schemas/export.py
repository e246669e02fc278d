"""Export the v1 message models as JSON Schema files (``python -m schemas.export docs/schemas``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.v1 import dispatch, events, feedback, intake

MODELS: dict[str, Any] = {
    "intake.v1.json": intake.IntakeTicket,
    "dispatch.v1.json": dispatch.DispatchMessage,
    "transfer.v1.json": dispatch.TransferMessage,
    "event.v1.json": events.Event,
    "feedback.signed.v1.json": feedback.Signed,
    "feedback.replied.v1.json": feedback.Replied,
    "feedback.returned.v1.json": feedback.Returned,
    "feedback.extension.v1.json": feedback.ExtensionRequest,
    "feedback.progress.v1.json": feedback.Progress,
    "feedback.callback.v1.json": feedback.AgentCallback,
    "feedback.triage.v1.json": feedback.AgentTriage,
}


def schemas() -> dict[str, str]:
    """File name → JSON Schema text (stable, sorted keys, UTF-8)."""
    return {
        name: json.dumps(
            TypeAdapter(model).json_schema(by_alias=True), ensure_ascii=False, indent=2, sort_keys=True
        )
        + "\n"
        for name, model in MODELS.items()
    }


def export(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schemas().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in export(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(p)
