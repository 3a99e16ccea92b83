"""The Rollout commands of ``kubectl modelops`` (``modelops``): ``list``, ``status [--watch]``,
``history`` to read; ``promote [--full]``, ``approve STEP``, ``pause``, ``resume``, ``abort``,
``retry``, ``rollback [VERSION]`` to act, each one merge patch of the Rollout's spec (``patches``)
that ``--dry-run`` prints as a kubectl command line and as JSON instead of sending.

kubectl's conventions: ``-n/--namespace``, ``--context``, ``--kubeconfig``, ``-o json|yaml|wide``;
exit code 0 when done, 1 on an error or a refusal (the message says why), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from modelops.cli import patches, render
from modelops.cli.cluster import Cluster, add_connection_arguments, run
from modelops.k8s.errors import KubeError
from modelops.k8s.login import LoginError

READERS = ("list", "status", "history")
ACTIONS = ("promote", "approve", "pause", "resume", "abort", "retry", "rollback")
HELP = {
    "list": "list the Rollouts: phase, stable, candidate, step, weights",
    "status": "one Rollout: steps, weights, analysis, A/B progress, recent history (--watch: live)",
    "history": "a Rollout's audit trail (every transition, who caused it)",
    "promote": "approve what waits (an approval step, a pause, a hold); --full: skip every remaining step",
    "approve": "approve STEP for the candidate in flight (STEP@candidate in spec.approved)",
    "pause": "freeze the rollout where it is (spec.paused: true)",
    "resume": "resume a paused rollout (spec.paused: false)",
    "abort": "100% to the stable version at once, candidate kept (spec.abort: true)",
    "retry": "retry an aborted, rolled-back or failed candidate from step 0",
    "rollback": "spec.target back to the champion, or to a named warm version (instant, no steps)",
}


def add_commands(sub: Any) -> None:
    for command in (*READERS, *ACTIONS):
        # argparse %-formats help strings (not descriptions): a literal percent sign is doubled there.
        parser = sub.add_parser(command, help=HELP[command].replace("%", "%%"), description=HELP[command])
        add_connection_arguments(parser)
        if command == "list":
            parser.add_argument("-A", "--all-namespaces", action="store_true", help="Rollouts of every namespace")
        else:
            parser.add_argument("rollout", help="the Rollout's name")
        if command == "approve":
            parser.add_argument("step", help="the step's name, e.g. ab-test (see `status`)")
        if command == "rollback":
            parser.add_argument("version", nargs="?", default=None,
                                help="a warm ModelVersion (default: the champion, status.stable)")
            parser.add_argument("--full-rollout", action="store_true",
                                help="allow a version that is not warm: a full rollout through the steps")
        if command == "promote":
            parser.add_argument("--full", action="store_true",
                                help="skip every remaining step (durations, approvals, analysis): spec.promoteFull")
        if command == "status":
            parser.add_argument("-w", "--watch", action="store_true", help="redraw live until interrupted")
        if command in ACTIONS:
            parser.add_argument("--dry-run", action="store_true",
                                help="print the patch (kubectl command line and JSON), change nothing")
        parser.add_argument("-o", "--output", choices=["json", "yaml", "wide"], default=None,
                            help="json or yaml: the object(s); wide: more columns")


def main(args: argparse.Namespace) -> int:
    try:
        if args.command in READERS:
            return _read(args)
        return _act(args)
    except patches.Refused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    except LookupError as error:
        print(f"Error from server (NotFound): {error.args[0]}", file=sys.stderr)
        return 1
    except (KubeError, LoginError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _dump(data: Any, output: str | None) -> str:
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    return json.dumps(data, indent=2)


def _read(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.command == "list":
        found = run(args, lambda c: c.rollouts(args.all_namespaces))
        if args.output in ("json", "yaml"):
            print(_dump({"apiVersion": "v1", "kind": "List", "items": found}, args.output))
        else:
            print(render.list_rows(found, now, wide=args.output == "wide", namespaces=args.all_namespaces))
        return 0
    if args.command == "status" and args.watch:
        from modelops.cli.watching import watch

        return watch(args)
    rollout = run(args, lambda c: c.rollout(args.rollout))
    if args.output in ("json", "yaml"):
        print(_dump(rollout, args.output))
    elif args.command == "history":
        print(render.history_rows(rollout, now, wide=args.output == "wide"))
    else:
        print(render.render_status(rollout, now))
    return 0


def _decide(args: argparse.Namespace) -> Callable[[Mapping[str, Any], Mapping[str, bool]], patches.Patch]:
    now = datetime.now(UTC)
    return {
        "promote": lambda r, _: patches.promote(r, args.full),
        "approve": lambda r, _: patches.approve(r, args.step),
        "pause": lambda r, _: patches.pause(r),
        "resume": lambda r, _: patches.resume(r),
        "abort": lambda r, _: patches.abort(r),
        "retry": lambda r, _: patches.retry(r, now),
        "rollback": lambda r, ready: patches.rollback(r, args.version, ready, args.full_rollout),
    }[args.command]


async def _ready_warm(cluster: Cluster, rollout: Mapping[str, Any], version: str | None) -> dict[str, bool]:
    warm = list((rollout.get("status") or {}).get("warm") or [])
    ready: dict[str, bool] = {}
    for name in warm if version is None else [v for v in warm if v == version]:
        body = await cluster.model_version(name)
        ready[name] = bool(body is not None and (body.get("status") or {}).get("ready"))
    return ready


def _act(args: argparse.Namespace) -> int:
    decide = _decide(args)

    async def work(cluster: Cluster) -> tuple[patches.Patch, dict[str, Any] | None]:
        rollout = await cluster.rollout(args.rollout)
        ready = await _ready_warm(cluster, rollout, getattr(args, "version", None)) \
            if args.command == "rollback" else {}
        patch = decide(rollout, ready)
        if args.dry_run:
            return patch, None
        return patch, await cluster.patch_rollout(patch.name, patch.body)

    patch, result = run(args, work)
    if args.dry_run:
        if args.output in ("json", "yaml"):
            print(_dump(patch.body, args.output))
        else:
            print(f"# {patch.summary} (dry run: nothing sent)\n{patch.kubectl()}\n{patch.json()}")
        return 0
    if args.output in ("json", "yaml"):
        print(_dump(result, args.output))
    else:
        print(f"rollout.modelops.io/{patch.name} patched: {patch.summary}")
    return 0
