#!/usr/bin/env bash
# A real cluster for modelops on a machine with Docker: kind, cert-manager, a Gateway API
# implementation (Envoy Gateway, which brings the Gateway API CRDs), KServe in Standard
# (RawDeployment) mode with Gateway API routing, the Prometheus Operator with a Prometheus that
# selects every ServiceMonitor and PrometheusRule, then modelops itself from this checkout (the
# operator image built and loaded into kind, both charts installed).
#
#   hack/kind-up.sh            # create (or reuse) the cluster and install everything
#   hack/kind-up.sh --down     # delete the cluster
#
# Needs docker, kind, kubectl and helm on the PATH, and the internet. This project's own machines
# have no Docker, so this script is NOT run by `make test` (it is shellchecked there); the local
# control plane of `make dev` is what the tests use. The versions below were chosen together;
# override any of them from the environment, e.g. KSERVE_VERSION=v0.20.0 hack/kind-up.sh.
set -euo pipefail

CLUSTER="${CLUSTER:-modelops}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.34.0}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.17.2}"
ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-v1.5.0}"
KSERVE_VERSION="${KSERVE_VERSION:-v0.20.0}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.93.0}"
NAMESPACE="${NAMESPACE:-modelops}"
IMAGE="${IMAGE:-modelops/modelops:dev}"
MLFLOW_URI="${MLFLOW_URI:-}"   # e.g. http://mlflow.mlflow:5000; without it TrainingRuns say MLflowNotConfigured

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '\n==> %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "kind-up: $1 is not on the PATH" >&2; exit 1; }; }

if [[ "${1:-}" == "--down" ]]; then
  need kind
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

for tool in docker kind kubectl helm; do need "$tool"; done

say "kind cluster ${CLUSTER} (${KIND_NODE_IMAGE})"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --wait 120s
fi
kubectl config use-context "kind-${CLUSTER}"

say "cert-manager ${CERT_MANAGER_VERSION} (KServe's webhooks need its certificates)"
kubectl apply --server-side -f \
  "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout=300s

say "Envoy Gateway ${ENVOY_GATEWAY_VERSION} (Gateway API CRDs and an implementation)"
helm upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
  --namespace envoy-gateway-system --create-namespace --wait
kubectl apply --server-side -f - <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: envoy
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: inference-gateway
  namespace: envoy-gateway-system
spec:
  gatewayClassName: envoy
  listeners:
    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes:
        namespaces:
          from: All
EOF

say "KServe ${KSERVE_VERSION}: Standard (RawDeployment) mode, routed through Gateway API"
kubectl apply --server-side --force-conflicts -f \
  "https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve.yaml"
kubectl -n kserve wait --for=condition=Available deployment --all --timeout=300s
kubectl apply --server-side --force-conflicts -f \
  "https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve-cluster-resources.yaml"
# The deployment mode and the Gateway the InferenceServices attach to (inferenceservice-config;
# key names as KServe documents them for its Gateway API support: check them for your version).
kubectl -n kserve patch configmap inferenceservice-config --type merge -p "$(cat <<'EOF'
{"data": {
  "deploy": "{\"defaultDeploymentMode\": \"Standard\"}",
  "ingress": "{\"enableGatewayApi\": true, \"kserveIngressGateway\": \"envoy-gateway-system/inference-gateway\", \"ingressGateway\": \"envoy-gateway-system/inference-gateway\", \"ingressDomain\": \"example.com\", \"urlScheme\": \"http\"}"
}}
EOF
)"
kubectl -n kserve rollout restart deployment kserve-controller-manager
kubectl -n kserve rollout status deployment kserve-controller-manager --timeout=300s

say "Prometheus Operator ${PROMETHEUS_OPERATOR_VERSION} and a Prometheus that reads every ServiceMonitor and rule"
kubectl create namespace monitoring --dry-run=client -o yaml | kubectl apply -f -
kubectl apply --server-side -f \
  "https://github.com/prometheus-operator/prometheus-operator/releases/download/${PROMETHEUS_OPERATOR_VERSION}/bundle.yaml"
kubectl -n default wait --for=condition=Available deployment/prometheus-operator --timeout=300s
kubectl apply --server-side -f - <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: monitoring
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: modelops-kind-prometheus
rules:
  - apiGroups: [""]
    resources: [services, endpoints, pods]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - nonResourceURLs: [/metrics]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: modelops-kind-prometheus
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: modelops-kind-prometheus
subjects:
  - kind: ServiceAccount
    name: prometheus
    namespace: monitoring
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: prometheus
  namespace: monitoring
spec:
  serviceAccountName: prometheus
  serviceMonitorNamespaceSelector: {}
  serviceMonitorSelector: {}
  ruleNamespaceSelector: {}
  ruleSelector: {}
  resources:
    requests:
      memory: 400Mi
EOF

say "modelops: the image (${IMAGE}), built here and loaded into kind"
docker build -f "$REPO/operator/Dockerfile" -t "$IMAGE" "$REPO"
kind load docker-image "$IMAGE" --name "$CLUSTER"

say "modelops: CRDs, then the operator (namespace ${NAMESPACE})"
helm upgrade --install modelops-crds "$REPO/charts/modelops-crds" --wait
kubectl wait --for condition=Established crd -l app.kubernetes.io/part-of=modelops --timeout=60s
chart_args=(
  --namespace "$NAMESPACE" --create-namespace
  --set "image.repository=${IMAGE%:*}" --set "image.tag=${IMAGE##*:}" --set image.pullPolicy=Never
  --set "config.analysis.prometheusUrl=http://prometheus-operated.monitoring:9090"
  --set grafanaDashboard.enabled=true --set grafanaDashboard.namespace=monitoring
)
if [[ -n "$MLFLOW_URI" ]]; then
  chart_args+=(--set "config.mlflow.trackingUri=${MLFLOW_URI}")
fi
helm upgrade --install modelops "$REPO/charts/modelops" "${chart_args[@]}" --wait

say "ready"
cat >&2 <<EOF
  kubectl get modelops -A                      # the four kinds
  kubectl -n ${NAMESPACE} logs deploy/modelops    # the operator
  kubectl -n monitoring port-forward svc/prometheus-operated 9090   # Prometheus: alerts ModelopsOperatorDown, ...
  Gateway for HTTPRoutes: envoy-gateway-system/inference-gateway (examples/04 names it in parentRefs;
  set its namespace to envoy-gateway-system). Delete everything: hack/kind-up.sh --down
EOF
