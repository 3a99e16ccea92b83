"""The pinned versions of every part of the local control plane and of the upstream CRDs.

One place, so the build cache key, the CRD loader and the README agree. The etcd version is
the one controller-runtime's envtest matrix pairs with this Kubernetes release (1.36 -> 3.6.8),
which is also what k8s.io/kubernetes v1.36.3's own go.mod requires.
"""

KUBERNETES = "v1.36.3"
ETCD = "v3.6.8"
KWOK = "v0.8.0"
# Helm renders charts/ in the chart tests (`helm template`, then a server-side dry run).
HELM = "v3.22.0"

# Upstream projects whose CRDs are read from the Go module cache (never copied into the repo).
KSERVE_MODULE = ("github.com/kserve/kserve", "v0.20.0")
GATEWAY_API_MODULE = ("sigs.k8s.io/gateway-api", "v1.6.3")
ISTIO_API_MODULE = ("istio.io/api", "v1.32.0")
PROMETHEUS_OPERATOR_MODULE = ("github.com/prometheus-operator/prometheus-operator", "v0.93.0")

# Prometheus is not built: it is the Debian package `prometheus`, unpacked into the cache (see
# prometheus_binary.py) and keyed by its exact Debian version. This is the upstream release line the
# tests were written against (bookworm ships 2.42.0+ds); another candidate is used with a warning.
PROMETHEUS = "2.42"
