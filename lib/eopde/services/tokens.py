"""API tokens of the local platform, made by the hub for its users (`eopde token USER`)."""

from __future__ import annotations

from .errors import PlatformError
from .settings import PlatformSettings
from .secrets import load_secrets


def issue_token(
    username: str,
    *,
    settings: PlatformSettings | None = None,
    note: str = "eopde token",
    expires_in: int | None = None,
) -> str:
    """Create (if needed) the hub user `username` and return a new API token for them.

    The local services (catalogue writes, and the ADES later) accept it as a bearer token.
    """
    import httpx

    settings = settings or PlatformSettings()
    secrets = load_secrets(settings.secrets_file, create=False)
    if "service_token" not in secrets:
        raise PlatformError(f"no platform in {settings.home}: run `eopde up` first")
    api = f"{settings.url('hub_api')}/hub/api"
    headers = {"Authorization": f"token {secrets['service_token']}"}
    try:
        with httpx.Client(headers=headers, timeout=10) as client:
            created = client.post(f"{api}/users/{username}")
            if created.status_code not in (201, 409):
                raise PlatformError(f"the hub refused to create user {username!r}: "
                                    f"{created.status_code} {created.text}")
            body: dict = {"note": note}
            if expires_in:
                body["expires_in"] = expires_in
            response = client.post(f"{api}/users/{username}/tokens", json=body)
    except httpx.HTTPError as err:
        raise PlatformError(f"the hub does not answer at {api} ({err}); is the platform up? "
                            "Check with `eopde status`.") from err
    if response.status_code != 201:
        raise PlatformError(f"the hub refused a token for {username!r}: "
                            f"{response.status_code} {response.text}")
    return response.json()["token"]
