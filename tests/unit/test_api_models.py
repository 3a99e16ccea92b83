"""The pydantic models of modelops.io/v1alpha1: every example parses and round-trips, every
invalid manifest is rejected naming the same field as the API server (where the rule needs no
old object), and the shared pieces behave as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelops.api import DriftMonitor, ModelVersion, Rollout, TrainingRun, crdgen, to_wire
from modelops.api.common import DURATION_PATTERN, Condition, ConditionStatus, Resource
from modelops.api.driftmonitor import BUILTIN_THRESHOLDS, PREDICTION_FEATURE, Statistic, StatisticThresholds, Thresholds
from modelops.api.rollout import HistoryEntry, Measurement, RolloutSpec, Verdict
from modelops.api.steps import CanaryStep, Step
from modelops.api.trainingrun import TrainingRunSpec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INVALID = sorted(p for p in (REPO / "tests" / "invalid").glob("*.yaml") if not p.name.startswith("update-"))
UPDATES = sorted((REPO / "tests" / "invalid").glob("update-*.yaml"))


def cel_messages(node: Any) -> set[str]:
    """Every message of every x-kubernetes-validations rule in a generated CRD."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= {rule["message"] for rule in node.get("x-kubernetes-validations", [])}
        for value in node.values():
            found |= cel_messages(value)
    elif isinstance(node, list):
        for value in node:
            found |= cel_messages(value)
    return found


CEL_MESSAGES = cel_messages(crdgen.all_crds())
KINDS: dict[str, type[Resource]] = {
    "TrainingRun": TrainingRun,
    "ModelVersion": ModelVersion,
    "Rollout": Rollout,
    "DriftMonitor": DriftMonitor,
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name}: first line must be '# expect: <substring>'"
    return first.removeprefix("# expect:").strip()


def parse(doc: dict[str, Any]) -> Resource:
    return KINDS[doc["kind"]].model_validate(doc)


def loc_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def snake_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [k for k in value if "_" in k and not k.startswith("__")]
        for v in value.values():
            found += snake_keys(v)
        return found
    if isinstance(value, list):
        return [k for v in value for k in snake_keys(v)]
    return []


# --------------------------------------------------------------------------------- examples


def test_examples_cover_every_kind_and_router() -> None:
    docs = [doc for path in EXAMPLES for doc in documents(path)]
    assert {doc["kind"] for doc in docs} == set(KINDS)
    routers = {next(iter(doc["spec"]["trafficRouting"])) for doc in docs if doc["kind"] == "Rollout"}
    assert routers == {"gatewayAPI", "istio", "kserve"}
    step_kinds = {
        Step.model_validate(step).kind for doc in docs if doc["kind"] == "Rollout" for step in doc["spec"]["steps"]
    }
    assert step_kinds == {"shadow", "canary", "abTest", "pause", "full"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_documented_and_namespace_less(path: Path) -> None:
    assert path.read_text().startswith("# "), f"{path.name} must open with a comment block"
    for doc in documents(path):
        assert "namespace" not in doc["metadata"], "examples are applied into a namespace by the tests"
        assert doc["apiVersion"] == "modelops.io/v1alpha1"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses_and_round_trips(path: Path) -> None:
    for doc in documents(path):
        obj = parse(doc)
        wire = to_wire(obj)
        assert wire["apiVersion"] == "modelops.io/v1alpha1"
        assert wire["kind"] == doc["kind"]
        assert not snake_keys(wire["spec"]), "the wire form is camelCase"
        again = type(obj).model_validate(wire)
        assert again == obj
        assert to_wire(again) == wire
        # Everything the user wrote survives (defaults may be added, nothing is lost or renamed).
        assert_subset(yaml.safe_load(yaml.safe_dump(doc["spec"])), wire["spec"], "spec")


def assert_subset(given_: Any, dumped: Any, path: str) -> None:
    if isinstance(given_, dict):
        assert isinstance(dumped, dict), path
        for key, value in given_.items():
            assert key in dumped, f"{path}.{key} lost"
            assert_subset(value, dumped[key], f"{path}.{key}")
    elif isinstance(given_, list):
        assert isinstance(dumped, list) and len(given_) == len(dumped), path
        for i, (a, b) in enumerate(zip(given_, dumped, strict=True)):
            assert_subset(a, b, f"{path}[{i}]")
    else:
        assert given_ == dumped, f"{path}: {given_!r} != {dumped!r}"


# ---------------------------------------------------------------------------------- invalid


def test_there_are_enough_invalid_cases() -> None:
    assert len(INVALID) >= 18
    assert len(UPDATES) >= 2


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_manifest_is_rejected_by_pydantic_at_the_same_field(path: Path) -> None:
    (doc,) = documents(path)
    expect = expectation(path)
    with pytest.raises(ValidationError) as caught:
        parse(doc)
    field = re.match(r"^[A-Za-z0-9_.\[\]]+", expect)
    assert field, expect
    locs = [loc_path(err["loc"]) for err in caught.value.errors()]
    assert any(loc.startswith(field[0]) or field[0].startswith(loc) for loc in locs), (field[0], locs)
    for message in CEL_MESSAGES:
        if message[:25] in expect:
            assert message in str(caught.value), "the CEL message and the pydantic message must agree"


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.name)
def test_update_pairs_are_each_valid_and_differ(path: Path) -> None:
    expectation(path)
    original, changed = documents(path)
    assert original["metadata"]["name"] == changed["metadata"]["name"]
    assert parse(original) != parse(changed), "the update must change something"


# --------------------------------------------------------------------------------- behaviour


def minimal_rollout(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "m",
        "target": "m-v2",
        "trafficRouting": {"kserve": {"inferenceService": "m"}},
        "steps": [{"canary": {"weight": 10}}],
    }
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "m"}, "spec": base | spec}


def test_rollout_defaults() -> None:
    ro = Rollout.model_validate(
        minimal_rollout(
            steps=[{"abTest": {"weight": 50, "metric": "c", "minSamples": 1, "maxDuration": "1h"}}],
            analysis={"checks": [{"name": "e", "builtin": "errorRate", "max": 0.1}]},
        )
    )
    assert ro.spec.keep_warm == 1
    assert ro.spec.progress_deadline == "10m"
    assert ro.spec.paused is False and ro.spec.abort is False
    assert ro.spec.analysis is not None and ro.spec.analysis.interval == "1m"
    ab = ro.spec.steps[0].ab_test
    assert ab is not None and ab.alpha == 0.05
    assert ro.status.phase is None and ro.status.conditions == []


def test_names_and_aliases_both_parse_and_dump_is_camel_case() -> None:
    by_name = RolloutSpec(
        model="m",
        target="t",
        traffic_routing={"kserve": {"inference_service": "m"}},  # type: ignore[arg-type]
        steps=[Step(canary=CanaryStep(weight=5))],
        keep_warm=3,
    )
    wire = to_wire(by_name)
    assert wire["trafficRouting"] == {"kserve": {"inferenceService": "m"}}
    assert wire["keepWarm"] == 3
    assert RolloutSpec.model_validate(wire) == by_name


def test_gateway_api_alias_is_exact() -> None:
    spec = minimal_rollout(trafficRouting={"gatewayAPI": {"httpRoute": "r", "parentRefs": [{"name": "gw"}]}})
    ro = Rollout.model_validate(spec)
    assert ro.spec.traffic_routing.gateway_api is not None
    assert ro.spec.traffic_routing.gateway_api.port == 80
    assert "gatewayAPI" in to_wire(ro)["spec"]["trafficRouting"]


def test_spec_forbids_unknown_fields_status_ignores_them() -> None:
    with pytest.raises(ValidationError, match="replicas"):
        Rollout.model_validate(minimal_rollout(replicas=3))
    doc = minimal_rollout()
    doc["status"] = {"phase": "Progressing", "someFutureField": 1}
    assert Rollout.model_validate(doc).status.phase == "Progressing"


def test_null_status_is_absent() -> None:
    doc = minimal_rollout()
    doc["status"] = None
    assert Rollout.model_validate(doc).status.history == []


def test_step_kind() -> None:
    assert Step.model_validate({"full": {}}).kind == "full"
    assert Step.model_validate({"pause": {}}).kind == "pause"
    assert (
        Step.model_validate({"abTest": {"weight": 1, "metric": "c", "minSamples": 1, "maxDuration": "1h"}}).kind
        == "abTest"
    )


def test_measurement_value_may_be_null_and_history_uses_from() -> None:
    m = Measurement.model_validate(
        {"check": "e", "value": None, "verdict": "Inconclusive", "at": "2025-01-31T12:00:00Z"}
    )
    assert m.verdict is Verdict.INCONCLUSIVE and m.value is None
    h = HistoryEntry.model_validate(
        {
            "time": "2025-01-31T12:00:00Z",
            "from": "Progressing",
            "to": "RolledBack",
            "reason": "AnalysisFailed",
            "actor": "operator",
        }
    )
    assert h.from_ == "Progressing"
    assert to_wire(h)["from"] == "Progressing"


def test_conditions_are_unique_per_type() -> None:
    cond = {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-31T12:00:00Z"}
    doc = minimal_rollout()
    doc["status"] = {"conditions": [cond, cond]}
    with pytest.raises(ValidationError, match="duplicate"):
        Rollout.model_validate(doc)
    assert Condition.model_validate(cond).status is ConditionStatus.TRUE


def test_quantities_accept_int_and_string() -> None:
    spec = TrainingRunSpec.model_validate({"model": "m", "image": "i", "resources": {"cpu": 4, "memory": "16Gi"}})
    assert spec.resources is not None
    assert spec.resources.cpu == 4 and spec.resources.memory == "16Gi" and spec.resources.gpus == 0
    with pytest.raises(ValidationError):
        TrainingRunSpec.model_validate({"model": "m", "image": "i", "resources": {"cpu": "four"}})


def test_trainingrun_register_alias() -> None:
    spec = TrainingRunSpec.model_validate({"model": "m", "image": "i", "register": {"enabled": False}})
    assert spec.registration is not None and spec.registration.enabled is False
    assert to_wire(spec)["register"] == {"enabled": False, "artifactPath": "model", "format": "mlflow"}


def test_driftmonitor_defaults_and_threshold_resolution() -> None:
    dm = DriftMonitor.model_validate(
        {
            "apiVersion": "modelops.io/v1alpha1",
            "kind": "DriftMonitor",
            "metadata": {"name": "d"},
            "spec": {
                "modelRef": {"kind": "Rollout", "name": "r"},
                "reference": {"window": "24h"},
                "features": [{"name": "a", "type": "numeric"}],
                "thresholds": {"default": {"psi": 0.3}, "perFeature": {"a": {"ks": 0.05}}, "predictions": {"js": 0.01}},
            },
        }
    )
    assert dm.spec.statistics == [Statistic.PSI]
    assert dm.spec.window == "1h" and dm.spec.schedule == "0 * * * *"
    th = dm.spec.thresholds
    assert th is not None
    assert th.threshold("a", Statistic.KS) == 0.05  # per feature
    assert th.threshold("a", Statistic.PSI) == 0.3  # default block
    assert th.threshold("a", Statistic.NULL_RATE) == BUILTIN_THRESHOLDS[Statistic.NULL_RATE]
    assert th.threshold(PREDICTION_FEATURE, Statistic.JS) == 0.01
    assert th.threshold(PREDICTION_FEATURE, Statistic.PSI) == 0.3
    assert Thresholds().threshold("x", Statistic.SCHEMA) == 0.0
    assert StatisticThresholds.model_validate({"schema": 0.5}).get(Statistic.SCHEMA) == 0.5


def test_duplicate_features_and_statistics_rejected() -> None:
    spec = {
        "modelRef": {"kind": "Rollout", "name": "r"},
        "reference": {"window": "24h"},
        "features": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "categorical"}],
    }
    doc = {"apiVersion": "modelops.io/v1alpha1", "kind": "DriftMonitor", "metadata": {}, "spec": spec}
    with pytest.raises(ValidationError, match="duplicate"):
        DriftMonitor.model_validate(doc)
    spec["features"] = [{"name": "a", "type": "numeric"}]
    spec["statistics"] = ["psi", "psi"]
    with pytest.raises(ValidationError, match="duplicate"):
        DriftMonitor.model_validate(doc)


def test_kind_and_api_version_are_checked() -> None:
    doc = minimal_rollout()
    doc["kind"] = "ModelVersion"
    with pytest.raises(ValidationError):
        Rollout.model_validate(doc)


# ------------------------------------------------------------------------ property-based


@given(st.integers(min_value=-1000, max_value=1000))
def test_weight_accepted_iff_percentage(weight: int) -> None:
    if 0 <= weight <= 100:
        assert CanaryStep(weight=weight).weight == weight
    else:
        with pytest.raises(ValidationError):
            CanaryStep(weight=weight)


duration_part = st.tuples(
    st.integers(min_value=0, max_value=999),
    st.one_of(st.none(), st.integers(min_value=0, max_value=99)),
    st.sampled_from(["ms", "s", "m", "h"]),
)


@given(st.lists(duration_part, min_size=1, max_size=3))
def test_go_style_durations_are_accepted(parts: list[tuple[int, int | None, str]]) -> None:
    text = "".join(f"{n}{'' if f is None else f'.{f}'}{unit}" for n, f, unit in parts)
    if len(text) <= 32:
        assert CanaryStep(weight=1, duration=text).duration == text
        assert re.fullmatch(DURATION_PATTERN, text)


@given(st.text(max_size=12))
def test_non_durations_are_rejected(text: str) -> None:
    if re.fullmatch(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+", text):
        return
    with pytest.raises(ValidationError):
        CanaryStep(weight=1, duration=text)
