"""The Binder launch simulated without Docker, as tests/test_binder_launch.py and
bench/binder.py run it.

What repo2docker and Binder do, minus the image: the repository is copied into the notebook
user's home (repo2docker's REPO_DIR is $HOME) and owned by that user; `binder/postBuild` runs
as that user in it; then `binder/start jupyter lab ...` with the variables Binder's JupyterHub
gives a session (`JUPYTERHUB_SERVICE_PREFIX=/user/binder-x/`, ...). The user is an ordinary
account: when the tests run as root (CI), a throwaway account made with useradd
(`ordinary_account`); otherwise the tests' own. When the interpreter is under /root, the
account is lent traverse access only with EOPDE_TEST_GRANT_TRAVERSE=1 (.ci/run sets it);
without it the simulation stops with that advice rather than running as root (which would test
the wrong thing). Optionally the session (the platform, the server and its kernels) runs in a
memory cgroup with Binder's limit (`MemoryCgroup`).

Not simulated: installing binder/apt.txt and requirements.txt (this environment has them; the
copy's `lib/` stands first on PYTHONPATH as `pip install -e .` would put it), and installing
code-server (EOPDE_BINDER_IDE=none; the copy `make` installed is given as EOPDE_CODE_SERVER).
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import ordinary_account

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PREFIX = "/user/binder-x/"
#: The throwaway notebook user when the tests run as root (Binder's is `jovyan`, uid 1000).
ACCOUNT = "eopde-binder"
#: Binder's memory limit per session (mybinder.org: 2 GB, enforced by the container's cgroup).
BINDER_MEMORY = 2 * 2**30


def code_server() -> str | None:
    from eopde.proxy import code_server_path

    return code_server_path()


def _account() -> str | None:
    """The account the session runs as: None (this process's own) unless we are root."""
    if os.geteuid() != 0:
        return None
    ordinary_account.ensure(ACCOUNT)
    return ACCOUNT


def repository_copy(home: Path) -> None:
    """The repository's files (tracked and new, as git sees them, not ignored) in ``home``,
    plus the JupyterLab extension `make` built (postBuild builds it only when missing)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for name in sorted(set(listed.decode().split("\0")) - {""}):
        source = REPO / name
        if source.is_file():
            target = home / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    shutil.copytree(REPO / "lib" / "eopde" / "labextension",
                    home / "lib" / "eopde" / "labextension")


def session_env(home: Path, base_port: int, hub_port: int,
                account: str | None) -> dict[str, str]:
    """The environment of Binder's notebook user in a session, for this simulation."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EOPDE_", "JUPYTER", "AWS_", "XDG_"))}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        PYTHONPATH=str(home / "lib"),   # `pip install -e .` of the repository in $HOME
        EOPDE_BINDER_PYTHON=sys.executable,
        EOPDE_BINDER_IDE="none",
        EOPDE_BASE_PORT=str(base_port),
        EOPDE_HUB_PORT=str(hub_port),
        # What Binder's JupyterHub sets in a session.
        JUPYTERHUB_SERVICE_PREFIX=PREFIX,
        JUPYTERHUB_BASE_URL="/",
        JUPYTERHUB_USER="binder-x",
    )
    if account:
        env.update(USER=account, LOGNAME=account)
    if code_server():
        env["EOPDE_CODE_SERVER"] = str(code_server())
    return env


@dataclass
class BinderSession:
    home: Path
    env: dict[str, str]      # Binder's variables of the session
    account: str | None      # the ordinary account it runs as (None: this process's user)
    url: str = ""            # http://127.0.0.1:<port>/user/binder-x
    token: str = ""
    log: Path = Path()
    lab: subprocess.Popen | None = None
    post_build_seconds: float = 0.0
    launch_seconds: float = 0.0   # start until JupyterLab answers
    cgroup: MemoryCgroup | None = field(default=None)

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "eopde"

    def kernel_env(self) -> dict[str, str]:
        """What a kernel of the session sees: the session's variables plus what `start`
        exported (read from the file it sourced)."""
        env = dict(self.env)
        for line in (self.home / ".cache" / "eopde" / "binder.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
        return env

    def popen_kwargs(self, cgroup: bool = False) -> dict[str, Any]:
        """Run a child as the session's account (and, with ``cgroup``, inside its cgroup)."""
        join = self.cgroup.join_function() if cgroup and self.cgroup is not None else None
        if join is None:
            return ordinary_account.popen_as(self.account) if self.account else {}
        if self.account is None:
            return {"preexec_fn": join}
        demote = ordinary_account.demotion(self.account)

        def join_then_demote() -> None:  # joining a root-owned cgroup needs root
            join()
            demote()
        return {"preexec_fn": join_then_demote}

    def run(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 300,
            cgroup: bool = False) -> subprocess.CompletedProcess:
        """``args`` as the session's user, in its home (``env``: the session's by default)."""
        return subprocess.run(args, env=env or self.env, cwd=self.home, capture_output=True,
                              text=True, timeout=timeout, **self.popen_kwargs(cgroup))

    def start(self, args: list[str], env: dict[str, str], log: Path,
              cgroup: bool = False) -> subprocess.Popen:
        """``args`` in the background as the session's user (its own process group), its
        output to ``log``."""
        with open(log, "w") as out:
            return subprocess.Popen(args, env=env, cwd=self.home, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    **self.popen_kwargs(cgroup))

    def eopde(self, *args: str) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-m", "eopde.cli", *args],
                        env=dict(self.env, EOPDE_HOME=str(self.state)))


def reachable_paths() -> list[Path]:
    """What the notebook user must reach outside its home: the interpreter (under /root in
    CI), the environment, code-server."""
    paths = [Path(os.path.realpath(sys.executable)).parent, Path(sys.base_prefix) / "lib", BIN,
             Path(sys.prefix) / "lib"]
    if code_server():
        paths.append(Path(str(code_server())).resolve().parent)
    return paths


@contextmanager
def home_of_its_own(prefix: str = "eopde-binder-") -> Iterator[tuple[Path, str | None]]:
    """A fresh home folder owned by the session's account (with the account's access to the
    environment lent for the block), removed afterwards."""
    account = _account()
    with ExitStack() as stack:
        if account:
            stack.enter_context(ordinary_account.traverse_granted(account, reachable_paths()))
        home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        stack.callback(shutil.rmtree, home, True)
        if account:
            ordinary_account.give(home, account)
        yield home, account


def wait_http(url: str, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n"
                                 + log.read_text()[-4000:])
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s:\n" + log.read_text()[-4000:])


@contextmanager
def launched(base_port: int, hub_port: int, lab_port: int,
             cgroup: MemoryCgroup | None = None) -> Iterator[BinderSession]:
    """postBuild, then start + JupyterLab under /user/binder-x/ (inside ``cgroup`` when
    given); everything stopped and removed afterwards, the cgroup too."""
    with home_of_its_own() as (home, account), ExitStack() as stack:
        env = session_env(home, base_port, hub_port, account)
        session = BinderSession(home, env, account)
        repository_copy(home)
        if account:
            ordinary_account.give(home, account)
        if cgroup is not None:  # removed last: after purge stopped the platform
            session.cgroup = cgroup
            stack.callback(cgroup.remove)
        began = time.monotonic()
        built = session.run([str(home / "binder" / "postBuild")], timeout=900)
        session.post_build_seconds = time.monotonic() - began
        stack.callback(session.eopde, "purge", "--yes")
        assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
        session.token = secrets.token_hex(16)
        session.log = home / "binder-start.log"
        command = [str(home / "binder" / "start"), sys.executable, "-m", "jupyter", "lab",
                   "--no-browser", "--ip=127.0.0.1", f"--port={lab_port}",
                   f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={session.token}",
                   f"--ServerApp.root_dir={home}",
                   "--LabApp.expose_app_in_browser=True"]  # for the browser test's checks
        if account is None and os.geteuid() == 0:
            command.append("--allow-root")
        began = time.monotonic()
        session.lab = session.start(command, env, session.log, cgroup=True)
        stack.callback(stop, session.lab)
        session.url = f"http://127.0.0.1:{lab_port}{PREFIX.rstrip('/')}"
        wait_http(f"{session.url}/api/status?token={session.token}", 240, session.lab,
                  session.log)
        session.launch_seconds = time.monotonic() - began
        yield session


def stop(process: subprocess.Popen) -> None:
    """Stop ``process`` and its process group (TERM, then KILL after 30 s)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class CgroupUnavailable(Exception):
    """No memory cgroup can be made here (the reason says why)."""


class MemoryCgroup:
    """A child memory cgroup of this process's own, with a hard limit, as Binder's container
    has: cgroup v2 (`memory.max`, `memory.peak`, `memory.events`) where the memory controller
    is on the unified hierarchy, else v1 (`memory.limit_in_bytes`, `memory.max_usage_in_bytes`,
    `memory.oom_control`), which is what a hybrid host like this one offers."""

    def __init__(self, path: Path, version: int):
        self.path = path
        self.version = version

    @classmethod
    def create(cls, name: str, limit: int) -> MemoryCgroup:
        v2, v1 = _own_cgroups()
        reasons = []
        for version, base in ((2, v2), (1, v1)):
            if base is None:
                reasons.append(f"cgroup v{version}: no memory controller mounted")
                continue
            path = base / name
            try:
                path.mkdir()
            except OSError as err:
                reasons.append(f"cgroup v{version}: cannot create {path}: {err}")
                continue
            limit_file = "memory.max" if version == 2 else "memory.limit_in_bytes"
            try:
                (path / limit_file).write_text(str(limit))
            except OSError as err:
                path.rmdir()
                reasons.append(f"cgroup v{version}: cannot set {limit_file}: {err}")
                continue
            return cls(path, version)
        raise CgroupUnavailable("; ".join(reasons))

    def join_function(self) -> Callable[[], None]:
        """A `preexec_fn` that moves the child into the cgroup (its children follow)."""
        procs = str(self.path / "cgroup.procs")

        def join() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # 0: the writing process itself
            finally:
                os.close(fd)
        return join

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def limit(self) -> int:
        return int(self._read("memory.max" if self.version == 2 else "memory.limit_in_bytes"))

    def peak(self) -> int:
        """The most memory the cgroup's processes held at once (page cache included)."""
        return int(self._read("memory.peak" if self.version == 2
                              else "memory.max_usage_in_bytes"))

    def anon(self) -> int:
        """Memory held now that is not file cache (what an OOM kill would be about)."""
        stat = dict(line.split() for line in self._read("memory.stat").splitlines())
        return int(stat["anon" if self.version == 2 else "total_rss"])

    def oom_kills(self) -> int:
        """Processes the kernel killed for want of memory in this cgroup."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        fields = dict(line.split() for line in self._read(name).splitlines())
        return int(fields["oom_kill"])

    def processes(self) -> list[int]:
        return [int(pid) for pid in self._read("cgroup.procs").split()]

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (killing any left)."""
        deadline = time.monotonic() + 30
        while self.processes() and time.monotonic() < deadline:
            for pid in self.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.path.rmdir()


def memory_cgroup_offered() -> bool:
    """Whether this machine lets this process make a memory cgroup (a writable folder of its
    own with the memory controller): where it does, failing to make one is a bug, not a skip."""
    return any(base is not None and os.access(base, os.W_OK) for base in _own_cgroups())


def _own_cgroups() -> tuple[Path | None, Path | None]:
    """This process's cgroup folders: (v2 with the memory controller, v1 memory), if any."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        kind = fields[fields.index("-") + 1]
        if kind == "cgroup2":
            mounts["v2"] = Path(fields[4])
        elif kind == "cgroup" and "memory" in fields[-1].split(","):
            mounts["v1"] = Path(fields[4])
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if number == "0":
            own["v2"] = path
        elif "memory" in controllers.split(","):
            own["v1"] = path
    v2 = v1 = None
    if "v2" in mounts and "v2" in own:
        folder = mounts["v2"] / own["v2"].lstrip("/")
        if "memory" in (folder / "cgroup.controllers").read_text().split():
            v2 = folder
    if "v1" in mounts and "v1" in own:
        v1 = mounts["v1"] / own["v1"].lstrip("/")
    return v2, v1


def run_notebook_in_lab(session: BinderSession, path: str, timeout: float = 300) -> str:
    """Run every code cell of the notebook at ``path`` (under the home folder) in a new kernel
    of the session's JupyterLab, as JupyterLab does (a session: the kernel is the server's
    child, so it runs as the session's user, in its cgroup, in the notebook's folder). Returns
    the kernel's id; the kernel is left running."""
    import uuid

    import nbformat
    import websocket

    from hubsession import run_code

    created = httpx.post(f"{session.url}/api/sessions", params={"token": session.token},
                         json={"path": path, "type": "notebook", "name": Path(path).name,
                               "kernel": {"name": "eopde"}}, timeout=120)
    created.raise_for_status()
    kernel = created.json()["kernel"]["id"]
    ws = websocket.create_connection(
        session.url.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
        f"?token={session.token}&session_id={uuid.uuid4().hex}", timeout=timeout)
    try:
        for index, cell in enumerate(nbformat.read(session.home / path, as_version=4).cells):
            if cell.cell_type == "code":
                result = run_code(ws, cell.source, timeout)
                if result.status != "ok":
                    raise AssertionError(f"{path} cell {index}: {result.error}")
    finally:
        ws.close()
    return kernel
