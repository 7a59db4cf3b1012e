"""The parts of the local platform: how each one is prepared, started and checked.

`PARTS` lists them in start order. A part is either a long-running server (`daemon = True`,
started detached and recorded) or a one-shot step run inside `eopde up` (the pgstac schema).

The parts themselves live in :mod:`~eopde.services.partbase` (what a part is),
:mod:`~eopde.services.parts_data` (PostgreSQL, pgstac, the demo data) and
:mod:`~eopde.services.parts_servers` (the catalogue, tiles, storage, workspace, ADES and hub);
their names are importable from here too.
"""

from __future__ import annotations

from .partbase import Cancelled, Part, UvicornPart, rclone_path, wait_until
from .parts_data import (
    DataPart,
    PgstacPart,
    PostgresPart,
    demo_item_count,
    load_demo_items,
    postgres_dsn,
)
from .parts_servers import (
    AdesPart,
    CataloguePart,
    HubPart,
    StoragePart,
    TilesPart,
    WorkspacePart,
    hub_config_path,
    proxy_path,
    repo_root,
)

__all__ = ["PARTS", "AdesPart", "Cancelled", "CataloguePart", "DataPart", "HubPart", "Part",
           "PgstacPart", "PostgresPart", "StoragePart", "TilesPart", "UvicornPart",
           "WorkspacePart", "demo_item_count", "hub_config_path", "load_demo_items",
           "postgres_dsn", "proxy_path", "rclone_path", "repo_root", "wait_until"]

#: The parts, in the order `status` lists them and `down` stops them (reversed). `up` starts
#: every part whose `needs` are ready at once: the tile server, storage, workspace, ADES and
#: hub need nothing at start (they reach the others per request; the hub waits up to 2 s for
#: its services by itself).
PARTS: list[type[Part]] = [
    PostgresPart,
    PgstacPart,
    DataPart,
    CataloguePart,
    TilesPart,
    StoragePart,
    WorkspacePart,
    AdesPart,
    HubPart,
]

