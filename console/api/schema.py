"""OpenAPI post-processing: document the JSON errors every endpoint can answer.

The API's errors are JSON ``{"message": ..., "errors": {...}}`` (console.api.errors);
drf-spectacular only documents the success. Found by schemathesis (an undocumented
404 on /api/v1/<resource>/{id})."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["message"],
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _error("Bad request (e.g. a NUL character in a filter)"))
            responses.setdefault("401", _error("Not logged in / invalid token"))
            responses.setdefault("403", _error("Logged in without the viewer role"))
            if "{" in path:
                responses.setdefault("404", _error("No such object"))
            responses.setdefault("503", _error("The database is unavailable; retry"))
    return result
