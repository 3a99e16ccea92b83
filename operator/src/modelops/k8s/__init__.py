"""The only package that imports a Kubernetes client (kubernetes_asyncio): connecting, reading,
server-side applying, status patching and Events. Everything above it sees plain dicts and the
exceptions of ``modelops.k8s.errors``, so the client can change without touching decisions."""
