"""``kubectl modelops dashboard``: a local, read-only web page over the Rollouts of a namespace (like
``kubectl argo rollouts dashboard``), served on 127.0.0.1 with no script and nothing fetched from
the internet: every chart is an inline SVG drawn on the server.

- ``gathering``: the I/O — GETs to the API server only (Rollouts, their routes, ModelVersions,
  TrainingRuns, DriftMonitors) and, when an address is given, Prometheus range queries;
- ``charts``: pure SVG drawing (time series, bars, the lineage graph);
- ``page``: pure HTML from what was gathered (steps, weights over time, measurements, drift,
  lineage), the part the unit tests pin;
- ``serving``: the aiohttp server (GET only) that gathers and renders on each request.
"""
