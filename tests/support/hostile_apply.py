"""Drawing the hostile manifests, applying them in a batch to the real API server, and judging
what became of each: refused at admission (naming the field), or stored and answered by the
operator with a condition naming what is wrong and a Warning Event, or (a valid edge case)
accepted. Also prints the outcome table the README's Reliability section shows.

Owns the run of the hostile-input suite; the manifests are ``hostile`` and ``hostile_refs``.
"""

from __future__ import annotations

import collections
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tests.support.hostile import KINDS, Case, name_case, schema_case
from tests.support.hostile_refs import API, ref_case
from tests.support.manifests import FIELD_MANAGER, rejection_message

ORDER = list(KINDS)


def draw_cases(count: int, seed: int | None = None) -> list[Case]:
    """``count`` hostile manifests over the four kinds: about 60 % shapes the schema
    refuses, 10 % names, 30 % what only the operator can judge. Derandomized (the same list every
    run) unless ``seed`` is given."""
    cases: list[Case] = []

    @settings(max_examples=count, derandomize=seed is None, database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        index = len(cases)
        kind = data.draw(st.sampled_from(ORDER), label="kind")
        name = f"h{index}-{kind.lower()}"
        pick = data.draw(st.integers(0, 9), label="family")
        strategy = (schema_case(kind, name) if pick < 6 else name_case(kind, index) if pick < 7
                    else ref_case(kind, name))
        cases.append(data.draw(strategy, label="case"))

    if seed is not None:
        from hypothesis import seed as seeded
        seeded(seed)(collect)()
    else:
        collect()
    return cases


@dataclass
class Answer:
    status: int            # HTTP status of the apply (201/200 stored)
    message: str


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def utf8_body(doc: dict[str, Any]) -> bytes:
    """The manifest as kubectl sends it: UTF-8, characters past U+FFFF written as themselves. (The
    Python client's ``json.dumps`` writes them as surrogate-pair escapes, which the API server's
    YAML decoder of an apply patch refuses before any field is looked at.)"""
    text = json.dumps(doc)
    return _SURROGATE_PAIR.sub(lambda m: chr(0x10000 + ((int(m[1], 16) - 0xD800) << 10) + int(m[2], 16) - 0xDC00),
                               text).encode()


def apply_batch(dyn: dynamic.DynamicClient, docs: list[tuple[dict[str, Any], str]], workers: int = 8) -> list[Answer]:
    """Server-side apply every (manifest, namespace), ``workers`` at a time; refusals are answers."""
    def one(item: tuple[dict[str, Any], str]) -> Answer:
        doc, namespace = item
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        path = resource.path(name=doc["metadata"]["name"], namespace=namespace)
        try:
            dyn.request("patch", path, body=utf8_body(doc), content_type="application/apply-patch+yaml; charset=utf-8",
                        field_manager=FIELD_MANAGER, force_conflicts=True, _request_timeout=120)  # a hang guard
        except ApiException as error:
            return Answer(int(error.status or 0), rejection_message(error))
        except (OSError, urllib3.exceptions.HTTPError) as error:  # no answer within the guard: judged wrong
            return Answer(0, f"no answer: {error}")
        return Answer(200, "")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, docs))


def objects(dyn: dynamic.DynamicClient, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of the four kinds in ``namespace``, by (kind, name)."""
    found = {}
    for kind in ORDER:
        for item in dyn.resources.get(api_version=API, kind=kind).get(namespace=namespace).items:
            found[(kind, item.metadata.name)] = item.to_dict()
    return found


def current_conditions(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The conditions written for the object's current generation; None before the operator wrote any."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    generation = obj["metadata"].get("generation")
    accepted = [c for c in conditions if c.get("type") == "Accepted"]
    if not conditions or (accepted and accepted[0].get("observedGeneration") != generation):
        return None
    return list(conditions)


def warnings(api: client.ApiClient, namespace: str) -> dict[tuple[str, str], list[str]]:
    events = client.CoreV1Api(api).list_namespaced_event(namespace, field_selector="type=Warning").items
    found: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for event in events:
        found[(event.involved_object.kind, event.involved_object.name)].append(f"{event.reason}: {event.message}")
    return found


def spec_writers(obj: dict[str, Any]) -> list[str]:
    """Field managers other than the user's (the tests') that own anything under spec."""
    return [entry["manager"] for entry in obj["metadata"].get("managedFields") or []
            if entry.get("manager") != FIELD_MANAGER and "f:spec" in (entry.get("fieldsV1") or {})]


@dataclass
class Verdict:
    case: Case
    outcome: str           # the table's words: "rejected 422" / "Accepted=False UnknownNodePool" / ...
    problem: str | None    # why it is wrong, None when right


def judge(case: Case, answer: Answer, obj: dict[str, Any] | None, warned: list[str]) -> Verdict:
    if answer.status != 200:
        outcome = f"rejected at admission ({answer.status})"
        if case.expect == "accept":
            return Verdict(case, outcome, f"a valid edge case was refused: {answer.message[:300]}")
        if not 400 <= answer.status < 600 or not names(answer.message, case.needle):
            return Verdict(case, outcome, f"the refusal does not name {case.needle!r}: {answer.message[:400]}")
        return Verdict(case, outcome, None)
    if obj is None:
        return Verdict(case, "stored, then gone", "the object is not there")
    conditions = current_conditions(obj) or []
    false = [c for c in conditions if c.get("status") == "False"]
    accepted = next((c for c in conditions if c.get("type") == "Accepted"), None)
    if case.expect == "reject":
        return Verdict(case, "stored", f"the schema should have refused it; conditions: {conditions}")
    if case.expect == "accept" and accepted is not None and accepted["status"] == "True":
        return Verdict(case, "stored, Accepted=True", None)
    if case.expect == "accept" and not false:
        return Verdict(case, "stored, no condition", f"a valid edge case was not accepted: {conditions}")
    # A valid edge case the operator cannot carry out (a name too long for the child it makes) must
    # be refused like the rest: a False condition and a Warning Event.
    naming = false if case.expect == "accept" else [
        c for c in false if case.needle in (c.get("message") or "")
        and (not case.reasons or c.get("reason") in case.reasons)]
    if not naming:
        seen = [(c["type"], c["status"], c.get("reason"), c.get("message")) for c in conditions]
        wanted = f" with reason {case.reasons}" if case.reasons else ""
        return Verdict(case, "stored, " + (", ".join(f"{c['type']}=False {c.get('reason')}" for c in false)
                                           or "no False condition"),
                       f"no False condition naming {case.needle!r}{wanted}: {seen}")
    outcome = f"stored, {naming[0]['type']}=False {naming[0]['reason']}"
    if not warned:
        return Verdict(case, outcome, "no Warning Event")
    return Verdict(case, outcome, None)


def names(message: str, needle: str) -> bool:
    """Does the message name the field? List positions compare loosely: server-side apply names an
    element of a keyed list by its key (``[name="x"]``), validation by its index, and a missing key
    field by its list."""
    def loose(text: str) -> str:
        return re.sub(r"\[(\d+|[^\]\s]*=[^\]]*)\]", "[]", text)
    parents = {re.sub(r"\[\d+\]\.[^.\[]+$", "", needle), re.sub(r"\[(\d+)\]$", r": element \1", needle)}
    return any(loose(n) in loose(message) for n in {needle, *parents})


def wait_until(probe: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``probe()`` held (the guard raises past ``timeout``)."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - start


def table(verdicts: list[Verdict]) -> str:
    """The outcome table (markdown): kind, family, outcome, count; and admission refusals by field."""
    rows = collections.Counter((v.case.kind, v.case.family, v.outcome) for v in verdicts)
    lines = ["| kind | hostile input | outcome | count |", "| --- | --- | --- | ---: |"]
    lines += [f"| {k} | {f} | {o} | {n} |" for (k, f, o), n in sorted(rows.items())]
    fields = collections.Counter(_top(v.case.needle) if v.case.family != "unknownField" else "(unknown field)"
                                 for v in verdicts if v.outcome.startswith("rejected"))
    lines += ["", "| rejected at admission, field named | count |", "| --- | ---: |"]
    lines += [f"| {f} | {n} |" for f, n in fields.most_common()]
    return "\n".join(lines)


def _top(needle: str) -> str:
    parts = needle.replace("[", ".[").split(".")
    return ".".join(p for p in parts[:2] if p)
