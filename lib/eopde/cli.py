"""The `eopde` command."""

from __future__ import annotations

import argparse
import json
import sys
import time


#: Modules the local platform's parts run; `pip install eopde` leaves them out (the `platform`
#: extra brings them).
PLATFORM_MODULES = ("jupyterhub", "stac_fastapi.pgstac", "titiler.core", "pypgstac", "uvicorn")


def _platform_missing() -> list[str]:
    """The local platform's modules that are not installed (a lean `pip install eopde`)."""
    import importlib.util

    missing = []
    for name in PLATFORM_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # its parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def _platform():
    from .services.errors import PlatformError
    from .services.platform import Platform

    if missing := _platform_missing():
        raise PlatformError("the local platform is not installed here (no "
                            f"{', '.join(missing)}): pip install 'eopde[platform]'")
    return Platform()


def cmd_up(args: argparse.Namespace) -> int:
    platform = _platform()
    if platform.running():
        print(f"The eopde platform is already running ({platform.settings.home}); nothing changed.")
        _print_login(platform)
        return 0
    report = platform.up(progress=lambda message: print(f"  {message}", flush=True))
    print(f"The eopde platform is up ({report.seconds:.1f} s).")
    _print_login(platform)
    return 0


def _print_login(platform) -> None:
    s = platform.settings
    print(f"  JupyterHub: {s.url('hub')}/hub/login")
    # Platform.secrets holds EOPDE_DEMO_PASSWORD when it is set.
    print(f"  login:      {s.demo_user} / {platform.secrets['demo_password']}")


def cmd_status(args: argparse.Namespace) -> int:
    platform = _platform()
    status = platform.status()
    if args.json:
        print(json.dumps(platform.status_json(status), indent=1))
    else:
        print(f"{'part':<11}{'healthy':<9}{'pid':<9}url")
        for name, s in status.items():
            pid = "-" if s.pid is None else str(s.pid)
            print(f"{name:<11}{'yes' if s.healthy else 'NO':<9}{pid:<9}{s.url}")
        if all(s.healthy for s in status.values()):
            _print_login(platform)
    return 0 if all(s.healthy for s in status.values()) else 1


def cmd_down(args: argparse.Namespace) -> int:
    stopped = _platform().down(progress=lambda message: print(f"  {message}", flush=True))
    print("Stopped: " + ", ".join(stopped) if stopped else "Nothing was running.")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    platform = _platform()
    if not args.yes:
        print(f"eopde purge deletes {platform.settings.home} (databases, object storage, logs, "
              "secrets); run `eopde purge --yes` to do it.", file=sys.stderr)
        return 2
    removed = platform.purge(progress=lambda message: print(f"  {message}", flush=True))
    print("Deleted: " + ", ".join(map(str, removed)) if removed else "Nothing to delete.")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from .services.process import tail

    platform = _platform()
    names = [args.part] if args.part else [p.name for p in platform.parts if p.daemon]
    for name in names:
        platform.part(name)  # KeyError names the known parts
        path = platform.settings.log_dir / f"{name}.log"
        if len(names) > 1:
            print(f"==> {path} <==")
        print(tail(path, args.lines))
    if args.follow and args.part:
        path = platform.settings.log_dir / f"{args.part}.log"
        with open(path) as f:
            f.seek(0, 2)
            while True:
                line = f.readline()
                if line:
                    print(line, end="", flush=True)
                else:
                    time.sleep(0.3)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from .services.tokens import issue_token

    print(issue_token(args.user, expires_in=args.expires_in))
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from . import credentials

    platform = credentials.current_platform()
    if args.token:
        if not args.user:
            print("eopde login: --token needs the user name it belongs to", file=sys.stderr)
            return 2
        user, token = args.user, args.token
    else:
        # On the machine of the local platform: ask its hub for a token of the (demo) user.
        from .services.settings import PlatformSettings
        from .services.tokens import issue_token

        settings = PlatformSettings()
        user = args.user or settings.demo_user
        token = issue_token(user, settings=settings, note="eopde login",
                            expires_in=args.expires_in)
    path = credentials.save(platform, user, token)
    print(f"logged in to {platform!r} as {user} (token saved in {path}, readable by you only)")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from . import credentials

    platform = credentials.current_platform()
    forgot = credentials.forget(platform)
    print(f"logged out of {platform!r}" if forgot else f"no saved login for {platform!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eopde", description="eopde: Processor Development Environment for Earth Observation"
    )
    parser.add_argument("--version", action="version", version=f"eopde {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="start the local platform (returns when every part is healthy)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("status", help="show each part of the local platform")
    p.add_argument("--json", action="store_true", help="print {part: {healthy, url, pid}}")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("down", help="stop what `eopde up` started")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("purge", help="stop the local platform and delete its state folder")
    p.add_argument("--yes", action="store_true", help="really delete everything")
    p.set_defaults(func=cmd_purge)
    p = sub.add_parser("logs", help="show the logs of the platform's parts")
    p.add_argument("part", nargs="?", help="one part (default: all)")
    p.add_argument("-n", "--lines", type=int, default=40, help="lines per log (default 40)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing (one part only)")
    p.set_defaults(func=cmd_logs)
    p = sub.add_parser("token", help="print an API token for a local user")
    p.add_argument("user", help="hub user name (created if missing)")
    p.add_argument("--expires-in", type=int, default=None, help="lifetime in seconds")
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("login", help="save a token so that eopde commands work in any terminal",
                       description="Without --token: on the local platform's machine, get a "
                       "token for USER (default: the demo user) from its hub. With --token: save "
                       "a token you got elsewhere (a remote platform's).")
    p.add_argument("user", nargs="?", help="user name (default: the local demo user)")
    p.add_argument("--token", help="a token to save as it is (needs USER)")
    p.add_argument("--expires-in", type=int, default=30 * 86400,
                   help="lifetime of a local token in seconds (default: 30 days)")
    p.set_defaults(func=cmd_login)
    p = sub.add_parser("logout", help="forget the token saved by `eopde login`")
    p.set_defaults(func=cmd_logout)
    _add_plugin_commands(sub)
    return parser


#: Modules that add their own sub-commands (each has `add_parser(subparsers)` and keeps its
#: heavy imports inside the command function, so `eopde --help` stays fast).
COMMAND_MODULES = (
    "eopde.catalogue.cli",
    "eopde.apppkg.cli_package",
    "eopde.apppkg.cli_validate",
    "eopde.apppkg.cli_run",
    "eopde.ades.cli",
    "eopde.workspace.cli",
)


def _add_plugin_commands(sub) -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    from .services.errors import PlatformError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlatformError as err:
        print(f"eopde {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyError as err:
        print(f"eopde {args.command}: {err.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `eopde status --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
