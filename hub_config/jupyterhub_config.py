"""JupyterHub configuration of the eopde local platform.

`eopde up` starts JupyterHub with this file. The settings (ports, state folder, demo user)
come from the environment that `eopde up` passes; see `eopde.services.settings`.
Add your own overrides below the `configure(c)` call. `EOPDE_AUTH=oidc` logs users in with an
OpenID Connect provider instead of the demo password (`eopde.hub.oidc`, docs/keycloak.md).

On Kubernetes, use Zero to JupyterHub with KubeSpawner and an OAuthenticator instead; the
user environment is the same (`eopde.hub.local.user_environment`).
"""

from eopde.hub.local import configure

configure(c)  # noqa: F821 - `c` is the config object JupyterHub provides

# Users' servers show their start's progress on /hub/spawn-pending/<user> (issue 10).
from eopde.hub.spawner import configure as configure_spawner  # noqa: E402

configure_spawner(c)  # noqa: F821
