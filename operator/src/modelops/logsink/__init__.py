"""The prediction-log sink: KServe's request-logger CloudEvents in, durable partitioned Parquet out,
the metric contract the Rollout analysis reads, delayed labels joined to their predictions, and the
reading side behind ``modelops trace``.

Run it with ``python -m modelops.logsink --config FILE``. Modules, one concern each: ``events``
(the KServe wire format), ``payloads`` (v1/v2 flattening), ``signatures``, ``redaction``,
``records``, ``spool`` (durability), ``pairing``, ``parquet`` (writing), ``layout`` (the store),
``compaction``, ``retention``, ``labels``, ``query`` (reading), ``metrics``, ``sink`` (the record's
life), ``server`` (HTTP), ``config``.
"""
