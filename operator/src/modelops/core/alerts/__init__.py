"""Alerts the operator owns as PrometheusRule manifests (pure): ``drift`` for DriftMonitors."""
