"""Notebook -> OGC EO Application Package (OGC 20-089): parameters, generation, validation,
local runs. Heavy modules (cwltool, cwl-utils, nbformat) load inside the functions."""
