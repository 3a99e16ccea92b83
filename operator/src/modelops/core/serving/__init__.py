"""Pure decisions about serving: the InferenceService a ModelVersion wants, what an
InferenceService's status means for the ModelVersion, and the role Rollouts give a version."""
