"""Facts modelops copies from upstream sources, compared with those sources at the pinned versions
(read from the Go module cache, as the CRDs are): when a pin moves, these fail until the copy does."""

from __future__ import annotations

import re

from localcluster import building, versions
from modelops.api.modelversion import KSERVE_STORAGE_SCHEMES


def test_storage_uri_schemes_are_kserves_own_list() -> None:
    source = building.module_dir(*versions.KSERVE_MODULE) / "pkg/controller/v1beta1/inferenceservice/utils/utils.go"
    match = re.search(r"SupportedStorageURIPrefixList\s*=\s*\[\]string\{([^}]*)\}", source.read_text())
    assert match is not None, f"SupportedStorageURIPrefixList not found in {source}"
    prefixes = re.findall(r'"([^"]+)"', match.group(1))
    assert [p.removesuffix("://") for p in prefixes] == list(KSERVE_STORAGE_SCHEMES)
