"""The Jupyter server extension: the REST API of the JupyterLab wizard, under `/eopde/`.

Thin on purpose: each handler checks its request and calls the library functions the CLI uses
(`eopde.apppkg`). Enabled by `jupyter-config/jupyter_server_config.d/eopde.json`, which the
distribution installs into `etc/jupyter/jupyter_server_config.d/`."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "eopde.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import setup_handlers

    setup_handlers(serverapp.web_app)
    serverapp.log.info("eopde server extension loaded (routes under /eopde/)")
