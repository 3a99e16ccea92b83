"""The log sink's configuration: one YAML file (the chart renders it into a ConfigMap), camelCase
keys, unknown keys refused with their path, every duration Go-style (``30s``, ``5m``, ``1h``).

Owns the settings model and loading it (``load``); nothing here starts anything.

```yaml
listen: 0.0.0.0:8080                  # ingest (POST any path but the ones below), /labels, /metrics, /healthz, /readyz
store: {url: s3://ml-logs/prod, options: {client_kwargs: {endpoint_url: ...}}}   # default file:///var/lib/...
spoolDir: /var/lib/modelops-logsink/spool
pairTimeout: 30s                      # a half without its other half is written alone after this
flushInterval: 5s                     # how often complete rows become Parquet
bufferRecords: 200000                 # records held in memory; past it, 503 + Retry-After
maxBodyBytes: 10485760
unansweredCode: "500"                 # the code a request KServe logged no response for counts under
retentionDays: 400                    # absent: keep forever
dedupeWindow: 2m                      # how long flushed ids are remembered (and the spool kept) to drop resends
compaction: {interval: 5m, grace: 5m, lookbackDays: 3}
redaction: {drop: [ssn], hash: [email], hashKeyFile: /etc/modelops-logsink/hash-key}
auth: {tokenFile: /etc/modelops-logsink/token, ingest: false, labels: true}
signatures: {source: kubernetes, cacheTtl: 5m}   # or: {source: static, static: {fraud-detector-v3: [amount, age]}}
```
"""

from __future__ import annotations

import os
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from modelops.core.durations import parse_duration

DEFAULT_ROOT = Path("/var/lib/modelops-logsink")
ENV_CONFIG = "MODELOPS_LOGSINK_CONFIG"
ENV_TOKEN = "MODELOPS_LOGSINK_TOKEN"
ENV_HASH_KEY = "MODELOPS_LOGSINK_HASH_KEY"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the field."""


class SpecModel(BaseModel):
    """The conventions of ``modelops.api`` (camelCase keys, unknown keys refused), without importing
    it: the CRD models take a second to build, which ``modelops trace`` (reading this file) and
    the sink's start have no use for."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# The duration syntax the CRDs accept (api.common.DURATION_PATTERN), checked by parse_duration.
Duration = Annotated[str, Field(pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", min_length=2, max_length=32)]


class StoreSettings(SpecModel):
    """Where Parquet goes: any fsspec URL (a local path, ``file://``, ``s3://bucket/prefix``, ``gs://``...)."""

    url: str = Field(str(DEFAULT_ROOT / "store"), min_length=1, description="Root of the store.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="fsspec storage options, e.g. {client_kwargs: {endpoint_url: ...}}."
    )


class CompactionSettings(SpecModel):
    interval: Duration = Field("5m", description="How often closed hours are looked at.")
    grace: Duration = Field("5m", description="How long after its end an hour counts as closed.")
    lookback_days: int = Field(3, ge=0, description="Days scanned for unfinished work at start.")


class RedactionSettings(SpecModel):
    """Input columns (feature names) dropped or hashed before anything is written, spool included."""

    drop: list[str] = Field(default_factory=list, description="Features never stored.")
    hash: list[str] = Field(default_factory=list, description="Features stored as HMAC-SHA256 of their value.")
    hash_key_file: str | None = Field(
        None, description=f"File with the HMAC key (else ${ENV_HASH_KEY}); required when `hash` is set."
    )


class AuthSettings(SpecModel):
    token_file: str | None = Field(None, description=f"File with the bearer token (else ${ENV_TOKEN}).")
    ingest: bool = Field(False, description="Require the token on ingest (KServe's agent sends none).")
    labels: bool = Field(True, description="Require the token on /labels (when a token is configured).")


class SignatureSource(StrEnum):
    NONE = "none"
    STATIC = "static"
    KUBERNETES = "kubernetes"


class SignatureSettings(SpecModel):
    source: SignatureSource = Field(SignatureSource.NONE, description="Where input names come from.")
    static: dict[str, list[str]] = Field(
        default_factory=dict,
        description="ModelVersion name (or namespace/name) -> input names, for source: static.",
    )
    cache_ttl: Duration = Field("5m", description="How long a ModelVersion's signature is cached.")


class LogSinkConfig(SpecModel):
    listen: str = Field("0.0.0.0:8080", description="host:port to serve on.")
    store: StoreSettings = Field(default_factory=StoreSettings)
    spool_dir: str = Field(str(DEFAULT_ROOT / "spool"), min_length=1, description="Local append-only spool.")
    pair_timeout: Duration = Field("30s")
    flush_interval: Duration = Field("5s")
    flush_rows: int = Field(50_000, ge=1, description="Flush early once this many rows are complete.")
    buffer_records: int = Field(200_000, ge=1, description="Records in memory before answering 503.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_labels: int = Field(10_000, ge=1, description="Labels in one POST /labels.")
    unanswered_code: str = Field("500", pattern=r"^[0-9A-Za-z_]{1,16}$")
    retention_days: int | None = Field(None, ge=1)
    dedupe_window: Duration = Field("2m")
    label_key_window: Duration = Field("720h", description="Search window of a key label without `from`.")
    compaction: CompactionSettings = Field(default_factory=CompactionSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    signatures: SignatureSettings = Field(default_factory=SignatureSettings)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 0.0.0.0:8080")
        return value

    def seconds(self, duration: str) -> float:
        return parse_duration(duration).total_seconds()

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def duration(self, name: str) -> timedelta:
        return parse_duration(getattr(self, name))


def read_secret(path: str | None, env: str) -> str | None:
    """A secret from a file (trailing newline dropped) or an environment variable; never logged."""
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    return os.environ.get(env) or None


def load(path: str | Path | None, overrides: dict[str, Any] | None = None) -> LogSinkConfig:
    """The configuration from a YAML file (absent: defaults), with ``overrides`` (camelCase keys) on top."""
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as error:
            raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not YAML: {error}") from error
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: must be a mapping, not {type(loaded).__name__}")
        data = loaded
    data.update(overrides or {})
    try:
        config = LogSinkConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path or 'configuration'}: {problems}") from error
    if config.redaction.hash and not read_secret(config.redaction.hash_key_file, ENV_HASH_KEY):
        raise ConfigError(f"redaction.hash needs a key: redaction.hashKeyFile or ${ENV_HASH_KEY}")
    overlap = set(config.redaction.drop) & set(config.redaction.hash)
    if overlap:
        raise ConfigError(f"redaction: {sorted(overlap)} both dropped and hashed")
    return config
