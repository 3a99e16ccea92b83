"""The dashboard's page without a cluster: from Rollout, DriftMonitor and lineage bodies in the shapes
the API server returns (validated by the API models), the HTML carries what a user looks for —
the rollout, its steps with the current one marked, the weights over time derived from history the
way the machine splits traffic, each check's measurements, drift per feature, the lineage graph —
with no script and nothing fetched from elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from modelops.api.driftmonitor import DriftMonitorStatus
from modelops.api.rollout import RolloutStatus
from modelops.cli.dashboard import page, series
from modelops.cli.dashboard.gathering import Board, RolloutData
from modelops.cli.lineage import Lineage
from tests.support.cli import measurement, rollout_body

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def _rollout() -> dict[str, Any]:
    body = rollout_body(analysis={
        "lastRun": "2026-03-01T11:59:30Z",
        "checks": [{"name": "error-rate",
                    "last": measurement("error-rate", "2026-03-01T11:59:30Z", "Successful", 0.004),
                    "successful": 3, "failed": 0, "inconclusive": 0, "error": 0}],
        "measurements": [measurement("error-rate", f"2026-03-01T11:5{i}:30Z", "Successful", 0.001 * i)
                         for i in (7, 8, 9)],
    }, route="HTTPRoute/fraud")
    RolloutStatus.model_validate(body["status"])  # the operator's own shape
    return body


def _lineage() -> Lineage:
    mv = {"metadata": {"name": "fraud-v2", "namespace": "ml"},
          "spec": {"model": "fraud", "version": "2", "lineage": {
              "trainingRun": "fraud-train-2", "data": {"uri": "s3://data/fraud", "version": "2026-02"},
              "code": {"repo": "https://git.example/fraud", "commit": "0123456789abcdef"}, "image": "train:1"}},
          "status": {"ready": True}}
    return Lineage("ml", mv, training_run={"status": {"phase": "Succeeded"}})


def _monitor() -> dict[str, Any]:
    status = {"verdict": "Drift", "servedModelVersion": "fraud-v1", "rowsSeen": 5000, "consecutiveDrifted": 2,
              "window": {"start": "2026-03-01T11:00:00Z", "end": "2026-03-01T12:00:00Z"},
              "results": [{"feature": "amount", "statistic": "psi", "value": 0.31, "threshold": 0.2, "drifted": True},
                          {"feature": "age", "statistic": "ks", "value": 0.02, "threshold": 0.1, "drifted": False}]}
    DriftMonitorStatus.model_validate(status)
    return {"metadata": {"name": "fraud-drift", "namespace": "ml"}, "status": status}


def _page() -> Elements:
    route = {"kind": "HTTPRoute", "spec": {"rules": [
        {"name": "candidate-variant", "matches": [{"headers": [{"name": "x"}]}], "backendRefs": [{"name": "c"}]},
        {"name": "split", "matches": [{"path": {"value": "/"}}],
         "backendRefs": [{"name": "fraud-v1-predictor", "weight": 95}, {"name": "fraud-v2-predictor", "weight": 5}]}]}}
    data = RolloutData(_rollout(), route=route, lineages={"fraud-v2": _lineage()})
    return Elements(page.render(Board("ml", NOW, [data], [_monitor()]), NOW))


def test_the_page_shows_the_rollout_its_steps_and_marks_the_current_one() -> None:
    html = _page()
    (section,) = html.find("section", data_rollout="fraud")
    assert section["data-phase"] == "Progressing"
    steps = [a for t, a in html.tags if t == "li" and "step" in (a.get("class") or "")]
    assert [s["data-step"] for s in steps] == ["shadow", "canary-5", "ab-test", "full"]
    assert [s["class"] for s in steps] == ["step done", "step current", "step next", "step next"]
    assert steps[1].get("aria-current") == "step"
    assert "fraud-v1-predictor 95, fraud-v2-predictor 5" in "".join(html.text)  # the route now


def test_weights_follow_the_history_the_way_the_machine_splits() -> None:
    weights = series.weights_over_time(_rollout(), NOW)
    # TargetChanged at 11:40 starts from 100% stable; canary-5 starts at 11:50 (95/5); now: status.traffic.
    at = [datetime(2026, 3, 1, 11, m, tzinfo=UTC).timestamp() for m in (40, 50)]
    assert weights["stable"] == [(at[0], 100.0), (at[1], 95.0), (NOW.timestamp(), 95.0)]
    assert [v for _, v in weights["candidate"]] == [0.0, 5.0, 5.0] and "mirror" not in weights
    (chart,) = _page().find("svg", id="weights-ml-fraud")
    assert chart["data-series"] == "stable,candidate" and chart["data-points"] == "6"


def test_measurements_are_charted_per_check() -> None:
    (chart,) = _page().find("svg", id="measurements-ml-fraud")
    assert chart["data-series"] == "error-rate" and chart["data-points"] == "3"
    assert _page().find("polyline", data_series="error-rate")


def test_lineage_is_a_graph_from_the_inputs_to_the_version() -> None:
    html = _page()
    (chart,) = html.find("svg", id="lineage-ml-fraud-fraud-v2")
    assert chart["data-nodes"] == "5" and chart["data-edges"] == "4"
    kinds = [a["data-kind"] for t, a in html.tags if t == "g" and a.get("class") == "node"]
    assert kinds == ["Data", "Code", "Image", "TrainingRun", "ModelVersion"]


def test_drift_is_one_bar_per_feature_the_drifted_ones_flagged() -> None:
    html = _page()
    (chart,) = html.find("svg", id="drift-ml-fraud-drift")
    assert chart["data-bars"] == "2"
    flagged = {a["data-label"]: a["data-flagged"] for t, a in html.tags if t == "g" and a.get("class") == "bar"}
    assert flagged == {"amount (psi)": "true", "age (ks)": "false"}


def test_the_page_is_self_contained() -> None:
    html = _page()
    assert not [a for t, a in html.tags if t == "script"]
    sources = [v for _, a in html.tags for k, v in a.items() if k in ("src", "href") and v]
    assert sources == []
    empty = Elements(page.render(Board("ml", NOW), NOW))
    assert "no Rollouts here" in "".join(empty.text)
