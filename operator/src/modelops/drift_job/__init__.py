"""The drift evaluation Job (``python -m modelops.drift_job``): reads a DriftMonitor, the logged
window of its served ModelVersion and a reference, computes the drift statistics with the numpy
engine (``core.drift``), writes an HTML report, and reports results in the DriftMonitor's status.

One module per activity: ``planning`` (pure: windows, partitions, shard split, run id),
``judging`` (pure: thresholds, status results, the verdict, the status patch), ``logs`` (reading
the sink's store), ``labelling`` (labels joined to predictions), ``sketching`` (Arrow columns into
sketches, the mergeable ``Partial``), ``reference`` (the reference summary, stored once),
``counting`` (the current window, shards' partials merged), ``reporting`` (HTML), ``artifacts``
(the reports root), ``cluster`` (the API server), ``running`` (one run in order), ``__main__``
(command line and exit codes). Nothing else in modelops imports this package.
"""
