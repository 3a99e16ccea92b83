"""The generated CRDs are structural OpenAPI v3 (what the API server requires), carry the names of
DESIGN §1, describe every field for `kubectl explain`, bound every list/map/string so CEL cost
estimates stay small, and print columns that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from modelops.api import crdgen
from modelops.api.crdgen import SchemaError, to_structural

REPO = Path(__file__).resolve().parents[2]
CRDS = crdgen.all_crds()
EXPECTED_NAMES = {
    "TrainingRun": ("trainingruns", "tr"),
    "ModelVersion": ("modelversions", "mv"),
    "Rollout": ("rollouts", "mro"),
    "DriftMonitor": ("driftmonitors", "dm"),
}
FORBIDDEN_KEYS = {
    "$ref",
    "$defs",
    "title",
    "allOf",
    "oneOf",
    "not",
    "const",
    "uniqueItems",
    "propertyNames",
    "examples",
    "prefixItems",
}
Node = dict[str, Any]


def root(crd: Node) -> Node:
    schema: Node = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(node: Node, path: str) -> Iterator[tuple[str, Node]]:
    yield path, node
    for key, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{key}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.*")
    for arm in node.get("anyOf", []):
        yield from walk(arm, f"{path}|")


def ids(crd: Node) -> str:
    return str(crd["spec"]["names"]["kind"])


def test_four_crds_with_design_names() -> None:
    assert [c["spec"]["names"]["kind"] for c in CRDS] == ["TrainingRun", "ModelVersion", "Rollout", "DriftMonitor"]
    for crd in CRDS:
        names = crd["spec"]["names"]
        plural, short = EXPECTED_NAMES[names["kind"]]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{plural}.modelops.io"
        assert crd["spec"]["group"] == "modelops.io"
        assert names["plural"] == plural and names["shortNames"] == [short]
        assert names["singular"] == names["kind"].lower() and names["listKind"] == names["kind"] + "List"
        assert names["categories"] == ["modelops"]
        assert crd["spec"]["scope"] == "Namespaced"
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}
        assert crdgen.file_name(crd) == f"modelops.io_{plural}.yaml"


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_top_level_shape(crd: Node) -> None:
    schema = root(crd)
    assert schema["type"] == "object"
    assert list(schema["properties"]) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert schema["required"] == ["spec"]


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_schema_is_structural(crd: Node) -> None:
    for path, node in walk(root(crd), ids(crd)):
        assert not FORBIDDEN_KEYS & set(node), f"{path}: {FORBIDDEN_KEYS & set(node)}"
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
            assert node.get("anyOf", [{"type": "integer"}, {"type": "string"}]) == [
                {"type": "integer"},
                {"type": "string"},
            ], path
            continue
        assert "anyOf" not in node, f"{path}: anyOf is only allowed for int-or-string"
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, path
        assert node.get("additionalProperties") not in (True, False), path
        assert not ("properties" in node and "additionalProperties" in node), path
        assert "default" not in node or node["default"] is not None, path
        if node.get("type") == "array":
            assert "items" in node, path
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if key in node:
                assert node[key] is True, f"{path}: {key} must be a boolean (OpenAPI v3.0)"
                assert ("minimum" if key == "exclusiveMinimum" else "maximum") in node, path
        if "format" in node:
            assert node["format"] == "date-time", path
        for req in node.get("required", []):
            assert req in node.get("properties", {}), f"{path}: required {req} is not a property"


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_every_property_has_a_description(crd: Node) -> None:
    for path, node in walk(root(crd), ids(crd)):
        for key, child in node.get("properties", {}).items():
            if path == ids(crd) and key == "metadata":
                continue
            description = child.get("description", "")
            assert len(description) >= 8, f"{path}.{key} has no useful description"
            assert "\n" not in description.replace("\n\n", ""), f"{path}.{key}: paragraphs must be one line"


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_spec_lists_maps_and_strings_are_bounded(crd: Node) -> None:
    """CEL cost estimation multiplies by list sizes and string lengths: keep every one bounded."""
    for path, node in walk(root(crd)["properties"]["spec"], f"{ids(crd)}.spec"):
        if path.endswith("|"):
            continue  # the anyOf arms of an int-or-string node: bounded at the node itself
        kind = node.get("type")
        if kind == "array":
            assert "maxItems" in node, path
        elif kind == "string" and "enum" not in node:
            assert "maxLength" in node, path
        elif kind == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, path
        elif node.get("x-kubernetes-int-or-string"):
            assert "maxLength" in node, path


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_cel_rules_are_well_formed(crd: Node) -> None:
    rules = [
        (path, rule) for path, node in walk(root(crd), ids(crd)) for rule in node.get("x-kubernetes-validations", [])
    ]
    for path, rule in rules:
        assert set(rule) <= {"rule", "message", "fieldPath", "reason"}, path
        assert rule["rule"] and rule["message"], path
        assert rule["rule"].count("(") == rule["rule"].count(")"), path
        if "reason" in rule:
            assert rule["reason"] in {
                "FieldValueInvalid",
                "FieldValueForbidden",
                "FieldValueRequired",
                "FieldValueDuplicate",
            }, path
        if "fieldPath" in rule:
            node = dict(walk(root(crd), ids(crd)))[path]
            assert rule["fieldPath"].lstrip(".") in node["properties"], f"{path}: fieldPath must name a child"


def test_expected_cel_rules_exist() -> None:
    by_kind = {ids(c): c for c in CRDS}

    def rules_at(kind: str, path: str) -> list[str]:
        return [r["rule"] for r in dict(walk(root(by_kind[kind]), kind))[path].get("x-kubernetes-validations", [])]

    assert "self == oldSelf" in rules_at("ModelVersion", "ModelVersion.spec.artifact")
    assert "self == oldSelf" in rules_at("ModelVersion", "ModelVersion.spec.lineage")
    assert "has(self.lineage) == has(oldSelf.lineage)" in rules_at("ModelVersion", "ModelVersion.spec")
    assert any("gatewayAPI" in r for r in rules_at("Rollout", "Rollout.spec.trafficRouting"))
    assert any("abTest" in r for r in rules_at("Rollout", "Rollout.spec.steps[]"))
    assert any("snapshotUri" in r for r in rules_at("DriftMonitor", "DriftMonitor.spec.reference"))
    assert "duration(self) >= duration('0s')" in rules_at("Rollout", "Rollout.spec.progressDeadline")


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_defaults_satisfy_their_own_schema(crd: Node) -> None:
    for path, node in walk(root(crd), ids(crd)):
        if "default" not in node:
            continue
        value = node["default"]
        check_value(value, node, path)


def check_value(value: Any, node: Node, path: str) -> None:
    kind = node.get("type")
    python = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}
    if kind:
        assert isinstance(value, python[kind]), f"{path}: default {value!r} is not {kind}"
    if "enum" in node:
        assert value in node["enum"], path
    if "pattern" in node:
        assert re.search(node["pattern"], value), f"{path}: default {value!r} does not match the pattern"
    if "minimum" in node:
        assert value > node["minimum"] if node.get("exclusiveMinimum") else value >= node["minimum"], path
    if "maximum" in node:
        assert value < node["maximum"] if node.get("exclusiveMaximum") else value <= node["maximum"], path
    if "maxLength" in node:
        assert len(value) <= node["maxLength"], path
    if kind == "array":
        assert node.get("minItems", 0) <= len(value) <= node.get("maxItems", len(value)), path
        for item in value:
            check_value(item, node["items"], f"{path}[]")


@pytest.mark.parametrize("crd", CRDS, ids=ids)
def test_printer_columns_point_at_fields(crd: Node) -> None:
    version = crd["spec"]["versions"][0]
    columns = version["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    for column in columns[:-1]:
        node = root(crd)
        for part in column["jsonPath"].lstrip(".").split("."):
            assert part in node.get("properties", {}), f"{column['name']}: {column['jsonPath']} is not in the schema"
            node = node["properties"][part]
        expected = {
            "integer": {"integer"},
            "boolean": {"boolean"},
            "date": {"string"},
            "string": {"string"},
            "number": {"number", "integer"},
        }[column["type"]]
        assert node.get("type") in expected, f"{column['name']}: column type {column['type']} vs {node.get('type')}"


def test_rollout_columns_match_the_design() -> None:
    columns = [
        c["name"]
        for c in crdgen.crd(crdgen.RESOURCES[2])["spec"]["versions"][0]["additionalPrinterColumns"]
        if "priority" not in c
    ]
    assert columns == ["Phase", "Stable", "Candidate", "Step", "Weight", "Age"]  # fits an 80-column screen


def test_generation_is_deterministic() -> None:
    assert crdgen.all_crds() == CRDS


def test_generated_files_are_helm_safe() -> None:
    for path in (REPO / "charts" / "modelops-crds" / "templates").glob("*.yaml"):
        assert "{{" not in path.read_text(), f"{path.name}: Helm would try to template it"


# ------------------------------------------------------------------- converter corner cases


class _Mode(StrEnum):
    A = "a"


class _Child(BaseModel):
    """Child doc."""

    x: int = Field(1, description="An int.")


class _Sample(BaseModel):
    maybe: _Child | None = Field(None, description="Field description wins.")
    mode: _Mode = Field(_Mode.A, description="Mode.")
    alpha: float = Field(0.5, gt=0, lt=1, description="Alpha.")
    free: dict[str, Any] = Field(default_factory=dict, description="Anything.")
    nullable: float | None = Field(None, description="Null means no data.", json_schema_extra={"nullable": True})
    fixed: Any = Field("v", description="Constant.", json_schema_extra={"const": "v"})


def test_converter_rewrites_pydantic_constructs() -> None:
    out = to_structural(_Sample.model_json_schema(mode="validation"))
    props = out["properties"]
    assert props["maybe"] == {
        "description": "Field description wins.",
        "type": "object",
        "properties": {"x": {"description": "An int.", "type": "integer", "default": 1}},
    }
    assert props["mode"] == {"description": "Mode.", "type": "string", "enum": ["a"], "default": "a"}
    assert props["alpha"]["minimum"] == 0 and props["alpha"]["exclusiveMinimum"] is True
    assert props["alpha"]["maximum"] == 1 and props["alpha"]["exclusiveMaximum"] is True
    assert props["free"] == {"description": "Anything.", "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["nullable"] == {"description": "Null means no data.", "type": "number", "nullable": True}
    assert props["fixed"]["enum"] == ["v"] and props["fixed"]["type"] == "string"
    assert "title" not in out and "additionalProperties" not in out


class _Union(BaseModel):
    x: int | float = 1


class _Recursive(BaseModel):
    child: _Recursive | None = None


class _Set(BaseModel):
    x: set[str] = Field(default_factory=set)


@pytest.mark.parametrize("model", [_Union, _Recursive, _Set], ids=lambda m: m.__name__)
def test_converter_refuses_what_is_not_structural(model: type[BaseModel]) -> None:
    with pytest.raises(SchemaError):
        to_structural(model.model_json_schema(mode="validation"))
