"""Hostile manifests the schema cannot refuse: what only the operator can judge.

Owns the semantic half of the hostile-input suite (issue 15): references to objects that do not
exist, that live in another namespace or belong to another model; a second Rollout of a driven
model; a step the router cannot run; PromQL that does not parse; cron schedules and time zones
that do not exist; node pools the configuration does not know; hyperparameters that collide;
unicode where any string is allowed; and cycles (a version whose artifact is resolved from the
alias its own Rollout would set). Every one is valid in shape, so the API server stores it and
the operator must answer with a condition that names what is wrong and a Warning Event (or, for
the valid unicode cases, accept it). The anchors (``ANCHORS``) are the real objects they point at.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from hypothesis import strategies as st

from tests.support.hostile import DNS_CHARS, Case, base

API = "modelops.io/v1alpha1"
ANCHOR_MODEL, ANCHOR_VERSION, ANCHOR_ROLLOUT = "anchor-model", "anchor-v1", "anchor"
ELSEWHERE_VERSION, ELSEWHERE_ROLLOUT, ELSEWHERE_RUN = "elsewhere-v1", "elsewhere", "elsewhere-train"
KSERVE = {"kserve": {"inferenceService": "x"}}
QUICK = [{"canary": {"weight": 10, "duration": "1m"}}, {"full": {}}]


def _model_version(name: str, model: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": "1",
                     "artifact": {"storageUri": f"s3://m/{name}/", "format": "sklearn"}}}


def _rollout(name: str, model: str, target: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Rollout", "metadata": {"name": name},
            "spec": {"model": model, "target": target, "trafficRouting": KSERVE, "steps": QUICK, **spec}}


def anchors() -> dict[str, list[dict[str, Any]]]:
    """The real objects the hostile references point at, by namespace ("main", "other")."""
    run = base("TrainingRun", ELSEWHERE_RUN)
    run["spec"].update(model="elsewhere-model", register={"enabled": False})
    return {"main": [_model_version(ANCHOR_VERSION, ANCHOR_MODEL),
                     _rollout(ANCHOR_ROLLOUT, ANCHOR_MODEL, ANCHOR_VERSION)],
            "other": [_model_version(ELSEWHERE_VERSION, "elsewhere-model"),
                      _rollout(ELSEWHERE_ROLLOUT, "elsewhere-model", ELSEWHERE_VERSION), run]}


DNS_NAME = st.text(DNS_CHARS, min_size=1, max_size=30).map(lambda t: f"nx-{t}")
ANY_TEXT = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and t)
# A token no cron field accepts, and where it goes: (field index, token).
BAD_CRON_TOKENS = st.one_of(
    st.tuples(st.just(0), st.sampled_from(["60", "99", "*/0", "5-2", "L", "1-60"])),
    st.tuples(st.just(1), st.sampled_from(["24", "25", "*/x", "3-1"])),
    st.tuples(st.just(2), st.sampled_from(["0", "32", "L", "15W", "?/0"])),
    st.tuples(st.just(3), st.sampled_from(["0", "13", "foo", "janv", "dec-jan"])),
    st.tuples(st.just(4), st.sampled_from(["7", "8", "5#3", "5L", "sunday", "mon-sun-tue"])),
)
# PromQL whose delimiters or strings do not close: Prometheus' parser refuses each of them.
BAD_PROMQL = st.sampled_from([
    "sum(rate(http_requests_total[5m])", "rate(x[5m]", "x{job=\"api\"", "sum by (job (x)",
    "x{job=\"api}", "histogram_quantile(0.99, sum(rate(b[5m])) by (le)", "(((x)))))", "x[5m",
    "sum(x) / (", "x{a='b}", "]", "{", "sum(rate(x[5m])))",
])


@st.composite
def ref_case(draw: st.DrawFn, kind: str, name: str) -> Case:
    """One manifest of ``kind`` that only the operator can find wrong (or a valid unicode one)."""
    families = {"TrainingRun": ["unknownNodePool", "hyperparameterCollision", "unicodeStrings"],
                "ModelVersion": ["lineageMissing", "lineageElsewhere", "registryUriMissing", "aliasCycle"],
                "Rollout": ["targetMissing", "targetElsewhere", "targetOtherModel", "shadowOnKserve",
                            "secondRollout", "promqlUnparsable"],
                "DriftMonitor": ["modelRefMissing", "modelRefElsewhere", "badCron", "unknownTimeZone",
                                 "retrainNodePool", "unicodeFeatures"]}[kind]
    family = draw(st.sampled_from(families))
    doc = base(kind, name)
    spec = doc["spec"]
    if kind == "TrainingRun":
        if family == "unknownNodePool":
            spec["nodePool"] = draw(ANY_TEXT.filter(lambda t: t not in ("cpu", "gpu-a100", "gpu-t4")))
            return Case(kind, family, "spec.nodePool", doc, "refuse", ("UnknownNodePool",))
        if family == "hyperparameterCollision":
            stem = draw(st.text("abcxyz", min_size=1, max_size=8))
            first, second = draw(st.sampled_from([("-", "_"), (".", "-"), ("é", "à"), ("_", "ß"), (" ", "+")]))
            spec["hyperparameters"] = {f"{stem}{first}x": "1", f"{stem}{second}x": "2"}
            return Case(kind, family, "spec.hyperparameters", doc, "refuse", ("InvalidSpec",))
        spec["hyperparameters"] = {draw(ANY_TEXT): draw(st.text(max_size=200))}
        spec["tracking"] = {"experiment": draw(ANY_TEXT)}
        spec["register"] = {"enabled": False}
        spec["nodePool"] = "cpu"
        spec["resources"] = {"cpu": "1", "memory": "1Gi"}
        return Case(kind, family, "", doc, "accept", ("Valid",))
    if kind == "ModelVersion":
        if family in ("lineageMissing", "lineageElsewhere"):
            run = draw(DNS_NAME) if family == "lineageMissing" else ELSEWHERE_RUN
            spec["lineage"] = {"trainingRun": run}
            return Case(kind, family, run, doc, "refuse", ("TrainingRunNotFound",))
        if family == "registryUriMissing":
            model = draw(DNS_NAME)
            ref = draw(st.sampled_from([f"/{draw(st.integers(1, 10**6))}", "@" + draw(st.sampled_from(
                ["champion", "gone", "x_y"]))]))
            spec["artifact"]["storageUri"] = f"models:/{model}{ref}"
            return Case(kind, family, f"models:/{model}", doc, "refuse")
        model = spec["model"]
        spec["artifact"]["storageUri"] = f"models:/{model}@champion"
        cycle = _rollout(f"{name}-r", model, name)
        return Case(kind, family, f"models:/{model}@champion", doc, "refuse", after=[cycle])
    if kind == "Rollout":
        spec.pop("approved", None)
        if family in ("targetMissing", "targetElsewhere"):
            target = draw(DNS_NAME) if family == "targetMissing" else ELSEWHERE_VERSION
            spec["target"] = target
            return Case(kind, family, target, doc, "refuse")
        if family == "targetOtherModel":
            spec["target"] = ANCHOR_VERSION
            return Case(kind, family, "spec.target", doc, "refuse", ("InvalidSpec",))
        if family == "shadowOnKserve":
            spec["trafficRouting"] = {"kserve": {"inferenceService": name}}
            return Case(kind, family, "spec.steps[0].shadow", doc, "refuse", ("InvalidSpec",))
        if family == "secondRollout":
            spec["model"] = ANCHOR_MODEL
            spec["target"] = ANCHOR_VERSION
            return Case(kind, family, f"already drives model {ANCHOR_MODEL}", doc, "refuse", ("RolloutConflict",))
        checks = spec["analysis"]["checks"]
        index = len(checks) - 1
        checks[index]["prometheus"]["query"] = draw(BAD_PROMQL)
        return Case(kind, family, f"spec.analysis.checks[{index}].prometheus.query", doc, "refuse", ("InvalidSpec",))
    spec["modelRef"] = {"kind": "Rollout", "name": ANCHOR_ROLLOUT}
    if family in ("modelRefMissing", "modelRefElsewhere"):
        spec["modelRef"] = ({"kind": draw(st.sampled_from(["Rollout", "ModelVersion"])), "name": draw(DNS_NAME)}
                            if family == "modelRefMissing" else {"kind": "Rollout", "name": ELSEWHERE_ROLLOUT})
        return Case(kind, family, "spec.modelRef", doc, "refuse", ("ModelRefNotFound",))
    if family == "badCron":
        fields = ["0", "*", "*", "*", "*"]
        index, token = draw(BAD_CRON_TOKENS)
        fields[index] = token
        spec["schedule"] = " ".join(fields) if draw(st.booleans()) else "TZ=UTC " + " ".join(fields[:4])
        return Case(kind, family, "spec.schedule", doc, "refuse", ("InvalidSchedule",))
    if family == "unknownTimeZone":
        zone = draw(st.from_regex(r"\A(Mars|Europe|Etc|Moon)/[A-Z][a-z_]{2,12}\Z").filter(
            lambda z: z not in zoneinfo.available_timezones()))
        spec["timeZone"] = zone
        return Case(kind, family, "spec.timeZone", doc, "refuse", ("UnknownTimeZone",))
    if family == "retrainNodePool":
        template = base("TrainingRun", f"{name}-retrain")
        template["spec"]["nodePool"] = draw(DNS_NAME)
        spec["retrain"] = {"enabled": True, "template": {"spec": template["spec"]}}
        return Case(kind, family, "spec.retrain.template.spec.nodePool", doc, "refuse", ("UnknownNodePool",))
    names = draw(st.lists(ANY_TEXT.filter(lambda t: not re.search(r"[\x00-\x1f]", t)), min_size=1, max_size=5,
                          unique=True))
    spec["features"] = [{"name": n, "type": "numeric"} for n in names]
    spec["thresholds"] = {"default": {"psi": 0.2}}
    return Case(kind, family, "", doc, "accept", ("Valid",))
