"""``kubectl modelops dashboard`` against the local control plane, seen through headless Chromium
(Debian's package, unpacked by hack/localcluster/chromium.py): a Rollout driven by the operator
through two timed canaries into a pause, its analysis measured by the real Prometheus, versions
with a recorded lineage — and in the page a user opens: the rollout's name, its steps with the
current one marked, the weights chart, the measurements chart and the lineage graph; the
screenshot a PNG of the size asked for, not blank."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from localcluster.cluster import LocalCluster
from localcluster.prometheus_server import PrometheusServer
from modelops.cli.dashboard import gathering
from tests.support.browser import capture, dashboard
from tests.support.manifests import apply
from tests.support.names import unique
from tests.support.rollouts import API, Env, gateway
from tests.support.waiting import wait_for

STEPS = [{"canary": {"weight": 10, "duration": "2s"}},
         {"canary": {"weight": 40, "duration": "2s"}},
         {"name": "hold", "pause": {}}]
ANALYSIS = {"interval": "1s", "checks": [{"name": "latency-p99", "prometheus": {"query": "vector(0.042)"},
                                          "max": 1}]}
WIDTH, HEIGHT = 1280, 2000


class Dom(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def having(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def _version(env: Env, model: str, name: str) -> str:
    apply(env.dyn, {"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
                    "spec": {"model": model, "version": name.rsplit("-v", 1)[-1],
                             "artifact": {"storageUri": f"s3://models/{name}/", "format": "sklearn"},
                             "serving": {"minReplicas": 1},
                             "lineage": {"trainingRun": f"{name}-train", "data": {"uri": "s3://data/fraud",
                                                                                 "version": "2026-02"},
                                         "code": {"repo": "https://git.example/fraud", "commit": "0123abcd"},
                                         "image": "registry.example/train:1"}}}, env.namespace)
    env.make_ready(name)
    return name


def test_the_dashboard_shows_what_a_user_looks_for(rollout_env: Env, cluster: LocalCluster, tmp_path: Path) -> None:
    env = rollout_env
    model = unique("board")
    v1, v2 = (_version(env, model, f"{model}-v{i}") for i in (1, 2))
    env.rollout(model, model, v1, gateway(model), STEPS, analysis=ANALYSIS)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    wait_for(lambda: env.status(model).get("currentStepName") == "hold", 90, "the pause step")
    wait_for(lambda: len((env.status(model).get("analysis") or {}).get("measurements") or []) >= 2, 60,
             "two measurements at the pause step")
    status = env.status(model)
    assert status["phase"] == "Paused" and status["traffic"]["candidate"] == 40

    with dashboard(cluster.kubeconfig, env.namespace) as url:
        seen = capture(url, tmp_path, WIDTH, HEIGHT)
        with pytest.raises(urllib.error.HTTPError) as refused:  # read-only: nothing but GET is routed
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=10)
        assert refused.value.code == 405
    dom = Dom(seen.dom)

    (section,) = dom.having("section", data_rollout=model)
    assert section["data-phase"] == "Paused"
    assert dom.having("h2", **{"class": "rollout-name"})
    steps = [a for t, a in dom.tags if t == "li" and "step" in (a.get("class") or "").split()]
    assert [(s["data-step"], s["class"]) for s in steps] == [
        ("canary-0", "step done"), ("canary-1", "step done"), ("hold", "step current"), ("full-3", "step next")]
    (weights,) = dom.having("svg", id=f"weights-{env.namespace}-{model}")
    assert weights["data-series"] == "stable,candidate" and int(weights["data-points"] or 0) >= 6
    (measured,) = dom.having("svg", id=f"measurements-{env.namespace}-{model}")
    assert measured["data-series"] == "latency-p99" and int(measured["data-points"] or 0) >= 2
    (lineage,) = dom.having("svg", id=f"lineage-{env.namespace}-{model}-{v2}")
    assert lineage["data-nodes"] == "5" and lineage["data-edges"] == "4"
    assert dom.having("svg", id=f"lineage-{env.namespace}-{model}-{v1}")
    assert not dom.having("script")

    with Image.open(seen.screenshot) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, f"a blank screenshot ({colours and len(colours)} colours)"


def test_series_are_read_from_a_real_prometheus(prometheus_server: PrometheusServer) -> None:
    """``--prometheus``: the page's series come from ``query_range``, one per value of a label."""

    async def read() -> dict[str, list[tuple[float, float]]]:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(ValueError, match="bad_data"):
                await gathering.query_range(http, prometheus_server.url, "rate(", "job")
            return await gathering.query_range(http, prometheus_server.url,
                                               'label_replace(vector(7), "check", "latency-p99", "", "")', "check")

    found = asyncio.run(read())
    assert list(found) == ["latency-p99"] and found["latency-p99"] and {v for _, v in found["latency-p99"]} == {7.0}
