"""Turn the pydantic models of this package into CustomResourceDefinitions (apiextensions.k8s.io/v1)
whose OpenAPI v3 schemas are *structural*, as the API server requires.

Why by hand: controller-gen reads Go types, and no maintained Python library converts a pydantic
JSON Schema (draft 2020-12) into the Kubernetes dialect of OpenAPI v3. The conversion is small and
strict — it raises on any construct it does not know rather than emit a schema the API server
would reject or silently loosen:

* ``$ref``/``$defs`` (and single-element ``allOf``) are inlined; the field's own keys
  (description, default, CEL rules) win over the referenced definition's, CEL rules are merged;
* ``anyOf: [T, {type: null}]`` becomes ``T`` (optional = may be absent; the API server prunes
  nulls). A field that wants ``nullable: true`` says so in ``json_schema_extra``;
* ``int | str`` marked ``x-kubernetes-int-or-string`` becomes the int-or-string form, with the
  string arm's pattern hoisted;
* ``title``, ``additionalProperties: false`` and ``default: null`` are dropped;
  ``additionalProperties: true`` becomes ``x-kubernetes-preserve-unknown-fields: true``;
  ``const`` becomes a one-value ``enum``; numeric ``exclusiveMinimum``/``exclusiveMaximum``
  (draft 2020-12) become ``minimum``/``maximum`` plus the boolean flag (OpenAPI v3.0);
* ``x-kubernetes-*`` keys (CEL ``x-kubernetes-validations``, list types) pass through;
* descriptions written as docstrings are re-flowed to one line per paragraph for ``kubectl explain``.

Output is a plain dict (rendering YAML is the caller's job: this package imports only the stdlib
and pydantic) and is deterministic: the same models always give the same dict, key order included.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from modelops.api.common import API_VERSION, CATEGORY, GROUP, VERSION, Resource
from modelops.api.driftmonitor import DriftMonitor
from modelops.api.modelversion import ModelVersion
from modelops.api.rollout import Rollout
from modelops.api.trainingrun import TrainingRun

RESOURCES: tuple[type[Resource], ...] = (TrainingRun, ModelVersion, Rollout, DriftMonitor)

Schema = dict[str, Any]

KEY_ORDER = (
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-int-or-string",
    "anyOf",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-validations",
)
RULE_KEY_ORDER = ("rule", "message", "messageExpression", "fieldPath", "reason", "optionalOldSelf")
DROPPED = {"title", "examples", "readOnly", "writeOnly", "deprecated"}
FORMATS = {"date-time"}
SCHEMA_KINDS = {"object", "array", "string", "integer", "number", "boolean"}


class SchemaError(ValueError):
    """The models use a JSON Schema construct that has no structural OpenAPI v3 equivalent."""


def _reflow(text: str) -> str:
    """Join the lines of each paragraph: docstrings wrap at the source width, kubectl explain re-wraps."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _overlay(base: Schema, extra: Schema) -> Schema:
    """``extra``'s keys (a field's own description, default, rules) over ``base`` (the type's)."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "x-kubernetes-validations":
            merged[key] = [*base.get(key, []), *value]
        else:
            merged[key] = value
    return merged


def _ref_name(ref: str) -> str:
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise SchemaError(f"unsupported $ref {ref!r}")
    return ref[len(prefix) :]


def to_structural(
    schema: Schema, defs: dict[str, Schema] | None = None, *, _path: str = "", _stack: tuple[str, ...] = ()
) -> Schema:
    """Convert one pydantic JSON Schema node (with the ``$defs`` it may refer to) to a structural
    OpenAPI v3 schema node."""
    defs = schema.get("$defs", {}) if defs is None else defs
    node = {k: v for k, v in schema.items() if k != "$defs"}
    where = _path or "<root>"

    if "$ref" in node:
        name = _ref_name(node.pop("$ref"))
        if name in _stack:
            raise SchemaError(f"{where}: recursive type {name} cannot be expressed in a structural schema")
        resolved = to_structural(defs[name], defs, _path=_path, _stack=(*_stack, name))
        return _finish(_overlay(resolved, _clean_scalars(node, where)), where)

    if "allOf" in node:
        (only,) = node.pop("allOf")
        resolved = to_structural(only, defs, _path=_path, _stack=_stack)
        return _finish(_overlay(resolved, _clean_scalars(node, where)), where)

    if "anyOf" in node:
        arms = [a for a in node.pop("anyOf") if a != {"type": "null"}]
        if len(arms) == 1:
            resolved = to_structural(arms[0], defs, _path=_path, _stack=_stack)
            return _finish(_overlay(resolved, _clean_scalars(node, where)), where)
        types = sorted(str(a.get("type")) for a in arms)
        if types == ["integer", "string"] and node.get("x-kubernetes-int-or-string"):
            hoisted: Schema = {}
            for arm in arms:
                for key, value in arm.items():
                    # Each keyword applies to its own type (pattern to strings, minimum to numbers).
                    if key in ("pattern", "maxLength", "minLength", "minimum", "maximum"):
                        hoisted[key] = value
                    elif key != "type":
                        raise SchemaError(f"{where}: int-or-string arm has unsupported key {key!r}")
            node = {**node, **hoisted, "anyOf": [{"type": "integer"}, {"type": "string"}]}
            return _finish(_clean_scalars(node, where), where)
        raise SchemaError(f"{where}: union of {types} is not structural (only T | None and int | str)")

    node = _clean_scalars(node, where)
    if "properties" in node:
        node["properties"] = {
            key: to_structural(value, defs, _path=f"{_path}.{key}", _stack=_stack)
            for key, value in node["properties"].items()
        }
    if "items" in node:
        node["items"] = to_structural(node["items"], defs, _path=f"{_path}[]", _stack=_stack)
    additional = node.get("additionalProperties")
    if additional is False:
        del node["additionalProperties"]
    elif additional is True:
        del node["additionalProperties"]
        node["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(additional, dict):
        node["additionalProperties"] = to_structural(additional, defs, _path=f"{_path}.*", _stack=_stack)
    return _finish(node, where)


def _clean_scalars(node: Schema, where: str) -> Schema:
    """Drop, rename and check the keys of one node (not its children)."""
    out: Schema = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key == "default" and value is None:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "description":
            out[key] = _reflow(str(value))
        elif key == "format":
            if value not in FORMATS:
                raise SchemaError(f"{where}: format {value!r} is not supported")
            out[key] = value
        elif key in ("uniqueItems", "propertyNames", "oneOf", "not", "patternProperties", "prefixItems"):
            raise SchemaError(f"{where}: {key} has no structural equivalent (use x-kubernetes-list-type or CEL)")
        else:
            out[key] = copy.deepcopy(value)  # no sharing between nodes: YAML must not get &anchors
    return out


def _finish(node: Schema, where: str) -> Schema:
    unknown = set(node) - set(KEY_ORDER)
    if unknown:
        raise SchemaError(f"{where}: unsupported schema keys {sorted(unknown)}")
    kind = node.get("type")
    if kind is not None and kind not in SCHEMA_KINDS:
        raise SchemaError(f"{where}: type {kind!r} is not supported")
    if "enum" in node and "type" not in node:
        node["type"] = _type_of(node["enum"][0], where)
    if "properties" in node and "additionalProperties" in node:
        raise SchemaError(f"{where}: properties and additionalProperties are mutually exclusive")
    if "x-kubernetes-validations" in node:
        node["x-kubernetes-validations"] = [
            {key: rule[key] for key in RULE_KEY_ORDER if key in rule} for rule in node["x-kubernetes-validations"]
        ]
    return {key: node[key] for key in KEY_ORDER if key in node}


def _type_of(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise SchemaError(f"{where}: enum value {value!r} has no scalar type")


TYPE_META_DESCRIPTION = {
    "apiVersion": (
        f"APIVersion defines the versioned schema of this representation of an object. Always {API_VERSION}."
    ),
    "kind": "Kind is a string value representing the REST resource this object represents.",
}


def version_schema(resource: type[Resource]) -> Schema:
    """The ``openAPIV3Schema`` of one kind: apiVersion, kind, metadata, spec (required), status."""
    full = resource.model_json_schema(by_alias=True, mode="validation")
    defs = full.get("$defs", {})
    properties = full["properties"]
    spec = to_structural(properties["spec"], defs, _path="spec")
    status = to_structural(properties["status"], defs, _path="status")
    status.pop("default", None)
    return {
        "description": _reflow(resource.__doc__ or resource.__name__),
        "type": "object",
        "properties": {
            "apiVersion": {"description": TYPE_META_DESCRIPTION["apiVersion"], "type": "string"},
            "kind": {"description": TYPE_META_DESCRIPTION["kind"], "type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "required": ["spec"],
    }


def crd(resource: type[Resource]) -> Schema:
    """The CustomResourceDefinition of one kind."""
    kind: str = getattr(resource, "KIND")  # noqa: B009 - ClassVar on each concrete kind
    plural: str = getattr(resource, "PLURAL")  # noqa: B009
    short_names: tuple[str, ...] = getattr(resource, "SHORT_NAMES")  # noqa: B009
    columns: tuple[dict[str, Any], ...] = getattr(resource, "PRINTER_COLUMNS")  # noqa: B009
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "modelops", "app.kubernetes.io/part-of": "modelops"},
            "annotations": {"helm.sh/resource-policy": "keep"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": list(short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(list(columns)),
                    "schema": {"openAPIV3Schema": version_schema(resource)},
                }
            ],
        },
    }


def all_crds() -> list[Schema]:
    """Every CRD of the modelops.io group, in a fixed order."""
    return [crd(resource) for resource in RESOURCES]


def file_name(definition: Schema) -> str:
    """``modelops.io_<plural>.yaml``, the controller-gen naming convention."""
    return f"{definition['spec']['group']}_{definition['spec']['names']['plural']}.yaml"
