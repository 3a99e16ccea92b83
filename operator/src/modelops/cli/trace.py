"""``modelops trace``: from one logged prediction to the data its model was trained on.

    modelops trace REQUEST_ID [--since 2026-08-01]                     # the id KServe logged (ce-id)
    modelops trace --key loan_id=L-1234 --since 2026-08-30 --until 2026-09-02 [-n NS] [--model M]

finds the prediction in the log sink's store (modelops.logsink.query: the id index, or the hour
partitions of the range, with pyarrow's row-group filters), prints its inputs and output, the
ModelVersion that served it and the rollout stage it was served in, then that ModelVersion's
lineage — TrainingRun, MLflow run, training data version, code commit, image — by the code of
``modelops lineage`` (reused, not copied). ``-o json`` prints the same as JSON.

The store: ``--store URL`` (a directory or ``s3://...``), or the sink's own configuration file
``--sink-config`` (store, storage options and redaction: a hashed key column is hashed here the
way the sink hashed it), or ``$MODELOPS_LOGSINK_STORE``. ``--no-lineage`` skips the API server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `modelops --help` and `modelops lineage` need no pyarrow
    from modelops.cli.lineage import Lineage
    from modelops.logsink.query import Finder

INPUT_PREFIX = "input."  # modelops.logsink.parquet.INPUT_PREFIX (a test keeps them equal)

ENV_STORE = "MODELOPS_LOGSINK_STORE"
_RELATIVE = re.compile(r"^(\d+)([dhm])$")


def parse_when(text: str, now: datetime) -> datetime:
    """``2026-08-30``, ``2026-08-30T10:15:00Z`` (UTC if no zone) or ``90d`` / ``36h`` / ``15m`` ago."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    try:
        when = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is neither a time (2026-08-30, 2026-08-30T10:15:00Z) nor an age (90d, 36h)") \
            from error
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def add_arguments(parser: Any) -> None:
    parser.add_argument("request_id", nargs="?", help="the request id (KServe's ce-id)")
    parser.add_argument("--key", metavar="COLUMN=VALUE", help="an input column and its value, e.g. loan_id=L-1234")
    parser.add_argument("--since", help="earliest time: 2026-08-30, an RFC 3339 time, or an age such as 100d")
    parser.add_argument("--until", help="latest time (default: now)")
    parser.add_argument("-n", "--namespace", help="only predictions of this namespace (with --key)")
    parser.add_argument("--model", help="only predictions of this model (with --key)")
    parser.add_argument("--store", help=f"store URL (default: --sink-config's, else ${ENV_STORE})")
    parser.add_argument("--sink-config", help="the log sink's configuration file (store, options, redaction)")
    parser.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="MLflow tracking server for the lineage (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--labels", action="store_true", help="also print labels joined to the prediction")
    parser.add_argument("--no-lineage", action="store_true", help="do not ask the API server for the lineage")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")


def find(args: Any, now: datetime) -> tuple[Finder, list[dict[str, Any]]]:
    """The store and the matching prediction rows; raises ValueError with what the user must fix."""
    from modelops.logsink.layout import Store
    from modelops.logsink.query import Finder
    from modelops.logsink.redaction import Redactor

    if bool(args.request_id) == bool(args.key):
        raise ValueError("give a request id, or --key COLUMN=VALUE with --since")
    options: dict[str, Any] = {}
    redactor = Redactor()
    url = args.store
    if args.sink_config:
        from modelops.logsink.config import ConfigError, load  # pydantic: only when there is a file

        try:
            config = load(args.sink_config)
        except ConfigError as error:
            raise ValueError(str(error)) from error
        url = url or config.store.url
        options = config.store.options
        redactor = Redactor.from_settings(config.redaction)
    url = url or os.environ.get(ENV_STORE)
    if not url:
        raise ValueError(f"no store: --store URL, --sink-config FILE or ${ENV_STORE}")
    finder = Finder(Store(url, options))
    since = parse_when(args.since, now) if args.since else None
    until = parse_when(args.until, now) if args.until else None
    if args.request_id:
        return finder, finder.by_ids([args.request_id], since, until)
    column, sep, value = args.key.partition("=")
    if not sep or not column:
        raise ValueError(f"--key {args.key!r}: must be COLUMN=VALUE, e.g. loan_id=L-1234")
    if since is None:
        raise ValueError("--key needs --since (and optionally --until): the hours between are searched")
    wanted = redactor.lookup(column, value)
    return finder, finder.by_key(column, wanted, since, until or now, namespace=args.namespace, model=args.model)


def _iso(value: Any) -> Any:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def prediction(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the record ``trace`` shows."""
    inputs = {k[len(INPUT_PREFIX):]: v for k, v in row.items() if k.startswith(INPUT_PREFIX) and v is not None}
    return {
        "requestId": row["request_id"], "instance": row["instance"], "time": _iso(row["time"]),
        "namespace": row["namespace"], "model": row["model"], "version": str(row["version"]),
        "modelversion": row["modelversion"], "stage": row["stage"] or None, "status": row["status"],
        "inferenceService": row["inference_service"], "component": row["component"], "pod": row["source"],
        "latencySeconds": row["latency_seconds"], "inputs": inputs, "prediction": row["prediction"],
        "score": row["score"],
    }


def render_prediction(record: dict[str, Any], labels: list[dict[str, Any]] | None) -> str:
    latency = f"  latency {record['latencySeconds'] * 1000:.0f} ms" if record["latencySeconds"] is not None else ""
    lines = [
        f"Prediction    {record['requestId']}  instance {record['instance']}  ({record['status']})",
        f"  served      {record['time']}{latency}",
        f"  by          ModelVersion {record['namespace']}/{record['modelversion']}  "
        f"(model {record['model']} version {record['version']})",
        f"  stage       {record['stage'] or '- (no rollout stage header: served outside a Rollout step)'}",
        f"  where       InferenceService {record['inferenceService']}  component {record['component'] or '-'}  "
        f"pod {record['pod']}",
        "  inputs      " + ("  ".join(f"{k}={v}" for k, v in sorted(record["inputs"].items())) or "-"),
        f"  output      {record['prediction'] if record['prediction'] is not None else '- (no response logged)'}"
        + (f"  score {record['score']:g}" if record["score"] is not None else ""),
    ]
    for label in labels or []:
        outcome = f"{label.get('metric')}={label.get('outcome')}" if label.get("metric") else ""
        lines.append(f"  label       {label.get('label') or '-'}  {outcome}  at {_iso(label.get('label_time'))}")
    return "\n".join(lines)


async def lineages(records: list[dict[str, Any]], mlflow_uri: str | None) -> dict[str, Lineage | str]:
    """The lineage of every ModelVersion that served one of the records (or why it is missing).
    Imported here: the Kubernetes client costs a third of a second to import, ``--no-lineage`` none."""
    from modelops.cli.lineage import gather
    from modelops.k8s.session import KubeSession
    from modelops.registry.mlflow import MLflowClient

    wanted = sorted({(r["namespace"], r["modelversion"]) for r in records})
    out: dict[str, Lineage | str] = {}
    try:
        session = await KubeSession.connect()
    except Exception as error:  # no kubeconfig, no cluster: the prediction still stands
        return {f"{ns}/{mv}": f"lineage unavailable: cannot reach the API server ({error})" for ns, mv in wanted}
    mlflow = MLflowClient(mlflow_uri) if mlflow_uri else None
    try:
        for namespace, name in wanted:
            try:
                out[f"{namespace}/{name}"] = await gather(session, mlflow, namespace, name)
            except LookupError as error:
                out[f"{namespace}/{name}"] = f"lineage unavailable: {error} (deleted since?)"
    finally:
        await session.close()
        if mlflow is not None:
            await mlflow.close()
    return out


async def run(args: Any) -> int:
    now = datetime.now(UTC)
    try:
        finder, rows = await asyncio.to_thread(find, args, now)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not rows:
        what = f"request id {args.request_id}" if args.request_id else f"{args.key} in the range given"
        print(f"no prediction found for {what}", file=sys.stderr)
        return 1
    records = [prediction(row) for row in rows]
    labels = [await asyncio.to_thread(finder.labels_for, row) for row in rows] if args.labels else None
    found = {} if args.no_lineage else await lineages(records, args.mlflow_uri)
    if found:
        from modelops.cli.lineage import as_dict, render_text
    if args.output == "json":
        document = {
            "predictions": [{**r, **({"labels": [{k: _iso(v) for k, v in lb.items()} for lb in labels[i]]}
                                     if labels is not None else {})} for i, r in enumerate(records)],
            "lineage": {key: (value if isinstance(value, str) else as_dict(value)) for key, value in found.items()},
        }
        print(json.dumps(document, indent=2, default=str))
        return 0
    blocks = [render_prediction(r, labels[i] if labels is not None else None) for i, r in enumerate(records)]
    for value in found.values():
        blocks.append(value if isinstance(value, str) else render_text(value))
    print("\n\n".join(blocks))
    return 0
