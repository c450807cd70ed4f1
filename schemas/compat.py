"""Decide whether a new JSON Schema of an event's `data` can replace the published one in place.

Consumers are tolerant readers: they ignore fields they do not know. So a change is compatible
when every published field is still there with the same meaning and nothing new is demanded:
- a field removed or renamed breaks consumers that read it;
- a field retyped (any change to its schema other than its description) breaks them too,
  including a widened enum, which a consumer switching on the old values cannot handle;
- a new required field, or an optional field made required, breaks producers' old events;
- a required field made optional breaks consumers that rely on it being there.
Adding an optional field is the one change that needs no new version, at any depth: the same
rules apply inside nested objects (a `$ref` to a sub-model, list items, `anyOf` branches).
"""

from __future__ import annotations

from typing import Any

_COSMETIC = {"description", "title", "examples"}
_NESTED = ("properties", "required", "items", "anyOf", "oneOf", "allOf", "$defs")


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


def _compare(where: str, old: Any, new: Any) -> list[str]:
    """Reasons `new` cannot replace `old` (both resolved), naming the field path."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"field {where!r} changed type or constraints"]
    problems: list[str] = []
    if {k: v for k, v in old.items() if k not in _NESTED} != {
        k: v for k, v in new.items() if k not in _NESTED
    }:
        problems.append(f"field {where!r} changed type or constraints")
    if "properties" in old or "properties" in new:
        problems += _fields(where, old, new)
    for key in ("items",):
        if key in old or key in new:
            problems += _compare(f"{where}[]", old.get(key), new.get(key))
    for key in ("anyOf", "oneOf", "allOf"):
        branches_old, branches_new = old.get(key), new.get(key)
        if branches_old is None and branches_new is None:
            continue
        if branches_old is None or branches_new is None or len(branches_old) != len(branches_new):
            problems.append(f"field {where!r} changed type or constraints")
            continue
        for old_branch, new_branch in zip(branches_old, branches_new, strict=True):
            problems += _compare(where, old_branch, new_branch)
    return list(dict.fromkeys(problems))


def _fields(prefix: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    problems: list[str] = []
    for name, schema in old_props.items():
        path = f"{prefix}.{name}" if prefix else name
        if name not in new_props:
            problems.append(f"field {path!r} was removed or renamed")
        else:
            problems += _compare(path, schema, new_props[name])
    for name in sorted(new_required - old_required):
        problems.append(f"field {(f'{prefix}.{name}' if prefix else name)!r} is newly required")
    for name in sorted(old_required - new_required):
        if name in new_props:
            path = f"{prefix}.{name}" if prefix else name
            problems.append(f"field {path!r} is no longer required")
    return problems


def incompatibilities(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every reason `current` cannot replace `published` without a new version (empty if it can)."""
    old = _resolve({k: v for k, v in published.items() if k != "$defs"}, published.get("$defs", {}))
    new = _resolve({k: v for k, v in current.items() if k != "$defs"}, current.get("$defs", {}))
    # The document's own identity (`$id`) and the model's extra-field policy are not data.
    for schema in (old, new):
        schema.pop("$id", None)
    return _fields("", old, new)
