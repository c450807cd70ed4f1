"""Write the JSON Schema of the envelope and of every event's `data` to `schemas/jsonschema/`.

Run `python -m schemas.export` after changing an event model and commit the result; with
`--check` it only reports snapshots that are missing or out of date (CI uses the test instead).
Snapshots are per version (`<type>.v<N>.json`): a published version's file is its contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from schemas.base import EventData
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS

SNAPSHOT_DIR = Path(__file__).parent / "jsonschema"


def snapshot_path(model: type[EventData]) -> Path:
    return SNAPSHOT_DIR / f"{model.event_type}.v{model.version}.json"


def event_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$id"] = f"urn:work-brokerage:event:{model.event_type}:v{model.version}"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    files = {SNAPSHOT_DIR / "cloudevent.json": render(CloudEvent.model_json_schema())}
    for model in EVENT_MODELS.values():
        files[snapshot_path(model)] = render(event_schema(model))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report stale snapshots, write none")
    args = parser.parse_args(argv)
    stale = [p for p, text in expected_files().items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path}")
        return 1 if stale else 0
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text)
    print(f"wrote {len(expected_files())} schemas to {SNAPSHOT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
