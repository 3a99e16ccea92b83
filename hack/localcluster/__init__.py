"""The local stack the tests and ``make dev`` run on, with no Docker: a real Kubernetes control
plane built from Go modules (``building``, ``cluster``, ``certificates``, ``nodepools``,
``provisioning``, ``upstream_crds``, pinned in ``versions``), real servers beside it (``mlflow_server``,
``prometheus_server``, ``logsink_server``, ``s3_server``, all child processes through ``children``),
what plays KServe, the gateway and the model servers in ``make dev`` (``serving``, ``dataplane``,
``exporter``, ``kserve_logger``), the playing of training containers (``playing``), ``make dev``'s
live loop (``dev_loop``: the quick start applied, trained, served and drawn), the operator's
configuration for this cluster (``operator_config``), and the CLI (``__main__``).
"""
