"""Pure decisions about training: the Job a TrainingRun wants, its evaluation gates, and the
state machine from Job and MLflow run observations to status and actions."""
