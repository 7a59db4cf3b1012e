"""The local ADES: an OGC API - Processes service (Part 1 core + Part 2 Deploy, Replace,
Undeploy) that runs application packages with cwltool, compatible with EOEPCA's
zoo-project-dru ADES (per-user prefix `/{user}/ogc-api/...`).

Modules: `store` (durable processes and jobs, SQLite), `app` (the HTTP API), `description`
(OGC process descriptions from CWL), `auth` (who is asking), `executor` (workers running
cwltool, stage-in/stage-out), `calrissian` (the Kubernetes backend's manifests).
"""
