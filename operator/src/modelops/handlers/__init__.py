"""The thin kopf layer: decorators, startup settings, probes. No decisions live here."""
