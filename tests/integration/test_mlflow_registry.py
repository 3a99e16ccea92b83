"""The MLflow adapter (modelops.registry.mlflow) against a real MLflow tracking server and
Model Registry. No Kubernetes cluster is needed (these tests never request `cluster`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from aiohttp import web

from localcluster.cluster import free_port
from localcluster.mlflow_server import MLflowServer
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import MLflowError, MLflowUnavailable, ModelVersionInfo, RunInfo
from tests.support.names import unique

T = TypeVar("T")


def run(server: MLflowServer, body: Callable[[MLflowClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with MLflowClient(server.url) as client:
            return await body(client)

    return asyncio.run(main())



def test_experiment_get_or_create_is_idempotent(mlflow_server: MLflowServer) -> None:
    name = unique("exp")

    async def body(c: MLflowClient) -> tuple[str, str, list[str]]:
        first = await c.get_or_create_experiment(name)
        second = await c.get_or_create_experiment(name)
        # A create race: many reconciles at once all end with the same experiment.
        raced = await asyncio.gather(*(c.get_or_create_experiment(name + "-race") for _ in range(5)))
        return first, second, list(raced)

    first, second, raced = run(mlflow_server, body)
    assert first == second
    assert first.isdigit()
    assert len(set(raced)) == 1
    assert raced[0] != first


def test_run_create_find_tags_params_status(mlflow_server: MLflowServer) -> None:
    uid = str(uuid.uuid4())

    async def body(c: MLflowClient) -> tuple[str, RunInfo, RunInfo | None, RunInfo | None, RunInfo | None]:
        exp = await c.get_or_create_experiment(unique("runs"))
        assert await c.find_run_by_tag(exp, "modelops.io/uid", uid) is None
        created = await c.create_run(exp, "train-1", {"modelops.io/uid": uid, "modelops.io/name": "train-1"})
        found = await c.find_run_by_tag(exp, "modelops.io/uid", uid)
        # A different value of the same key, and a value with a quote, find nothing.
        assert await c.find_run_by_tag(exp, "modelops.io/uid", uid + "x") is None
        assert await c.find_run_by_tag(exp, "modelops.io/uid", "it's") is None

        await c.set_tags(created.run_id, {"modelops.io/image": "repo@sha256:abc", "modelops.io/seed": "42"})
        await c.set_tags(created.run_id, {"modelops.io/seed": "43"})  # tags may change
        params = {"learningRate": "0.1", "maxDepth": "3"}
        await c.log_params(created.run_id, params)
        await c.log_params(created.run_id, params)  # re-logging the same values is fine
        with pytest.raises(MLflowError) as changed:
            await c.log_params(created.run_id, {"learningRate": "0.2"})
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
        assert not isinstance(changed.value, MLflowUnavailable)
        # More than MLflow's 100 params/tags per batch is split into several calls.
        await c.set_tags(created.run_id, {f"bulk.{i}": str(i) for i in range(150)})
        logged = await c.get_run(created.run_id)

        await c.set_run_status(created.run_id, "FINISHED")
        finished = await c.get_run(created.run_id)
        assert await c.get_run(uuid.uuid4().hex) is None
        return exp, created, found, logged, finished

    exp, created, found, logged, finished = run(mlflow_server, body)
    assert created.experiment_id == exp
    assert created.status == "RUNNING"
    assert created.start_time_ms is not None and created.end_time_ms is None
    assert created.artifact_uri.startswith("mlflow-artifacts:/")
    assert created.tags["modelops.io/uid"] == uid
    assert found is not None and found.run_id == created.run_id

    assert logged is not None
    assert logged.params == {"learningRate": "0.1", "maxDepth": "3"}
    assert logged.tags["modelops.io/image"] == "repo@sha256:abc"
    assert logged.tags["modelops.io/seed"] == "43"
    assert logged.tags["bulk.149"] == "149"

    assert finished is not None and finished.status == "FINISHED"
    assert finished.end_time_ms is not None and finished.end_time_ms >= (created.start_time_ms or 0)


def test_get_run_of_unknown_id_is_none(mlflow_server: MLflowServer) -> None:
    assert run(mlflow_server, lambda c: c.get_run(uuid.uuid4().hex)) is None


def test_find_run_by_tag_returns_the_newest(mlflow_server: MLflowServer) -> None:
    async def body(c: MLflowClient) -> tuple[RunInfo, RunInfo | None]:
        exp = await c.get_or_create_experiment(unique("newest"))
        await c.create_run(exp, "old", {"modelops.io/uid": "same"})
        await asyncio.sleep(0.01)
        newer = await c.create_run(exp, "new", {"modelops.io/uid": "same"})
        return newer, await c.find_run_by_tag(exp, "modelops.io/uid", "same")

    newer, found = run(mlflow_server, body)
    assert found is not None and found.run_id == newer.run_id


def test_set_run_status_failed_with_explicit_end_time_and_metrics(mlflow_server: MLflowServer) -> None:
    async def body(c: MLflowClient) -> RunInfo | None:
        exp = await c.get_or_create_experiment(unique("status"))
        created = await c.create_run(exp, "r", {})
        await c.set_run_status(created.run_id, "FAILED", end_time_ms=(created.start_time_ms or 0) + 1234)
        return await c.get_run(created.run_id)

    failed = run(mlflow_server, body)
    assert failed is not None
    assert failed.status == "FAILED"
    assert failed.start_time_ms is not None
    assert failed.end_time_ms == failed.start_time_ms + 1234
    assert failed.metrics == {}

    with pytest.raises(ValueError):
        run(mlflow_server, lambda c: c.set_run_status("whatever", "DONE"))


def test_registered_model_versions_tags_and_aliases(mlflow_server: MLflowServer) -> None:
    model = unique("model")

    async def body(c: MLflowClient) -> dict[str, object]:
        out: dict[str, object] = {}
        exp = await c.get_or_create_experiment(unique("registry"))
        r = await c.create_run(exp, "train", {})
        await c.ensure_registered_model(model, {"modelops.io/managed-by": "modelops"})
        await c.ensure_registered_model(model, {"other": "ignored"})  # adopt: no error, no change
        await asyncio.gather(*(c.ensure_registered_model(model + "-race") for _ in range(4)))

        out["before"] = await c.find_model_version_by_run(model, r.run_id)
        v1 = await c.create_model_version(
            model, f"{r.artifact_uri}/model", r.run_id, {"modelops.io/trainingrun": "ns/train"}, "first"
        )
        out["v1"] = v1
        out["found"] = await c.find_model_version_by_run(model, r.run_id)
        out["other_run"] = await c.find_model_version_by_run(model, uuid.uuid4().hex)
        out["no_model"] = await c.find_model_version_by_run(model + "-missing", r.run_id)
        await c.set_model_version_tag(model, v1.version, "modelops.io/analysis", "failed: auc 0.6 < 0.9")
        out["got"] = await c.get_model_version(model, v1.version)
        out["missing_version"] = await c.get_model_version(model, "999")
        out["missing_model"] = await c.get_model_version(model + "-missing", "1")
        v2 = await c.create_model_version(model, "s3://bucket/elsewhere/model", None, {})
        out["v2"] = v2

        out["alias_none"] = await c.get_model_version_by_alias(model, "champion")
        out["alias_no_model"] = await c.get_model_version_by_alias(model + "-missing", "champion")
        await c.set_alias(model, "champion", v1.version)
        await c.set_alias(model, "challenger", v2.version)
        out["champion"] = await c.get_model_version_by_alias(model, "champion")
        await c.set_alias(model, "champion", v2.version)  # promotion moves the alias
        out["moved"] = await c.get_model_version_by_alias(model, "champion")
        await c.delete_alias(model, "challenger")
        await c.delete_alias(model, "challenger")  # twice: no error
        await c.delete_alias(model + "-missing", "challenger")  # no model: no error
        out["challenger_gone"] = await c.get_model_version_by_alias(model, "challenger")
        out["v1_after"] = await c.get_model_version(model, v1.version)
        with pytest.raises(MLflowError) as bad_alias:
            await c.set_alias(model, "champion", "999")
        out["bad_alias_code"] = bad_alias.value.error_code
        return out

    out = run(mlflow_server, body)
    assert out["before"] is None
    v1 = out["v1"]
    assert isinstance(v1, ModelVersionInfo)
    assert v1.name == model and v1.version == "1" and v1.status == "READY"
    assert v1.source.endswith("/model") and v1.run_id is not None
    assert v1.tags == {"modelops.io/trainingrun": "ns/train"}
    found = out["found"]
    assert isinstance(found, ModelVersionInfo) and found.version == "1" and found.run_id == v1.run_id
    assert out["other_run"] is None and out["no_model"] is None
    got = out["got"]
    assert isinstance(got, ModelVersionInfo)
    assert got.tags["modelops.io/analysis"] == "failed: auc 0.6 < 0.9"
    assert out["missing_version"] is None and out["missing_model"] is None
    v2 = out["v2"]
    assert isinstance(v2, ModelVersionInfo) and v2.version == "2" and v2.run_id is None

    assert out["alias_none"] is None and out["alias_no_model"] is None
    champion = out["champion"]
    assert isinstance(champion, ModelVersionInfo) and champion.version == "1"
    assert "champion" in champion.aliases
    moved = out["moved"]
    assert isinstance(moved, ModelVersionInfo) and moved.version == "2"
    assert set(moved.aliases) == {"champion", "challenger"}
    assert out["challenger_gone"] is None
    v1_after = out["v1_after"]
    assert isinstance(v1_after, ModelVersionInfo) and v1_after.aliases == ()
    assert out["bad_alias_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_model_version_source_outside_the_run_is_refused(mlflow_server: MLflowServer) -> None:
    async def body(c: MLflowClient) -> None:
        model = unique("strict")
        exp = await c.get_or_create_experiment(unique("strict"))
        r = await c.create_run(exp, "train", {})
        await c.ensure_registered_model(model)
        await c.create_model_version(model, "mlflow-artifacts:/0/someone-else/artifacts/model", r.run_id, {})

    with pytest.raises(MLflowError) as refused:
        run(mlflow_server, body)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert refused.value.status == 400


def test_run_url_and_credentials_never_leak() -> None:
    client = MLflowClient("https://bot:s3cret@mlflow.example.com:5000/")
    assert client.run_url("3", "abc") == "https://mlflow.example.com:5000/#/experiments/3/runs/abc"
    assert "s3cret" not in repr(client) and "s3cret" not in client.tracking_uri
    ui = MLflowClient("http://mlflow.mlflow.svc:5000", ui_url="https://mlflow.example.com/")
    assert ui.run_url("1", "r") == "https://mlflow.example.com/#/experiments/1/runs/r"


def test_unreachable_server_is_unavailable() -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    async def body() -> None:
        async with MLflowClient(closed, timeout=2) as c:
            await c.get_or_create_experiment("x")

    with pytest.raises(MLflowUnavailable) as unavailable:
        asyncio.run(body())
    assert isinstance(unavailable.value, MLflowError)
    assert "experiments/get-by-name" in str(unavailable.value)


def test_credentials_reach_the_server_and_not_the_error(mlflow_server: MLflowServer) -> None:
    """userinfo in the tracking URI becomes basic auth; MLflow without auth ignores it."""
    url = mlflow_server.url.replace("http://", "http://bot:s3cret@")

    async def body() -> str:
        async with MLflowClient(url) as c:
            exp = await c.get_or_create_experiment(unique("auth"))
            try:
                await c.log_params("not-a-run", {"a": "b"})
            except MLflowError as exc:
                return f"{exp} {exc}"
            raise AssertionError("logging to an unknown run must fail")

    message = asyncio.run(body())
    assert "s3cret" not in message
    assert "runs/log-batch" in message


# -- Answers a healthy sqlite-backed server never gives, from a scripted stand-in -----------------


def with_scripted_server(
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
    body: Callable[[MLflowClient], Awaitable[T]],
) -> T:
    async def main() -> T:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_route("*", "/api/2.0/mlflow/" + path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with MLflowClient(f"http://127.0.0.1:{port}", timeout=5) as client:
                return await body(client)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def test_pending_registration_is_polled_until_ready() -> None:
    answers = iter(["PENDING_REGISTRATION", "PENDING_REGISTRATION", "READY"])
    gets = []

    def version(status: str) -> dict[str, object]:
        return {"model_version": {"name": "m", "version": "3", "source": "s3://b/m", "status": status}}

    async def create(request: web.Request) -> web.Response:
        assert (await request.json())["name"] == "m"
        return web.json_response(version("PENDING_REGISTRATION"))

    async def get(request: web.Request) -> web.Response:
        gets.append(dict(request.query))
        return web.json_response(version(next(answers)))

    ready = with_scripted_server(
        {"model-versions/create": create, "model-versions/get": get},
        lambda c: c.create_model_version("m", "s3://b/m", None, {}),
    )
    assert ready.status == "READY" and ready.version == "3" and ready.run_id is None
    assert gets == [{"name": "m", "version": "3"}] * 3


def test_failed_registration_is_an_error() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"model_version": {"name": "m", "version": "1", "status": "FAILED_REGISTRATION"}})

    with pytest.raises(MLflowError) as failed:
        with_scripted_server({"model-versions/create": answer}, lambda c: c.create_model_version("m", "s", None, {}))
    assert failed.value.error_code == "FAILED_REGISTRATION"
    assert not isinstance(failed.value, MLflowUnavailable)


@pytest.mark.parametrize(
    ("status", "payload", "unavailable", "code"),
    [
        (503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "db locked"}, True, "TEMPORARILY_UNAVAILABLE"),
        (500, "<html>Internal Server Error</html>", True, None),
        (429, {"error_code": "RESOURCE_EXHAUSTED", "message": "slow down"}, True, "RESOURCE_EXHAUSTED"),
        (403, "Invalid Host header - possible DNS rebinding attack detected", False, None),
        (401, {"error_code": "UNAUTHENTICATED", "message": "who are you"}, False, "UNAUTHENTICATED"),
        (404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}, False, "ENDPOINT_NOT_FOUND"),
        (200, "not json", False, None),
    ],
)
def test_error_answers(status: int, payload: object, unavailable: bool, code: str | None) -> None:
    async def answer(request: web.Request) -> web.Response:
        if isinstance(payload, dict):
            return web.json_response(payload, status=status)
        return web.Response(text=str(payload), status=status)

    with pytest.raises(MLflowError) as raised:
        with_scripted_server({"runs/get": answer}, lambda c: c.get_run("r"))
    assert isinstance(raised.value, MLflowUnavailable) is unavailable
    assert raised.value.error_code == code
    assert raised.value.status == status
    assert "GET runs/get" in str(raised.value)
    if status == 403:
        assert "Invalid Host header" in str(raised.value)
