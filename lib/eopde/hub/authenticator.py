"""A password authenticator for a demo on one machine."""

from __future__ import annotations

import hmac

from jupyterhub.auth import Authenticator
from traitlets import Dict, Unicode


class DemoAuthenticator(Authenticator):
    """Users and passwords from configuration, for the local demo platform only.

    Unlike JupyterHub's DummyAuthenticator, only the configured users can log in, each with
    their own password. Real deployments use an OAuthenticator (Keycloak / OIDC) instead.
    """

    users = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Who may log in, as {username: password}. Passwords are compared in constant time.
        The local platform fills this with the demo user (EOPDE_DEMO_USER, default `demo`) and
        its password (EOPDE_DEMO_PASSWORD, default a random one kept in the state folder).""",
    ).tag(config=True)

    async def authenticate(self, handler, data):
        """Return the username if it is configured and the password matches, else None."""
        username = (data or {}).get("username", "")
        password = (data or {}).get("password", "")
        expected = self.users.get(username)
        if expected is None or not password:
            return None
        if hmac.compare_digest(expected.encode(), password.encode()):
            return username
        return None
