"""The kopf entry module: importing it registers every handler (``kopf run -m modelops.main``)."""

from modelops.handlers import configuring, deleting, watching  # noqa: F401  (imported for registration)
