"""The local platform (the embedded default): catalogue, tiles, storage, hub, demo data.

`eopde up` starts it; see `platform.Platform`. Nothing here is imported by `import eopde`.
"""
