"""The "importing X stays light" checks of several test modules: run in a fresh interpreter
(this one has imported everything already), so what an import drags in is what it shows."""

from __future__ import annotations

import json
import subprocess
import sys


def heavy_after(code: str, heavy: tuple[str, ...]) -> list[str]:
    """The modules of `heavy` loaded once `code` (imports, and maybe an assertion) has run in a
    new Python; it failing is an error that shows its output."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.splitlines()[-1])
