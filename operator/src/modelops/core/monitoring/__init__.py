"""DriftMonitor decisions (pure): what the operator does with a monitor, apart from the drift
statistics themselves (``core.drift``, computed by the drift job).

- ``schedule``: cron expressions and time zones as the CronJob controller reads them;
- ``acceptance``: whether a monitor's spec is accepted, naming the field when it is not;
- ``children``: the CronJob running the drift job (sharded when the last window was large), and
  the job's ServiceAccount, Role and RoleBinding;
- ``retraining``: whether drift has persisted long enough to create a TrainingRun, and what it is;
- ``progress``: the whole plan of one reconcile (children, retraining, conditions, status).

The PrometheusRule lives in ``core.alerts.drift``.
"""
