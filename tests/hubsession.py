"""A browser-like client of JupyterHub for end-to-end tests: log in with the form, spawn the
user's server, and run code in a kernel through the Jupyter server's REST and WebSocket API."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class ExecutionResult:
    """What a cell produced."""

    status: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None
    messages: list[dict] = field(default_factory=list)


class HubSession:
    """One user's cookie session with a hub, as a browser has it."""

    def __init__(self, hub_url: str, username: str):
        self.hub_url = hub_url.rstrip("/")
        self.username = username
        self.client = httpx.Client(base_url=self.hub_url, follow_redirects=True, timeout=30)

    def close(self) -> None:
        self.client.close()

    def _xsrf(self, path: str = "/hub/") -> str:
        for cookie in self.client.cookies.jar:
            if cookie.name == "_xsrf" and cookie.path.startswith(path.rstrip("/")):
                return cookie.value
        raise AssertionError(f"no _xsrf cookie for {path}: {list(self.client.cookies.jar)}")

    def login(self, password: str) -> httpx.Response:
        """Fill the login form. Returns the final response (the spawn page or home on success)."""
        form = self.client.get("/hub/login")
        form.raise_for_status()
        return self.client.post(
            "/hub/login",
            data={"username": self.username, "password": password, "_xsrf": self._xsrf("/hub/")},
        )

    def spawn(self, timeout: float = 60) -> float:
        """Start the user's server through the hub API (cookie + X-XSRFToken), wait until it is
        ready, and return the seconds it took."""
        began = time.monotonic()
        response = self.client.post(
            f"/hub/api/users/{self.username}/server",
            headers={"X-XSRFToken": self._xsrf("/hub/")},
        )
        if response.status_code not in (201, 202, 400):  # 400: already running
            raise AssertionError(f"spawn failed: {response.status_code} {response.text}")
        deadline = began + timeout
        while time.monotonic() < deadline:
            model = self.client.get(
                f"/hub/api/users/{self.username}",
                headers={"X-XSRFToken": self._xsrf("/hub/")},
            ).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return time.monotonic() - began
            time.sleep(0.2)
        raise AssertionError(f"server of {self.username} not ready after {timeout} s")

    def stop(self) -> None:
        self.client.delete(
            f"/hub/api/users/{self.username}/server",
            headers={"X-XSRFToken": self._xsrf("/hub/")},
        )

    # -- the user's own server -------------------------------------------------------------

    @property
    def server_prefix(self) -> str:
        return f"/user/{self.username}"

    def open_lab(self) -> httpx.Response:
        """GET the user's JupyterLab page (runs the OAuth handshake with the hub)."""
        return self.client.get(f"{self.server_prefix}/lab")

    def server_api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        headers["X-XSRFToken"] = self._xsrf(self.server_prefix)
        return self.client.request(method, f"{self.server_prefix}/api{path}", headers=headers,
                                   **kwargs)

    def start_kernel(self, name: str) -> str:
        if not any(c.name == "_xsrf" and c.path.startswith(self.server_prefix)
                   for c in self.client.cookies.jar):
            self.open_lab()  # the OAuth handshake with the hub gives the server's cookies
        response = self.server_api("POST", "/kernels", json={"name": name})
        response.raise_for_status()
        return response.json()["id"]

    def execute(self, kernel_id: str, code: str, timeout: float = 60) -> ExecutionResult:
        """Run `code` in the kernel over the WebSocket channels API and collect its output."""
        import websocket

        ws_url = self.hub_url.replace("http", "ws", 1) + (
            f"{self.server_prefix}/api/kernels/{kernel_id}/channels"
            f"?session_id={uuid.uuid4().hex}&_xsrf={self._xsrf(self.server_prefix)}"
        )
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.cookies.jar)
        ws = websocket.create_connection(ws_url, header=[f"Cookie: {cookies}"], timeout=timeout)
        try:
            return run_code(ws, code, timeout, self.username)
        finally:
            ws.close()


def run_code(ws, code: str, timeout: float, username: str = "test") -> ExecutionResult:
    """Run ``code`` in the kernel behind the open channels WebSocket ``ws`` and collect its
    output (Jupyter's messaging protocol, v5.3)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": username, "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    result = ExecutionResult(status="unknown")
    deadline = time.monotonic() + timeout
    idle = replied = False
    while time.monotonic() < deadline and not (idle and replied):
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        result.messages.append(msg)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            if content["name"] == "stdout":
                result.stdout += content["text"]
            else:
                result.stderr += content["text"]
        elif kind == "execute_result":
            result.result = content["data"].get("text/plain")
        elif kind == "error":
            result.error = f"{content['ename']}: {content['evalue']}\n" + "\n".join(
                content.get("traceback", []))
        elif kind == "execute_reply":
            result.status = content["status"]
            replied = True
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    return result
