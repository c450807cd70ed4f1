"""Write the JSON Schema of the envelope and of every event's `data` to `schemas/jsonschema/`.

Snapshots are per version (`<type>.v<N>.json`), and a published version's file is its contract:
`python -m schemas.export` writes a version's file when it is missing, and rewrites an existing
one only when the model is compatible with what was published (descriptions, or new optional
fields: `schemas.compat`). Any other change is refused, with the reasons, and nothing is
written: it needs a new version of the event (bump `version`, add a `.v2` topic), never an
in-place edit. "What was published" is the snapshot as its version was published, read from
git history (`first_published`), so neither regenerating, nor editing, nor deleting the file
and writing it again can launder a breaking change; and the file on disk.
`--check` only reports snapshots that are missing, out of date or refused.

Also the typed envelopes the AsyncAPI documents show: per event type, the CloudEvent with its
`type` fixed and its `data` the event's model (`typed_envelope`, `described_only`).
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model

from schemas.base import EventData
from schemas.compat import incompatibilities
from schemas.envelope import CloudEvent
from schemas.topics import EVENT_MODELS

SNAPSHOT_DIR = Path(__file__).parent / "jsonschema"
ENVELOPE_FILE = "cloudevent.json"


def snapshot_path(model: type[EventData], directory: Path = SNAPSHOT_DIR) -> Path:
    return directory / f"{model.event_type}.v{model.version}.json"


def event_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$id"] = f"urn:work-brokerage:event:{model.event_type}:v{model.version}"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files(
    models: Iterable[type[EventData]] | None = None, directory: Path = SNAPSHOT_DIR
) -> dict[Path, str]:
    files = {directory / ENVELOPE_FILE: render(CloudEvent.model_json_schema())}
    for model in EVENT_MODELS.values() if models is None else models:
        files[snapshot_path(model, directory)] = render(event_schema(model))
    return files


# The commit at which every snapshot then in `schemas/jsonschema/` became a published contract
# (earlier history holds drafts, edited in place before anything outside relied on them).
PUBLISHED_AT = "92c9c5cd1152ffc0849b625d68aa51870aa3928b"


def _git(root: Path, *args: str) -> str:
    # git from PATH with fixed arguments: only paths of our own snapshot files vary.
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def first_published(path: Path) -> str | None:
    """The snapshot's text when its version was published: as it was at `PUBLISHED_AT`, or, for
    a version added since, as first committed. None when git or that history is not available
    (a tarball, a shallow clone) or the file was never committed."""
    try:
        start = path.parent if path.parent.exists() else Path(__file__).parent
        root = Path(_git(start, "rev-parse", "--show-toplevel").strip()).resolve()
        relative = str(path.resolve().relative_to(root))
        try:
            return _git(root, "show", f"{PUBLISHED_AT}:{relative}")
        except subprocess.CalledProcessError:
            pass
        added = _git(
            root, "log", "--diff-filter=A", "--format=%H", f"{PUBLISHED_AT}..HEAD", "--", relative
        ).split()
        return _git(root, "show", f"{added[-1]}:{relative}") if added else None
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None


def published(path: Path) -> list[dict[str, Any]]:
    """Every published text of this snapshot a new schema must stay compatible with: the one
    first committed and the one on disk (which may have gained optional fields since)."""
    texts = [first_published(path), path.read_text() if path.exists() else None]
    return [json.loads(t) for t in dict.fromkeys(texts) if t]


def refusals(files: Mapping[Path, str]) -> dict[Path, list[str]]:
    """For each file whose new text may not replace its published version, the reasons."""
    refused: dict[Path, list[str]] = {}
    for path, text in files.items():
        new = json.loads(text)
        problems = [p for old in published(path) for p in incompatibilities(old, new)]
        if problems:
            refused[path] = list(dict.fromkeys(problems))
    return refused


def write_snapshots(files: Mapping[Path, str]) -> tuple[list[Path], dict[Path, list[str]]]:
    """Write what may be written; (written, refused with reasons). Nothing refused is touched."""
    refused = refusals(files)
    written = []
    for path, text in files.items():
        if path in refused or (path.exists() and path.read_text() == text):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written, refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="report stale snapshots, write none")
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        refused = refusals(files)
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"{'refused' if path in refused else 'stale'}: {path}")
        return 1 if stale else 0
    written, refused = write_snapshots(files)
    for path, problems in refused.items():
        print(f"refused: {path.name}: {'; '.join(problems)}", file=sys.stderr)
    print(f"wrote {len(written)} of {len(files)} schemas to {SNAPSHOT_DIR}")
    if refused:
        print(
            "A published version's schema changes only by new optional fields: publish a new "
            "version (bump `version`, add a `.v2` topic) instead.",
            file=sys.stderr,
        )
        return 1
    return 0


# --- typed envelopes for the AsyncAPI documents --------------------------------------------


@functools.cache
def typed_envelope(event_type: str) -> type[CloudEvent]:
    """The CloudEvent of one event type, `data` being that event's model."""
    model = EVENT_MODELS[event_type]
    name = "".join(p.capitalize() for p in event_type.replace("-", ".").split(".")) + "Event"
    return create_model(  # type: ignore[call-overload,no-any-return]
        name,
        __base__=CloudEvent,
        __doc__=f"`{event_type}` v{model.version}: {(model.__doc__ or '').strip()}",
        type=(Literal[event_type], ...),  # type: ignore[valid-type]
        data=(model, ...),
    )


def envelope_union(event_types: Iterable[str]) -> Any:
    """One message schema for a channel: the typed envelopes, told apart by `type`."""
    envelopes = tuple(typed_envelope(t) for t in sorted(event_types))
    if len(envelopes) == 1:
        return envelopes[0]
    return Annotated[Union[envelopes], Field(discriminator="type")]  # noqa: UP007


def described_only(event_types: Iterable[str]) -> Callable[[Any], Awaitable[None]]:
    """A subscriber stand-in whose body type documents the consumed events' envelopes; records
    are consumed by `runtime.consumer.EventConsumer`, never by this function."""

    async def described_only(body: Any) -> None:
        """The consumer's entry in the AsyncAPI document."""

    described_only.__annotations__ = {"body": envelope_union(event_types), "return": None}
    return described_only


if __name__ == "__main__":
    sys.exit(main())
