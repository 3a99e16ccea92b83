"""Decides whether an object's spec is accepted, and says why not in words that name the field.

The API server's schema and CEL rules reject most bad input at admission. What reaches the
operator anyway (an object stored before a CRD upgrade tightened a rule, a field the schema
cannot check) must not crash it: the spec is parsed with the same pydantic models the CRDs are
generated from, and a failure becomes ``Accepted=False`` with reason ``InvalidSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelops.core.conditions import set_condition

ACCEPTED = "Accepted"
SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    message: str


def field_path(location: tuple[int | str, ...], root: str = "spec") -> str:
    """('steps', 0, 'canary', 'weight') -> 'spec.steps[0].canary.weight'."""
    path = root
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_spec(spec_model: type[SpecT], spec: Mapping[str, Any] | None) -> tuple[SpecT | None, Verdict]:
    """The spec parsed with its model, and the verdict; None when it does not parse (the verdict
    names every field that is wrong, as ``spec.steps[0].canary.weight: ...``)."""
    if spec is None:
        return None, Verdict(False, "InvalidSpec", "spec: Required value")
    try:
        parsed = spec_model.model_validate(dict(spec))
    except (ValidationError, TypeError, ValueError) as error:
        if not isinstance(error, ValidationError):
            return None, Verdict(False, "InvalidSpec", f"spec: {error}")
        problems = [f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in error.errors()]
        return None, Verdict(False, "InvalidSpec", "; ".join(problems))
    return parsed, Verdict(True, "Valid", "spec accepted")


def judge_spec(spec_model: type[BaseModel], spec: Mapping[str, Any] | None) -> Verdict:
    return parse_spec(spec_model, spec)[1]


def plan_acceptance_status(
    spec_model: type[BaseModel],
    spec: Mapping[str, Any] | None,
    status: Mapping[str, Any] | None,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The status fields this decision owns: ``observedGeneration`` and the Accepted condition."""
    verdict = judge_spec(spec_model, spec)
    conditions = set_condition(
        (status or {}).get("conditions"),
        type=ACCEPTED,
        status="True" if verdict.accepted else "False",
        reason=verdict.reason,
        message=verdict.message,
        observed_generation=generation,
        now=now,
    )
    return {"observedGeneration": generation, "conditions": conditions}
