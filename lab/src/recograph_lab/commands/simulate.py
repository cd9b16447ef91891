"""``recograph simulate``: synthetic shoppers from the demo store's personas, through the API.

Against a running server on this machine (``--url``, loopback only) or an app run in this
process (``--in-process``, with ``--variants`` to try an experiment without a server). The
shoppers' clicks, add-to-carts and purchases are recorded through ``recordEvent``, so
``--report`` (or ``recograph report online`` later) measures them from the server's own logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recograph.commands import configuration_of
from recograph.settings import Settings, SettingsError

if TYPE_CHECKING:
    from recograph.online.variants import Experiment
    from recograph_lab.simulate.run import Behaviour, Plan, Tally
    from recograph_lab.simulate.shoppers import Population

logger = logging.getLogger(__name__)

SERVER_FLUSH_WAIT_SECONDS = 2.0  # a server writes its log every 0.5 s by default

# One line for `recograph --help`, which lists commands without importing their code.
HELP = "replay synthetic shoppers through the GraphQL API"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help=HELP,
        description=(
            "Replay shoppers with the demo store's latent personas (ground_truth.json) through "
            "the GraphQL API: they view pages, receive recommendations, click and buy with "
            "probabilities driven by their persona's taste for the recommended products, and "
            "every event is recorded with recordEvent. The server's impression and event log "
            "then feeds 'recograph report online'."
        ),
    )
    parser.add_argument("--days", type=int, required=True, help="days of traffic to simulate")
    parser.add_argument(
        "--sessions-per-day", type=int, default=200, help="visits per day (default 200)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="sessions in flight at once (default 4)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--url", help="GraphQL endpoint on this machine (default http://127.0.0.1:PORT/graphql)"
    )
    where.add_argument(
        "--in-process",
        action="store_true",
        help="run the app in this process (uses --artifacts, --database-url, --variants)",
    )
    parser.add_argument("--data", type=Path, help="demo store with ground_truth.json")
    parser.add_argument("--artifacts", type=Path, help="artifact root (--in-process)")
    parser.add_argument("--database-url", help="impression/event database")
    parser.add_argument(
        "--variants", help="A/B variants, JSON or a .json/.toml file (--in-process)"
    )
    parser.add_argument(
        "--anonymous-share",
        type=float,
        default=0.0,
        help="share of visits by anonymous visitors (session id only; default 0)",
    )
    parser.add_argument(
        "--report", action="store_true", help="print the online report of the run afterwards"
    )
    parser.set_defaults(handler=run)


def _fail(message: str, status: int = 2) -> int:
    print(f"recograph simulate: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    from recograph.models import utcnow
    from recograph.online.variants import load_experiment, parse_experiment
    from recograph_lab.simulate.client import ShopError, is_loopback
    from recograph_lab.simulate.run import Behaviour, Plan
    from recograph_lab.simulate.shoppers import GroundTruthError, load_population

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    configuration = configuration_of(args)
    settings = configuration.settings
    try:
        plan = Plan(args.days, args.sessions_per_day, args.seed, args.concurrency)
    except ValueError as exc:
        return _fail(str(exc))
    if not 0 <= args.anonymous_share <= 1:
        return _fail("--anonymous-share must be between 0 and 1")
    behaviour = Behaviour(anonymous_share=args.anonymous_share)
    try:
        population = load_population(args.data or settings.data_dir)
    except GroundTruthError as exc:
        return _fail(str(exc))
    database_url = args.database_url or settings.database_url
    experiment = None
    if args.in_process:
        try:
            if args.variants is None:
                experiment = configuration.experiment
            elif args.variants.lstrip()[:1] in ("[", "{"):
                import json

                experiment = parse_experiment(json.loads(args.variants), "--variants")
            else:
                experiment = load_experiment(Path(args.variants))
        except (SettingsError, ValueError) as exc:
            return _fail(str(exc))
    elif args.variants is not None:
        return _fail("--variants needs --in-process (a running server has its own variants)")
    url = args.url or f"http://127.0.0.1:{settings.port}/graphql"
    if not args.in_process and not is_loopback(url):
        return _fail(f"{url} is not on this machine: simulate only talks to loopback servers")
    started = (utcnow() - timedelta(seconds=1)).replace(microsecond=0)
    try:
        if experiment is not None:
            tally = asyncio.run(
                _in_process(args, settings, database_url, experiment, population, plan, behaviour)
            )
        else:
            tally = asyncio.run(_over_http(url, population, plan, behaviour))
    except ShopError as exc:
        return _fail(str(exc), 1)
    except SettingsError as exc:
        return _fail(str(exc))
    for line in tally.lines():
        print(line)
    if args.report:
        if not database_url:
            return _fail("--report needs the server's --database-url")
        return _report(database_url, started, wait=not args.in_process)
    return 0


async def _in_process(
    args: argparse.Namespace,
    settings: Settings,
    database_url: str,
    experiment: Experiment,
    population: Population,
    plan: Plan,
    behaviour: Behaviour,
) -> Tally:
    from dataclasses import replace

    from recograph import db
    from recograph.serving.app import create_app
    from recograph_lab.simulate.client import GraphQLShop, ShopError, in_process_client
    from recograph_lab.simulate.run import simulate

    if database_url:
        await db.upgrade_schema(database_url)
    settings = replace(
        settings,
        artifacts_dir=args.artifacts or settings.artifacts_dir,
        database_url=database_url,
    )
    config = replace(configuration_of(args).serving, reload_poll_seconds=0)
    app = create_app(settings, config=config, experiment=experiment, playground=False)
    async with app.router.lifespan_context(app):
        if app.state.services.state.current is None:
            failure = app.state.services.state.last_failure
            raise ShopError(f"no build to serve: {failure.message if failure else '?'}")
        async with in_process_client(app) as client:
            return await simulate(GraphQLShop(client), population, plan, behaviour)


async def _over_http(url: str, population: Population, plan: Plan, behaviour: Behaviour) -> Tally:
    from recograph_lab.simulate.client import GraphQLShop, loopback_client
    from recograph_lab.simulate.run import simulate

    client, path = loopback_client(url)
    async with client:
        return await simulate(GraphQLShop(client, path), population, plan, behaviour)


def _report(database_url: str, since: datetime, *, wait: bool) -> int:
    import time

    from recograph.online.logs import read_logs_from
    from recograph.online.metrics import online_metrics
    from recograph.online.report import format_report

    if wait:
        time.sleep(SERVER_FLUSH_WAIT_SECONDS)
    impressions, events = asyncio.run(read_logs_from(database_url, since=since))
    print()
    sys.stdout.write(format_report(online_metrics(impressions, events, since=since)))
    return 0
