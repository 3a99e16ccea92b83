"""Bad input is rejected at admission by the real API server (schema and CEL), with a message
that names the field; immutable fields cannot change."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import dynamic
from kubernetes.client.rest import ApiException

from tests.support.manifests import REPO, apply, documents, expectation, rejection_message

INVALID = sorted(p for p in (REPO / "tests" / "invalid").glob("*.yaml") if not p.name.startswith("update-"))
UPDATES = sorted((REPO / "tests" / "invalid").glob("update-*.yaml"))


def test_there_are_enough_invalid_cases() -> None:
    assert len(INVALID) >= 15
    assert len(UPDATES) >= 2


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_manifest_is_rejected_naming_the_field(path: Path, dyn: dynamic.DynamicClient,
                                                       namespace: str) -> None:
    (doc,) = documents(path)
    with pytest.raises(ApiException) as caught:
        apply(dyn, doc, namespace)
    assert caught.value.status == 422, caught.value.body
    message = rejection_message(caught.value)
    assert expectation(path) in message, message


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.name)
def test_immutable_field_cannot_change(path: Path, dyn: dynamic.DynamicClient, namespace: str) -> None:
    original, changed = documents(path)
    apply(dyn, original, namespace)
    with pytest.raises(ApiException) as caught:
        apply(dyn, changed, namespace)
    assert caught.value.status == 422, caught.value.body
    message = rejection_message(caught.value)
    assert expectation(path) in message, message
