"""``status --watch``: the status screen redrawn live (``rich``'s Live display) from the Rollout
read every second, until Ctrl-C — the same text ``status`` prints (``render``), so what is seen live
is what the golden files pin. rich draws in place on a terminal and degrades to plain appends when
the output is not one."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live
from rich.text import Text

from modelops.cli import render
from modelops.cli.cluster import Cluster, run

INTERVAL = 1.0


def watch(args: argparse.Namespace, *, rounds: int | None = None) -> int:
    """Redraw until interrupted (``rounds``: stop after that many reads, for tests)."""
    console = Console()

    async def loop(cluster: Cluster) -> int:
        shown = 0
        with Live(Text(""), console=console, auto_refresh=False, transient=False) as live:
            while rounds is None or shown < rounds:
                rollout = await cluster.rollout(args.rollout)
                live.update(Text(render.render_status(rollout, datetime.now(UTC))), refresh=True)
                shown += 1
                if rounds is None or shown < rounds:
                    await asyncio.sleep(INTERVAL)
        return 0

    try:
        return run(args, loop)
    except KeyboardInterrupt:
        return 0
