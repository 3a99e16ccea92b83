"""InferenceService status as KServe writes it: no KServe controller runs in the test cluster, so
the tests play it, in KServe's own format (conditions, modelStatus). ``ready_status`` lives with
``localcluster serve``, which plays KServe the same way in ``make dev``."""

from __future__ import annotations

from localcluster.serving import ready_status

__all__ = ["ready_status"]
