"""eopde: a Processor Development Environment for Earth Observation.

The kernel library. Keep this import fast: heavy modules (pystac, rasterio,
ipyleaflet, cwltool) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
