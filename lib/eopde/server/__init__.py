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
    _setup_panels(serverapp.web_app, serverapp.config)
    serverapp.log.info("eopde server extension loaded (routes under /eopde/)")


def _setup_panels(web_app: Any, config: Any = None) -> None:
    """The catalogue and jobs panels' routes (`catalogue.py`, `jobs.py`), under /eopde/ too."""
    from jupyter_server.utils import url_path_join

    from . import catalogue, jobs
    from .sources import CatalogueGuard

    web_app.settings["eopde_catalogue_guard"] = CatalogueGuard(config=config)
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, "eopde", route), handler)
                                 for route, handler in catalogue.ROUTES + jobs.ROUTES])
