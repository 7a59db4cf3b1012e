"""JupyterHub on Kubernetes (Zero to JupyterHub + KubeSpawner): users' pods, profiles, storage.

Pure builders: nothing here talks to a cluster. ``configure(c)`` fills a JupyterHub config object
(z2jh's ``hub.extraConfig`` calls it with ``K8sSettings.from_values`` of the chart values'
``custom.eopde``: hub_config/k8s/values.yaml).

- **Profiles restricted by groups.** KubeSpawner offers every profile of ``profile_list`` to every
  user; it has no rule for who may use which. :func:`profile_list_for` makes the callable that
  KubeSpawner calls both to draw the form *and* to check the chosen profile when the server
  starts (``load_user_options`` -> ``_validate_user_options``), so a profile a user is not
  offered cannot be asked for through the REST API either. The rule: a profile with no
  ``groups`` is for everyone; otherwise the user must be in one of its groups. A user's groups
  are their JupyterHub groups (oauthenticator's ``manage_groups`` keeps them in step with the
  identity provider's ``groups`` claim at each login) and, when ``groups_key`` is set, the groups
  in their auth state (for hubs that do not sync groups). A user offered no profile is refused
  (403) rather than started on KubeSpawner's defaults.
- **No privileged pods**: non-root user 1000, group 100, every capability dropped, no privilege
  escalation, the runtime's default seccomp profile, service account token not mounted.
- **Resources**: each profile sets CPU/memory guarantees and limits (GPU: ``nvidia.com/gpu``).
- **Home**: one PersistentVolumeClaim per user (``claim-{username}``), mounted at /home/jovyan.
- **Endpoints**: the platform's URLs in ``EOPDE_*`` variables (``eopde.config`` reads them);
  the ADES URL carries the user's name. No token is put in the environment: ``eopde.auth`` asks
  the hub for a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: The user image (hub_config/k8s/Dockerfile); pin it by digest in a real deployment.
DEFAULT_IMAGE = "ghcr.io/eopde/eopde-user:0.1.0"
UID = 1000
GID = 100
HOME = "/home/jovyan"

CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": GID,
    "fsGroup": GID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class Profile:
    """One choice on the spawn page: resources (and a node pool), for some groups."""

    slug: str
    display_name: str
    description: str
    cpu_guarantee: float
    cpu_limit: float
    mem_guarantee: str
    mem_limit: str
    groups: tuple[str, ...] = ()
    """Groups whose members may use it; empty: everyone."""
    gpus: int = 0
    node_selector: dict[str, str] = field(default_factory=dict)
    default: bool = False

    def allows(self, groups: Iterable[str]) -> bool:
        return not self.groups or bool(set(self.groups) & set(groups))

    def kubespawner(self) -> dict[str, Any]:
        """The profile as a KubeSpawner ``profile_list`` entry."""
        override: dict[str, Any] = {
            "cpu_guarantee": self.cpu_guarantee, "cpu_limit": self.cpu_limit,
            "mem_guarantee": self.mem_guarantee, "mem_limit": self.mem_limit,
        }
        if self.gpus:
            override["extra_resource_guarantees"] = {"nvidia.com/gpu": str(self.gpus)}
            override["extra_resource_limits"] = {"nvidia.com/gpu": str(self.gpus)}
            # GPU nodes are usually tainted so that only GPU pods land there.
            override["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                        "effect": "NoSchedule"}]
        if self.node_selector:
            override["node_selector"] = dict(self.node_selector)
        entry: dict[str, Any] = {"slug": self.slug, "display_name": self.display_name,
                 "description": self.description, "kubespawner_override": override}
        if self.default:
            entry["default"] = True
        return entry


DEFAULT_PROFILES = (
    Profile("small", "Small: 1 CPU, 4 GiB", "Notebooks, catalogue search, small packages",
            cpu_guarantee=0.5, cpu_limit=1, mem_guarantee="2G", mem_limit="4G", default=True),
    Profile("large", "Large: 4 CPU, 16 GiB", "Processing whole scenes",
            cpu_guarantee=2, cpu_limit=4, mem_guarantee="8G", mem_limit="16G",
            groups=("eo-large", "eo-gpu")),
    Profile("gpu", "GPU: 4 CPU, 24 GiB, 1 GPU", "Model training and inference",
            cpu_guarantee=2, cpu_limit=4, mem_guarantee="12G", mem_limit="24G",
            groups=("eo-gpu",), gpus=1, node_selector={"eopde.org/pool": "gpu"}),
)


@dataclass(frozen=True)
class K8sSettings:
    """What differs between deployments; every field has the chart values' default."""

    image: str = DEFAULT_IMAGE
    profiles: tuple[Profile, ...] = DEFAULT_PROFILES
    groups_key: str | None = None
    """Dotted path of a group list in the auth state (e.g. ``"oauth_user.groups"``), read as
    well as the hub's groups; None: the hub's groups only (oauthenticator ``manage_groups``)."""
    storage_class: str | None = None
    """StorageClass of the home volumes (None: the cluster's default)."""
    home_size: str = "10Gi"
    catalogue_url: str = "https://eopde.example.org/stac"
    tiles_url: str = "https://eopde.example.org/tiles"
    ades_url: str = "https://eopde.example.org/ades/{username}/ogc-api"
    """``{username}`` becomes the user's name (KubeSpawner expands it)."""
    workspace_url: str = "https://eopde.example.org/workspace"
    s3_endpoint: str = "https://s3.eopde.example.org"
    user_namespace_template: str | None = None
    """E.g. ``"eopde-{username}"``: each user's pod (and their ADES jobs) in a namespace of their
    own, as EOEPCA's ``ws-{username}``; None: all users in the hub's namespace."""

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> K8sSettings:
        """Settings from the chart values' ``custom.eopde`` (hub_config/k8s/values.yaml);
        ``profiles``, when given, is a list of :class:`Profile` fields."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"custom.eopde has unknown keys {sorted(unknown)}; "
                             f"allowed: {sorted(known)}")
        fields = {k: v for k, v in values.items() if v is not None}
        if "profiles" in fields:
            fields["profiles"] = tuple(
                Profile(**{**p, "groups": tuple(p.get("groups", ()))}) for p in fields["profiles"])
        return cls(**fields)


# ---------------------------------------------------------------------------- who sees what


def _auth_state_groups(auth_state: dict | None, key: str | None) -> set[str]:
    value: Any = auth_state or {}
    for part in (key or "").split(".") if key else ():
        value = value.get(part) if isinstance(value, dict) else None
    return {g for g in value if isinstance(g, str)} if isinstance(value, list) else set()


async def user_groups(spawner, groups_key: str | None = None) -> set[str]:
    """The user's JupyterHub groups, plus the auth state's when ``groups_key`` is set."""
    groups = {g.name for g in getattr(spawner.user, "groups", [])}
    if groups_key:
        groups |= _auth_state_groups(await spawner.user.get_auth_state(), groups_key)
    return groups


def visible_profiles(profiles: Iterable[Profile], groups: Iterable[str]) -> list[Profile]:
    """The profiles members of ``groups`` may use, in the configured order."""
    groups = set(groups)
    return [p for p in profiles if p.allows(groups)]


def profile_list_for(profiles: Iterable[Profile], groups_key: str | None = None
                     ) -> Callable[[Any], Awaitable[list[dict[str, Any]]]]:
    """The ``KubeSpawner.profile_list`` callable: the profiles the spawner's user may use."""
    profiles = tuple(profiles)

    async def profile_list(spawner) -> list[dict[str, Any]]:
        allowed = visible_profiles(profiles, await user_groups(spawner, groups_key))
        if not allowed:
            from tornado.web import HTTPError

            # An empty list would make KubeSpawner start the server on its defaults.
            raise HTTPError(403, "no server profile is open to your groups; ask an admin")
        entries = [p.kubespawner() for p in allowed]
        if not any(e.get("default") for e in entries):
            entries[0]["default"] = True
        return entries

    return profile_list


# ---------------------------------------------------------------------------- the spawner


def user_environment(settings: K8sSettings) -> dict[str, str]:
    """The platform endpoints of every user's server (``eopde.config`` reads them)."""
    return {
        "EOPDE_PLATFORM": "k8s",
        "EOPDE_CATALOGUE_URL": settings.catalogue_url,
        "EOPDE_TILES_URL": settings.tiles_url,
        "EOPDE_ADES_URL": settings.ades_url,
        "EOPDE_WORKSPACE_URL": settings.workspace_url,
        "EOPDE_S3_ENDPOINT": settings.s3_endpoint,
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint,
    }


def spawner_config(settings: K8sSettings) -> dict[str, Any]:
    """KubeSpawner traits (name -> value) for ``settings``."""
    cfg: dict[str, Any] = {
        "image": settings.image,
        "image_pull_policy": "IfNotPresent",
        "profile_list": profile_list_for(settings.profiles, settings.groups_key),
        "uid": UID,
        "gid": GID,
        "fs_gid": GID,
        "privileged": False,
        "allow_privilege_escalation": False,
        "container_security_context": dict(CONTAINER_SECURITY),
        "pod_security_context": dict(POD_SECURITY),
        "automount_service_account_token": False,
        "environment": user_environment(settings),
        # home: one claim per user, kept when the server stops
        "storage_pvc_ensure": True,
        "pvc_name_template": "claim-{username}",
        "storage_capacity": settings.home_size,
        "storage_access_modes": ["ReadWriteOnce"],
        "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}],
        "volume_mounts": [{"name": "home", "mountPath": HOME}],
        "working_dir": HOME,
        "default_url": "/lab",
        "start_timeout": 300,
        "http_timeout": 120,
    }
    if settings.storage_class:
        cfg["storage_class"] = settings.storage_class
    if settings.user_namespace_template:
        cfg["enable_user_namespaces"] = True
        cfg["user_namespace_template"] = settings.user_namespace_template
    return cfg


def configure(c, settings: K8sSettings | None = None) -> None:
    """Fill a JupyterHub config object ``c`` with the KubeSpawner settings."""
    settings = settings or K8sSettings()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    for name, value in spawner_config(settings).items():
        setattr(c.KubeSpawner, name, value)
