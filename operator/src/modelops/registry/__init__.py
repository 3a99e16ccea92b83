"""The model registry adapter: ``mlflow``, the operator's async client of MLflow's REST API
(experiments, runs, the Model Registry's versions, tags and aliases), with an error model that
tells a refusal from an outage."""
