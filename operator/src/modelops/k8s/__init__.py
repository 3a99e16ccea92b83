"""The only package that talks to the Kubernetes API: logging in, reading, server-side applying,
status patching and Events, over the operator's own small REST client (``rest``; no generated
client library, see there why). Everything above it sees plain dicts and the exceptions of
``modelops.k8s.errors``, so the transport can change without touching decisions."""
