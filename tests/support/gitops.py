"""How GitOps tools judge modelops objects, run here as they run there.

``argocd_health``: an Argo CD health check, as deploy/argocd/argocd-cm.yaml carries it (what users
merge into their argocd-cm: deploy/argocd/health/_prelude.lua and <Kind>.lua), run the way Argo CD
runs a custom check (util/lua/lua.go): Lua 5.1 (Argo CD embeds gopher-lua, a Lua 5.1), the object
as the global ``obj`` (JSON arrays as 1-based tables, nulls absent), only the base and table
libraries (Argo CD leaves the string, math, io and debug libraries out of custom checks unless
``useOpenLibs`` is set: a script that calls ``string.find`` or ``("x"):upper()`` fails here as it
would there), the chunk's return value a table whose ``status`` must be one of Argo CD's health
codes (anything else Argo CD reports as Unknown "Lua returned an invalid health status").

``kstatus``: what Flux's health checks (kstatus, sigs.k8s.io/cli-utils ``pkg/kstatus/status``)
compute for a custom resource with no type-specific rule: Terminating when deleting; InProgress
while ``status.observedGeneration`` differs from ``metadata.generation``; InProgress on
``Reconciling=True``, Failed on ``Stalled=True`` (abnormal-true conditions); then, as kstatus'
README describes for resources that use it, InProgress on ``Ready=False``; otherwise Current.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

REPO = Path(__file__).resolve().parents[2]
ARGOCD_CM = REPO / "deploy" / "argocd" / "argocd-cm.yaml"
ARGOCD_HEALTH_CODES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")

# What Argo CD's VM does not open for a custom check, removed before the script runs; the string
# metatable goes too, or ("x"):find() would still reach the library.
_RESTRICT = """
getmetatable("").__index = nil
string, math, io, debug, coroutine = nil, nil, nil, nil, nil
"""


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def _from_lua(value: Any) -> Any:
    if lua51.lua_type(value) == "table":
        return {k: _from_lua(v) for k, v in value.items()}
    return value


def health_script(kind: str) -> str:
    """The health check of ``kind`` as argocd-cm.yaml carries it."""
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    return str(data[f"resource.customizations.health.modelops.io_{kind}"])


def argocd_health(obj: dict[str, Any], script: str | None = None) -> dict[str, Any]:
    """``{"status": ..., "message": ...}`` that Argo CD would show for ``obj``."""
    if script is None:
        script = health_script(obj["kind"])
    runtime = lua51.LuaRuntime(register_eval=False)
    runtime.execute(_RESTRICT)
    runtime.globals().obj = _to_lua(runtime, obj)
    result = runtime.execute(script)
    assert lua51.lua_type(result) == "table", f"the script returned {result!r}, not a table"
    health = _from_lua(result)
    assert health.get("status") in ARGOCD_HEALTH_CODES, f"invalid health status {health!r}"
    assert set(health) <= {"status", "message"}, health
    return health


def kstatus(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) kstatus computes for ``obj``."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating", "Resource scheduled for deletion"
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return "InProgress", f"{obj['kind']} generation is {generation}, but latest observed generation is {observed}"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    for kind, result in (("Reconciling", "InProgress"), ("Stalled", "Failed")):
        if (conditions.get(kind) or {}).get("status") == "True":
            return result, str(conditions[kind].get("message", ""))
    ready = conditions.get("Ready")
    if ready is not None and ready.get("status") == "False":
        return "InProgress", str(ready.get("message", ""))
    return "Current", "Resource is current"
