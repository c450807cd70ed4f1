"""Decide whether a new JSON Schema of an event's `data` can replace the published one in place.

Consumers are tolerant readers: they ignore fields they do not know. So a change is compatible
when every published field is still there with the same meaning and nothing new is demanded:
- a field removed or renamed breaks consumers that read it;
- a field retyped (any change to its schema other than its description) breaks them too,
  including a widened enum, which a consumer switching on the old values cannot handle;
- a new required field, or an optional field made required, breaks producers' old events;
- a required field made optional breaks consumers that rely on it being there.
Adding an optional field is the one change that needs no new version.
"""

from __future__ import annotations

from typing import Any

_COSMETIC = {"description", "title", "examples"}


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    """Inline `$ref`s and drop cosmetic keys, so two schemas compare by meaning."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _resolve(defs[name], defs)
        return {k: _resolve(v, defs) for k, v in schema.items() if k not in _COSMETIC}
    if isinstance(schema, list):
        return [_resolve(item, defs) for item in schema]
    return schema


def incompatibilities(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every reason `current` cannot replace `published` without a new version (empty if it can)."""
    old_props = published.get("properties", {})
    new_props = current.get("properties", {})
    old_required = set(published.get("required", []))
    new_required = set(current.get("required", []))
    old_defs = published.get("$defs", {})
    new_defs = current.get("$defs", {})

    problems: list[str] = []
    for name, old in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} was removed or renamed")
        elif _resolve(old, old_defs) != _resolve(new_props[name], new_defs):
            problems.append(f"field {name!r} changed type or constraints")
    for name in sorted(new_required - old_required):
        problems.append(f"field {name!r} is newly required")
    for name in sorted(old_required - new_required):
        if name in new_props:
            problems.append(f"field {name!r} is no longer required")
    return problems
