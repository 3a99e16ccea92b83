"""Joining the sink's labels to logged predictions, for performance drift.

Owns the join: a label stored for ``(request id, instance)`` applies to that instance, one stored
without an instance to every instance of the call; labels are binary outcomes (0/1, true/false,
as JSON) — anything else is not a classification label and is left out; the latest-received label
of a prediction wins. Only rows with a score in [0, 1] count (what AUC and calibration need).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelops.drift_job.logs import labels_by_request
from modelops.drift_job.sketching import Labelled, numeric_values, row_keys
from modelops.logsink.layout import Store
from modelops.logsink.parquet import INPUT_PREFIX


def labelled_rows(store: Store, files: Sequence[str], table: pa.Table, slices: Sequence[str]) -> Labelled:
    """The labelled rows of ``table`` (a window's predictions) with their slice values."""
    if not files or table.num_rows == 0 or "request_id" not in table.column_names \
            or "score" not in table.column_names:
        return Labelled()
    ids = table.column("request_id").to_pylist()
    labels = labels_by_request(store, files, set(ids))
    if not labels:
        return Labelled()
    instances = table.column("instance").to_pylist() if "instance" in table.column_names else [None] * len(ids)
    scores = numeric_values(table.column("score"))
    keys = row_keys(table)
    chosen: list[int] = []
    values: list[float] = []
    for i, (rid, inst) in enumerate(zip(ids, instances, strict=True)):
        label = labels.get((rid, inst), labels.get((rid, None)))
        if label is not None and 0.0 <= scores[i] <= 1.0:
            chosen.append(i)
            values.append(label)
    out = Labelled([keys[i] for i in chosen], values, [float(scores[i]) for i in chosen])
    if not chosen:
        return out
    take = pa.array(chosen, pa.int64())
    for name in slices:
        column = INPUT_PREFIX + name
        if column in table.column_names:
            texts = pc.cast(table.column(column), pa.string()).take(take).to_pylist()
        else:
            texts = [None] * len(chosen)
        out.slices[name] = ["" if v is None else v for v in texts]
    assert np.all(np.isin(out.labels, (0.0, 1.0)))
    return out
