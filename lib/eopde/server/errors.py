"""The one error type of the REST API: a 4xx with a JSON body saying what was wrong and how to
fix it. Messages never carry file contents or server paths."""

from __future__ import annotations

from typing import Any


class RequestError(Exception):
    """Bad input: `status` (4xx), `message` (what and how to fix), optional `field` (the wizard's
    field it belongs to) and more JSON-able details."""

    def __init__(self, status: int, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


def scrub(text: str, paths: dict[str, str]) -> str:
    """`text` with each server path replaced by what the user may see (longest first)."""
    for path in sorted(paths, key=len, reverse=True):
        if path:
            text = text.replace(path, paths[path])
    return text
