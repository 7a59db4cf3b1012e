"""`eopde.maps.panel_aoi()`: what the catalogue panel asks a notebook's kernel for ("From the
notebook's map"); its repr is JSON (the kernel's user_expressions answer as text/plain)."""

from __future__ import annotations

import json
import subprocess
import sys

from eopde.maps import panel_aoi


def test_no_map_loads_no_map_library():
    code = ("import sys, eopde.maps as m; print(repr(m.panel_aoi())); "
            "print('ipyleaflet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert json.loads(out[0]) == {"maps": 0, "aoi": None}
    assert out[1] == "False"


def test_the_area_changed_last_wins():
    from eopde.maps import Map

    before = json.loads(repr(panel_aoi()))["maps"]
    first, second = Map(basemap=False), Map(basemap=False)
    maps = json.loads(repr(panel_aoi()))["maps"]
    assert maps == before + 2
    first.aoi = (12.0, 43.0, 12.3, 43.2)
    second.aoi = {"type": "Point", "coordinates": [5.5, 52.5]}
    assert json.loads(repr(panel_aoi()))["aoi"] == {"type": "Point", "coordinates": [5.5, 52.5]}
    first.aoi = (12.0, 43.0, 12.5, 43.5)
    assert json.loads(repr(panel_aoi()))["aoi"]["coordinates"][0][2] == [12.5, 43.5]
    first.aoi = None  # cleared: another map's area
    assert json.loads(repr(panel_aoi()))["aoi"]["type"] == "Point"
