"""Exceptions of the local platform."""

from __future__ import annotations


class PlatformError(RuntimeError):
    """A part of the local platform could not be set up or started; the message says how to fix it."""


class PortInUseError(PlatformError):
    """A part's port is taken by another program."""

    def __init__(self, part: str, port: int, setting: str):
        self.part, self.port, self.setting = part, port, setting
        super().__init__(
            f"port {port} for part '{part}' is already in use by another program; "
            f"stop that program or choose another port with {setting}=<port> "
            f"(or EOPDE_BASE_PORT for the whole block of internal ports)"
        )


class PartFailedError(PlatformError):
    """A part did not become healthy; carries its log path and the log's last lines."""

    def __init__(self, part: str, reason: str, log: str, last_lines: str):
        self.part, self.log = part, log
        super().__init__(
            f"part '{part}' failed: {reason}\nlog: {log}\n--- last lines ---\n{last_lines}"
        )
