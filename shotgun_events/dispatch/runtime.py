"""What a dispatch Lambda keeps across invocations, and how it is built from `DispatchConfig`.

Per cold start (and again whenever building failed, so a fixed secret or plugin is picked up
without a redeploy; or FPT refused a script key, so a rotated key is picked up without a cold
start): read the plugin secret and export it into `os.environ`, load the plugin named
`PLUGIN_NAME`, build the FPT connection cache and the idempotency store. When any of that fails
(bad config, missing or malformed secret, plugin missing or disabled) the error is logged once per
invocation, naming what is wrong, and every record of the batch is reported failed: SQS keeps
them, retries them, and after `maxReceiveCount` moves them to the DLQ. Nothing is lost.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from shotgun_events.config import ConfigError, DispatchConfig
from shotgun_events.dispatch.core import PluginDispatcher
from shotgun_events.dispatch.ledger import EffectLedger, dynamodb_persistence
from shotgun_events.fpt import FptConnections, SecretReader
from shotgun_events.observability import logger
from shotgun_events.plugins.loader import PluginNotFound, load_named_plugin
from shotgun_events.plugins.metrics import MetricsSink, emf_metrics, flush_metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Names a plugin secret may not set: they would change the function's own configuration (the
# dispatch variables, DESIGN §4) or its runtime (Lambda, the AWS SDK, Powertools, the interpreter).
RESERVED_ENV_NAMES = frozenset(
    {
        "PLUGIN_NAME",
        "PLUGIN_PATHS",
        "SHOTGUN_URL",
        "PLUGIN_SECRET_ID",
        "IDEMPOTENCY_TABLE",
        "USE_SESSION_UUID",
        "SHOTGUN_TIMEOUT_SECONDS",
        "_HANDLER",
        "PATH",
        "PYTHONPATH",
        "LD_LIBRARY_PATH",
    }
)
RESERVED_ENV_PREFIXES = ("AWS_", "LAMBDA_", "_X_AMZN", "POWERTOOLS_")


class DispatchSetupError(RuntimeError):
    """The dispatch function cannot run its plugin; the message says why."""


def is_reserved_env_name(name: str) -> bool:
    """True for a name a plugin secret must not set (see `RESERVED_ENV_NAMES`)."""
    return name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES)


def export_secret_env(
    values: Mapping[str, Any], secret_id: str, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Put a plugin secret's `NAME -> value` pairs into the environment; the names exported.

    Strings, numbers and booleans are accepted (as text); anything else, a name that is not an
    environment variable name, or a reserved name (the function's own configuration or runtime:
    `RESERVED_ENV_NAMES`, `RESERVED_ENV_PREFIXES`) is an error naming the secret and the key, never
    the value. Nothing is exported unless every pair is valid.
    """
    target = os.environ if environ is None else environ
    exported: dict[str, str] = {}
    for name, value in values.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(f"secret {secret_id!r}: {name!r} is not an environment variable name")
        if is_reserved_env_name(name):
            raise ConfigError(
                f"secret {secret_id!r}: {name} is reserved for the dispatch function's own configuration "
                "or runtime and cannot be set by a plugin secret"
            )
        if isinstance(value, bool):
            exported[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            exported[name] = str(value)
        else:
            raise ConfigError(
                f"secret {secret_id!r}: value of {name} must be a string, number or boolean, "
                f"not {type(value).__name__}"
            )
    target.update(exported)
    return sorted(exported)


def build_dispatcher(
    config: DispatchConfig,
    *,
    secrets: SecretReader,
    connections: FptConnections,
    persistence: BasePersistenceLayer | None,
    metrics: MetricsSink | None = None,
) -> PluginDispatcher:
    """Export the plugin secret, load the plugin, wire the dispatcher.

    Raises `ConfigError` (config, secret) or `DispatchSetupError` (plugin missing or disabled).
    """
    if config.plugin_secret_id:
        names = export_secret_env(secrets.read_json(config.plugin_secret_id), config.plugin_secret_id)
        logger.info(
            "plugin secret exported to the environment",
            extra={"plugin": config.plugin_name, "secret_id": config.plugin_secret_id, "names": names},
        )
    try:
        plugin = load_named_plugin(config.plugin_name, config.plugin_paths, metrics)
    except PluginNotFound as exc:
        raise DispatchSetupError(str(exc)) from None
    if not plugin.active:
        raise DispatchSetupError(f"plugin {plugin.name} is disabled: {plugin.error}")
    ledger = (
        EffectLedger(persistence, key_prefix=f"plugin.{plugin.name}") if persistence is not None else None
    )
    return PluginDispatcher(
        plugin,
        shotgun_url=config.shotgun_url,
        connections=connections,
        ledger=ledger,
        use_session_uuid=config.use_session_uuid,
        metrics=metrics,
    )


def fail_all(batch: Mapping[str, Any]) -> PartialItemFailureResponse:
    """Every record of the batch reported failed: SQS keeps them for a retry (then the DLQ)."""
    records = batch.get("Records") if isinstance(batch, Mapping) else None
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]}
            for r in (records if isinstance(records, list) else [])
            if isinstance(r, Mapping) and "messageId" in r
        ]
    }


class DispatchFunction:
    """The dispatch Lambda's state: adapters built on first use, the dispatcher kept while config holds.

    Clients may be passed in (moto, fakes); otherwise boto3 builds them on first use, not at import.
    """

    def __init__(
        self,
        *,
        secrets_client: SecretsManagerClient | None = None,
        dynamodb_client: DynamoDBClient | None = None,
        metrics: MetricsSink | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        self._secrets_client = secrets_client
        self._dynamodb_client = dynamodb_client
        self._metrics = metrics
        self._environ = environ
        self._secrets: SecretReader | None = None
        self._connections: FptConnections | None = None
        self._built: tuple[DispatchConfig, PluginDispatcher] | None = None

    def dispatcher(self, config: DispatchConfig) -> PluginDispatcher:
        if self._built is not None and self._built[0] == config:
            return self._built[1]
        if self._secrets is None:
            self._secrets = SecretReader(self._secrets_client)
        if self._connections is None:
            # Built once: a Lambda's environment (SHOTGUN_TIMEOUT_SECONDS) is fixed for its container.
            self._connections = FptConnections(config.fpt_timeout)
        dispatcher = build_dispatcher(
            config,
            secrets=self._secrets,
            connections=self._connections,
            persistence=dynamodb_persistence(config.idempotency_table, self._dynamodb_client),
            metrics=self._metrics,
        )
        self._built = (config, dispatcher)
        return dispatcher

    def __call__(
        self, batch: dict[str, Any], context: LambdaContext | None = None
    ) -> PartialItemFailureResponse:
        environ = os.environ if self._environ is None else self._environ
        metrics = self._metrics or emf_metrics()
        try:
            config = DispatchConfig.from_env(environ)
            dispatcher = self.dispatcher(config)
        except (ConfigError, DispatchSetupError) as exc:
            plugin = environ.get("PLUGIN_NAME", "").strip() or "unknown"
            logger.error(
                f"dispatch cannot run plugin {plugin}: {exc}; the batch is left in the queue",
                extra={"plugin": plugin, "error_type": type(exc).__name__},
            )
            metrics.add(plugin, "DispatchSetupFailures", 1, MetricUnit.Count)
            return fail_all(batch)
        finally:
            flush_metrics(metrics)  # setup's own (PluginLoadFailures, DispatchSetupFailures)
        response = dispatcher.handle_batch(batch, context)
        if dispatcher.credentials_refused:
            self._forget_built(config)
        return response

    def _forget_built(self, config: DispatchConfig) -> None:
        """After FPT refused a script key: the next batch reads the secret again (not from Powertools'
        cache) and loads the plugin with what it holds, so a rotated key needs no cold start."""
        self._built = None
        if self._secrets is not None:
            self._secrets.forget()
        logger.warning(
            "FPT refused the plugin's script key: its secret is read and the plugin loaded again "
            "for the next batch; the refused events are retried",
            extra={"plugin": config.plugin_name, "secret_id": config.plugin_secret_id},
        )
