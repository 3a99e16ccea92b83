"""The kopf entry module: importing it registers every handler (``kopf run -m modelops.main``)."""

from modelops.handlers import accepting, configuring, rollouts, serving, training  # noqa: F401  (imported for registration)
