"""``python -m modelops.logsink``: run the prediction-log sink.

Options override the configuration file (``--config``, else ``$MODELOPS_LOGSINK_CONFIG``); a bad
configuration exits with status 2 and names the field.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from modelops.logsink.config import ENV_CONFIG, ConfigError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops.logsink", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.environ.get(ENV_CONFIG), help=f"YAML file (default: ${ENV_CONFIG})")
    parser.add_argument("--listen", help="host:port (default 0.0.0.0:8080)")
    parser.add_argument("--store", help="store URL: a directory, file://, s3://bucket/prefix, ...")
    parser.add_argument("--spool-dir", help="local spool directory")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, object] = {}
    if args.listen:
        overrides["listen"] = args.listen
    if args.spool_dir:
        overrides["spoolDir"] = args.spool_dir
    try:
        config = load(args.config, overrides)
        if args.store:
            config.store.url = args.store
    except ConfigError as error:
        print(f"modelops-logsink: {error}", file=sys.stderr)
        return 2
    from modelops.logsink.server import serve

    run = asyncio.run
    try:
        import uvloop  # the [logsink] extra: a faster event loop where it is installed

        run = uvloop.run
    except ImportError:
        pass
    try:
        run(serve(config))
    except ConfigError as error:
        print(f"modelops-logsink: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
