"""Client of OGC API - Processes servers (ADES): EOEPCA's zoo-project-dru ADES and eopde's local
ADES. Deploy application packages, execute them, follow jobs, read their STAC results.

    from eopde.ades import Client
    ades = Client()
    ades.deploy("ndvi-package/")
    job = ades.execute("ndvi", {"scene": item})
    job.wait()
    job.results().items()

Importing this package is light: httpx, pystac and boto3 are imported when first used.
"""

from __future__ import annotations

from typing import Any

from .errors import (ADESConnectionError, DuplicateProcess, ImmutableProcess, InputsUnavailable,
                     InvalidInput, JobDismissed, JobError, JobFailed, JobTimeout, NoSuchJob,
                     NoSuchProcess, ProcessesError, ResultNotReady, Unauthorized)

_LAZY = {
    "Client": "client", "ProcessSummary": "client", "to_input_value": "client",
    "Job": "jobs", "JobStatus": "jobs", "JobInputs": "jobs",
    "JobResults": "results", "S3StacIO": "results",
}

__all__ = [
    "Client", "ProcessSummary", "Job", "JobStatus", "JobInputs", "JobResults", "S3StacIO",
    "to_input_value", "ProcessesError", "NoSuchProcess", "NoSuchJob", "DuplicateProcess",
    "ImmutableProcess", "ResultNotReady", "InputsUnavailable", "InvalidInput", "Unauthorized",
    "ADESConnectionError", "JobError", "JobFailed", "JobDismissed", "JobTimeout",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
