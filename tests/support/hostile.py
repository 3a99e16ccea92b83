"""Hostile manifests for the four kinds, generated with hypothesis from the CRDs' own schemas.

Owns the shapes-only half of the hostile-input suite (issue 15): starting from a valid example
manifest of each kind (examples/), one mutation per manifest, drawn from the schema node it hits —
a wrong type, a string past its maxLength (up to 100 k characters, any unicode), a list past its
maxItems, a number out of range, a value outside an enum or a pattern, an unknown field (unicode
keys too), a required field removed, a name past or at every length limit. Each ``Case`` says
what the answer must name (``needle``) and what outcome is right: ``reject`` (refused at
admission), ``accept`` (a valid edge case the operator must simply take). The cases the schema
cannot see (references, schedules, PromQL, cycles) are ``tests.support.hostile_refs``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.support.manifests import REPO, documents

KINDS = {"TrainingRun": ("trainingruns", "01-trainingrun-gpu.yaml"),
         "ModelVersion": ("modelversions", "02-modelversion-cpu.yaml"),
         "Rollout": ("rollouts", "04-rollout-gateway-api.yaml"),
         "DriftMonitor": ("driftmonitors", "07-driftmonitor.yaml")}
DNS_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
# Characters a name may hold and still reach the API server as one path segment.
UNSAFE_IN_PATH = set("/%?#")
Path = tuple[str | int, ...]


@dataclass
class Case:
    kind: str
    family: str
    needle: str            # what the refusal (or condition) message must name
    doc: dict[str, Any]
    expect: str            # "reject": refused at admission; "refuse": accepted + condition; "accept"
    reasons: tuple[str, ...] = ()   # for "refuse": the condition reasons that are right
    namespace: str = "main"         # "main" or "other" (the second namespace)
    after: list[dict[str, Any]] = field(default_factory=list)  # objects applied with it (a cycle's other half)

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])


def field_path(path: Path) -> str:
    """('spec', 'steps', 0, 'name') -> 'spec.steps[0].name' (how the API server names a field)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    plural = KINDS[kind][0]
    crd = yaml.safe_load((REPO / "crds" / f"modelops.io_{plural}.yaml").read_text())
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])


@cache
def _example(kind: str) -> dict[str, Any]:
    return next(d for d in documents(REPO / "examples" / KINDS[kind][1]) if d["kind"] == kind)


def base(kind: str, name: str) -> dict[str, Any]:
    """The example of ``kind``, renamed, with a spec.model of its own (so no two collide)."""
    doc = copy.deepcopy(_example(kind))
    doc["metadata"] = {"name": name}
    if "model" in doc["spec"]:
        doc["spec"]["model"] = name[:63].rstrip("-.")
    return doc


def nodes(value: Any, schema: dict[str, Any], path: Path) -> list[tuple[Path, dict[str, Any], Any]]:
    """Every node present in ``value`` with its schema, parents before children."""
    found = [(path, schema, value)]
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                found += nodes(child, sub, (*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, child in enumerate(value):
            found += nodes(child, schema["items"], (*path, index))
    return found


def put(doc: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target: Any = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def remove(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target: Any = out
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return out


def _plain(schema: dict[str, Any]) -> bool:
    return "x-kubernetes-int-or-string" not in schema and "anyOf" not in schema


def long_text(seed: str, length: int) -> str:
    """A string of exactly ``length`` characters (code points) built from a drawn seed."""
    seed = seed or "x"
    return (seed * (length // len(seed) + 1))[:length]


TEXT = st.text(min_size=1, max_size=12)
OTHER_TYPES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=3),
                        st.dictionaries(TEXT, st.integers(), max_size=2)),
    "integer": st.one_of(TEXT, st.booleans(), st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: f != int(f)), st.lists(st.integers(), min_size=1, max_size=3)),
    "number": st.one_of(TEXT, st.booleans(), st.lists(st.integers(), max_size=3)),
    "boolean": st.one_of(st.sampled_from(["true", "yes", "1"]), st.integers(), st.lists(st.booleans(), max_size=2)),
    "array": st.one_of(TEXT, st.integers(), st.dictionaries(TEXT, st.integers(), min_size=1, max_size=2)),
    "object": st.one_of(TEXT, st.integers(), st.lists(st.integers(), min_size=1, max_size=3)),
}


@st.composite
def schema_case(draw: st.DrawFn, kind: str, name: str) -> Case:
    """One manifest of ``kind`` with one mutation the schema refuses."""
    doc = base(kind, name)
    present = nodes(doc["spec"], crd_schema(kind), ("spec",))
    family = draw(st.sampled_from(["wrongType", "tooLong", "tooMany", "outOfRange", "badEnum", "badPattern",
                                   "unknownField", "missingRequired"]))
    fits = {
        "wrongType": lambda s, v: s.get("type") in OTHER_TYPES and _plain(s) and v is not None,
        "tooLong": lambda s, v: s.get("type") == "string" and "maxLength" in s,
        "tooMany": lambda s, v: s.get("type") == "array" and "maxItems" in s,
        "outOfRange": lambda s, v: s.get("type") in ("integer", "number") and ("minimum" in s or "maximum" in s),
        "badEnum": lambda s, v: "enum" in s,
        "badPattern": lambda s, v: s.get("type") == "string" and "pattern" in s,
        "unknownField": lambda s, v: isinstance(v, dict) and "properties" in s and "additionalProperties" not in s,
        "missingRequired": lambda s, v: isinstance(v, dict) and any(k in v for k in s.get("required", [])),
    }[family]
    candidates = [(p, s, v) for p, s, v in present if fits(s, v)]
    path, schema, value = draw(st.sampled_from(candidates))
    where = field_path(path)
    if family == "wrongType":
        return Case(kind, family, where, put(doc, path, draw(OTHER_TYPES[schema["type"]])), "reject")
    if family == "tooLong":
        limit = schema["maxLength"]
        # Huge strings too, but always past this field's limit (some limits are 32 Ki).
        length = draw(st.one_of(st.just(limit + 1), st.integers(limit + 1, limit * 4 + 8),
                                st.integers(max(10_000, limit + 1), max(100_000, limit * 2))))
        return Case(kind, family, where, put(doc, path, long_text(draw(TEXT), length)), "reject")
    if family == "tooMany":
        limit = schema["maxItems"]
        count = draw(st.integers(limit + 1, limit + 64))
        item = value[0] if value else draw(TEXT)
        return Case(kind, family, where, put(doc, path, [copy.deepcopy(item) for _ in range(count)]), "reject")
    if family == "outOfRange":
        below = "minimum" in schema and ("maximum" not in schema or draw(st.booleans()))
        bad = (draw(st.integers(-(2**62), int(schema["minimum"]) - 1)) if below
               else draw(st.integers(int(schema["maximum"]) + 1, 2**62)))
        return Case(kind, family, where, put(doc, path, bad), "reject")
    if family == "badEnum":
        bad = draw(st.text(min_size=1, max_size=20).filter(lambda t: t not in schema["enum"]))
        return Case(kind, family, where, put(doc, path, bad), "reject")
    if family == "badPattern":
        pattern = re.compile(schema["pattern"])
        bad = draw(st.text(min_size=max(1, schema.get("minLength", 1)), max_size=min(40, schema.get("maxLength", 40)))
                   .filter(lambda t: not pattern.search(t)))
        return Case(kind, family, where, put(doc, path, bad), "reject")
    if family == "unknownField":
        key = draw(st.text(min_size=1, max_size=24).filter(
            lambda k: k not in schema["properties"] and k.strip() == k and k.isprintable()))
        return Case(kind, family, key, put(doc, (*path, key), draw(st.one_of(TEXT, st.integers()))), "reject")
    required = [k for k in schema.get("required", []) if k in value]
    key = draw(st.sampled_from(required))
    return Case(kind, family, field_path((*path, key)), remove(doc, (*path, key)), "reject")


@st.composite
def name_case(draw: st.DrawFn, kind: str, index: int) -> Case:
    """A name past a limit or of the wrong characters (refused), or exactly at 63 or 253 (valid)."""
    family = draw(st.sampled_from(["nameTooLong", "nameBadChars", "nameAtLimit"]))
    if family == "nameTooLong":
        text = f"h{index}-" + long_text(draw(st.text(DNS_CHARS, min_size=1)), draw(st.integers(254, 600)))
        return Case(kind, family, "metadata.name", _named(kind, text[:draw(st.integers(254, 600))]), "reject")
    if family == "nameBadChars":
        bad = draw(st.text(min_size=1, max_size=60).filter(
            lambda t: not UNSAFE_IN_PATH & set(t) and t.strip() and not re.fullmatch(r"[a-z0-9.-]+", t)))
        return Case(kind, family, "metadata.name", _named(kind, f"h{index}{bad}"), "reject")
    limit = draw(st.sampled_from([63, 253]))
    stem = f"h{index}-" + draw(st.text(DNS_CHARS, min_size=1, max_size=8)) + "-"
    text = (stem + long_text("edge", limit))[:limit - 1] + "z"
    return Case(kind, family, "metadata.name", _named(kind, text), "accept", reasons=("Valid",))


def _named(kind: str, name: str) -> dict[str, Any]:
    doc = base(kind, "x")
    doc["metadata"]["name"] = name
    if "model" in doc["spec"]:
        doc["spec"]["model"] = re.sub(r"[^a-z0-9]", "", name.lower())[:40] or "m"
    if kind == "DriftMonitor":
        doc["spec"]["modelRef"] = {"kind": "Rollout", "name": "anchor"}  # hostile_refs.ANCHOR_ROLLOUT
    return doc
