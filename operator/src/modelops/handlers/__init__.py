"""The thin kopf layer, no decisions: ``configuring`` (settings decided once at startup, the
runtime started and stopped, the liveness probe), ``watching`` (every watch event handed to the
runtime) and ``deleting`` (the deletions that wait for the operator, behind its finalizer)."""
