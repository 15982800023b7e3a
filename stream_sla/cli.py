"""``stream-sla``: run the worker, manage topics, feed a synthetic CRM, read SLA topics."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from aiokafka.errors import KafkaError

from stream_sla.config import Settings, load_settings, reference_table
from stream_sla.kafka_security import aiokafka_options
from stream_sla.metrics import reference_table as metrics_reference
from stream_sla.simulation import SimRecord
from stream_sla.sla.durations import parse_duration_ms
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import FirstTouchRule
from stream_sla.topics import TopicCatalog
from stream_sla.yamlfile import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"stream-sla: configuration error: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"stream-sla: Kafka refused or could not be reached: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stream-sla")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stream-sla", description=__doc__)
    parser.set_defaults(run=lambda _: parser.print_help())
    parser.add_argument("--version", action="version", version=f"stream-sla {_version()}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", type=Path, help="YAML settings file (env STREAM_SLA_CONFIG)")
        return p

    worker = command("worker", "Run the SLA worker (Faust) until SIGTERM/Ctrl-C.")
    worker.add_argument("--loglevel", default="info")
    worker.add_argument(
        "--log-format", choices=["text", "json"], help="overrides the log_format setting"
    )
    worker.set_defaults(run=_worker)

    gateway = command(
        "gateway", "Run the CRM gateway (Faust): webhooks in, translators to the crm.* topics."
    )
    gateway.add_argument("--loglevel", default="info")
    gateway.set_defaults(run=_gateway)

    topics = command("topics", "Create the topics of topics/ on the broker (idempotent).")
    topics.add_argument("action", choices=["create", "list"])
    topics.set_defaults(run=_topics)

    simulate = command("simulate", "Publish a synthetic CRM stream (see stream_sla.simulation).")
    simulate.add_argument("--leads", type=int, default=1000)
    simulate.add_argument("--rate", type=float, default=5.0, help="new leads per second")
    simulate.add_argument("--target", default=None, help="first-touch target the reps aim at")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--fast", action="store_true", help="publish at once, keep the simulated event times"
    )
    simulate.add_argument(
        "--history",
        metavar="FILE",
        help="instead of publishing: write months of business-hours history as JSON Lines"
        " (.gz ok) for replay, starting at --start",
    )
    simulate.add_argument("--start", default="2026-09-01", help="first day of --history")
    simulate.add_argument("--days", type=int, default=61, help="days of --history")
    simulate.set_defaults(run=_simulate)

    tail = command("tail", "Print records of a topic as they arrive (e.g. sla.breaches).")
    tail.add_argument("topic", help="base name from topics/, e.g. sla.breaches")
    tail.add_argument("--from-beginning", action="store_true")
    tail.set_defaults(run=_tail)

    replay = command(
        "replay", "Run the SLA engine over a JSON Lines file of CRM events and print a report."
    )
    _replay_arguments(replay)
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.add_argument("--html", metavar="FILE", help="also write the HTML report to FILE")
    replay.set_defaults(run=_replay)

    review = command(
        "report",
        "Replay a period's CRM events and write the monthly SLA review as one HTML file.",
    )
    _replay_arguments(review)
    review.add_argument(
        "--html", metavar="FILE", default="sla-report.html", help="(default: sla-report.html)"
    )
    review.set_defaults(run=_replay, format=None)

    plan = command("plan", "Work the monthly MQL goal back from the sales quota.")
    plan.add_argument("--quota", type=float, required=True, help="monthly sales quota")
    plan.add_argument("--marketing-share", type=float, default=1.0, help="of revenue, 0..1")
    plan.add_argument("--deal-size", type=float, required=True, help="average deal size")
    plan.add_argument("--win-rate", type=float, help="opportunity -> customer, 0..1")
    plan.add_argument("--sql-to-opportunity", type=float)
    plan.add_argument("--lead-to-sql", type=float)
    plan.add_argument("--lead-to-customer", type=float, help="instead of the three rates")
    plan.add_argument("--month", help="YYYY-MM, for the days in the month (default: 30 days)")
    plan.add_argument("--working-days", type=int, help="for a per-working-day column")
    plan.add_argument("--format", choices=["text", "json"], default="text")
    plan.set_defaults(run=_plan)

    _notifier_command(command)

    metrics = command("metrics", "Print the metrics catalog (markdown).")
    metrics.add_argument("action", choices=["reference"])
    metrics.set_defaults(run=lambda _: print(metrics_reference()))

    slo = command(
        "slo",
        "Print Prometheus recording rules and burn-rate alerts for the policy's objectives.",
    )
    slo.add_argument("--policy", type=Path, help="policy YAML (default: settings/built-in)")
    slo.add_argument(
        "--format",
        choices=["rules", "prometheusrule"],
        default="rules",
        help="a rules file for rule_files:, or a PrometheusRule manifest (Prometheus Operator)",
    )
    slo.add_argument(
        "--include",
        type=Path,
        action="append",
        default=[],
        help="rules file whose groups go first in the PrometheusRule (the hand-written rules)",
    )
    slo.add_argument(
        "--min-outcomes",
        type=int,
        default=None,
        help="settled leads a long window needs before an alert may fire (default 10)",
    )
    slo.add_argument("--output", type=Path, help="write here instead of stdout")
    slo.set_defaults(run=_slo)

    config = command("config", "Print the settings reference (markdown) or the effective values.")
    config.add_argument("action", choices=["reference", "show"])
    config.set_defaults(run=_config)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from stream_sla.admin import create_topics
    from stream_sla.kafka_security import aiokafka_options
    from stream_sla.logs import logging_config
    from stream_sla.stream.app import SlaWorker

    settings = _settings(args)
    log_format = args.log_format or settings.log_format
    say = _say_json if log_format == "json" else _say_text
    sla = SlaWorker(settings)
    # The state changelogs must exist before the first recovery reads them; creating what is
    # missing is idempotent (a topics Job or `stream-sla topics create` usually did it already).
    # A private loop: Faust's worker sets up the process's event loop after this.
    loop = asyncio.new_event_loop()
    try:
        report = loop.run_until_complete(
            create_topics(
                aiokafka_options(settings), sla.catalog, settings.topic_replication_factor
            )
        )
    finally:
        loop.close()
    for name in report.created:
        say(f"created topic {name}")
    from stream_sla.build import core_build

    say(
        f"stream-sla {_version()} worker: brokers {settings.kafka_bootstrap_servers},"
        f" metrics http://{settings.web_host}:{settings.web_port}/metrics,"
        f" SLA core {core_build()}"
    )
    Worker(
        sla.app,
        loglevel=args.loglevel,
        quiet=True,
        logging_config=logging_config(log_format, args.loglevel),
    ).execute_from_commandline()
    return 0


def _say_text(message: str) -> None:
    print(message, flush=True)


def _say_json(message: str) -> None:
    import logging

    from stream_sla.logs import JsonFormatter

    record = logging.LogRecord("stream_sla.cli", logging.INFO, __file__, 0, message, None, None)
    print(JsonFormatter().format(record), file=sys.stderr, flush=True)


def _gateway(args: argparse.Namespace) -> int:
    """Same start-up as the worker: topics made idempotently, then Faust runs the app."""
    from faust.worker import Worker

    from stream_sla.admin import create_topics
    from stream_sla.gateway.app import Gateway
    from stream_sla.gateway.settings import load_gateway_settings

    settings, gateway_settings = _settings(args), load_gateway_settings()
    gateway = Gateway(settings, gateway_settings)  # mappings and people errors stop it here
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(
            create_topics(
                aiokafka_options(settings), gateway.catalog, settings.topic_replication_factor
            )
        )
    finally:
        loop.close()
    print(
        f"stream-sla gateway: brokers {settings.kafka_bootstrap_servers}, webhooks"
        f" http://{gateway_settings.host}:{gateway_settings.port}/hooks/{{hubspot,pipedrive}}",
        flush=True,
    )
    Worker(gateway.app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
    return 0


def _topics(args: argparse.Namespace) -> int:
    from stream_sla.admin import create_topics
    from stream_sla.kafka_security import aiokafka_options

    settings = _settings(args)
    catalog = TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
    if args.action == "list":
        for spec in catalog.all():
            print(f"{catalog.prefix}{spec.name}\t{spec.partitions}\t{spec.config}")
        return 0
    # The worker's Kafka options (TLS, SASL), not just the servers: the topics Job of a
    # secured cluster must authenticate like the worker does.
    report = asyncio.run(
        create_topics(aiokafka_options(settings), catalog, settings.topic_replication_factor)
    )
    for name in report.created:
        print(f"created {name}")
    for name in report.existing:
        print(f"exists  {name}")
    for problem in report.mismatched:
        print(f"MISMATCH {problem}", file=sys.stderr)
    return 1 if report.mismatched else 0


def _simulate(args: argparse.Namespace) -> int:
    from stream_sla.simulation import SimulationPlan, simulate

    if args.history:
        return _write_history(args)
    settings = _settings(args)
    catalog = TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
    target = (
        parse_duration_ms(args.target)
        if args.target
        else settings.first_touch_within or FirstTouchRule().within_ms
    )
    plan = SimulationPlan(
        leads=args.leads,
        start_ms=time.time_ns() // 1_000_000,
        leads_per_second=args.rate,
        first_touch_target_ms=target,
        seed=args.seed,
    )
    topics = {kind: catalog.name(spec.name) for kind, spec in catalog.crm().items()}
    return asyncio.run(_publish(settings, topics, simulate(plan), realtime=not args.fast))


async def _publish(
    settings: Settings, topics: dict[EventKind, str], records: Iterable[SimRecord], realtime: bool
) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(linger_ms=5, acks="all", **aiokafka_options(settings))
    await producer.start()
    sent = 0
    try:
        for record in records:
            if realtime:
                delay = record.at / 1000 - time.time()
                if delay > 0:
                    await producer.flush()
                    await asyncio.sleep(delay)
            await producer.send(topics[record.kind], key=record.key, value=record.value)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    print(f"published {sent} CRM events", flush=True)
    return 0


def _write_history(args: argparse.Namespace) -> int:
    import gzip
    from datetime import date

    import orjson

    from stream_sla.simulation import HistoryPlan, history

    plan = HistoryPlan(
        leads=args.leads, start=date.fromisoformat(args.start), days=args.days, seed=args.seed
    )
    events = history(plan)
    lines = b"".join(orjson.dumps(event) + b"\n" for event in events)
    path = Path(args.history)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(lines, mtime=0))
    else:
        path.write_bytes(lines)
    print(f"wrote {len(events):,} events of {args.leads:,} leads to {path}")
    return 0


def _tail(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
    return asyncio.run(_consume(settings, catalog.name(args.topic), args.from_beginning))


async def _consume(settings: Settings, topic: str, from_beginning: bool) -> int:
    from aiokafka import AIOKafkaConsumer

    # read_committed: a breach of a transaction the worker aborted is not a breach.
    consumer = AIOKafkaConsumer(
        topic,
        **aiokafka_options(settings),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        async for message in consumer:
            headers = {k: v.decode(errors="replace") for k, v in message.headers or ()}
            suffix = f"  {headers}" if headers else ""
            print((message.value or b"").decode(errors="replace") + suffix, flush=True)
    finally:
        await consumer.stop()
    return 0


def _plan(args: argparse.Namespace) -> int:
    import orjson

    from stream_sla.sla import funnel

    try:
        month = tuple(int(part) for part in args.month.split("-")) if args.month else None
        result = funnel.plan(
            args.quota,
            deal_size=args.deal_size,
            marketing_share=args.marketing_share,
            win_rate=args.win_rate,
            sql_to_opportunity=args.sql_to_opportunity,
            lead_to_sql=args.lead_to_sql,
            lead_to_customer=args.lead_to_customer,
            working_days=args.working_days,
            month=month,  # type: ignore[arg-type]
        )
    except (funnel.FunnelError, ValueError) as exc:
        print(f"stream-sla plan: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(orjson.dumps(funnel.as_dict(result)).decode())
    else:
        print(funnel.render(result))
    return 0


def _replay_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("events", help="JSON Lines file (.gz ok), or - for stdin")
    p.add_argument("--policy", type=Path, help="policy YAML (default: settings/built-in)")
    p.add_argument("--until", help="evaluate deadlines up to this RFC 3339 time (with offset)")
    p.add_argument(
        "--violations-out",
        metavar="FILE.jsonl",
        help="write the warning and breach records the live worker would publish",
    )
    p.add_argument("--outcomes-csv", metavar="FILE", help="write one row per lead, cycle and rule")
    p.add_argument(
        "--month",
        help="YYYY-MM: report that month only (the whole file is still replayed: state and"
        " the three-months-missed flag need the months before)",
    )
    p.add_argument("--quota", type=float, help="monthly sales quota: re-plan next month's goal")
    p.add_argument(
        "--marketing-share", type=float, default=1.0, help="of revenue, 0..1 (with --quota)"
    )
    p.add_argument(
        "--from",
        dest="vendor",
        choices=["hubspot", "pipedrive", "salesforce"],
        help="the file holds raw payloads of this CRM, one a line (see Connect your CRM)",
    )
    p.add_argument("--mappings", type=Path, help="with --from: CRM mappings YAML")
    p.add_argument(
        "--people",
        type=Path,
        help="people directory: teams (with --from) and working hours (rules with owner_away;"
        " default: STREAM_SLA_PEOPLE_FILE)",
    )
    p.add_argument(
        "--routing",
        type=Path,
        help="the notifier's routing file: count strikes with its strikes settings"
        " (default: 3 breaches within 30d, the routing file's defaults)",
    )


def _replay(args: argparse.Namespace) -> int:
    """``replay`` and ``report``: a bad file or flag is one line on stderr and exit 2."""
    from stream_sla.replay import ReplayInputError

    name = "report" if args.format is None else "replay"
    try:
        return _run_replay(args)
    except ReplayInputError as exc:
        print(f"stream-sla {name}: {exc}", file=sys.stderr)
        return 2


def _run_replay(args: argparse.Namespace) -> int:
    from collections import Counter

    import orjson

    from stream_sla import report, report_files
    from stream_sla.policy_file import load_policy
    from stream_sla.replay import ReplayInputError, load_events, parse_month, parse_until, replay
    from stream_sla.sla.availability import Absence, Availability
    from stream_sla.sla.engine import Retention
    from stream_sla.sla.timestamps import format_ms

    outputs = {
        flag: _output_path(flag, value)
        for flag, value in (
            ("--html", args.html),
            ("--violations-out", args.violations_out),
            ("--outcomes-csv", args.outcomes_csv),
        )
        if value
    }
    settings = _settings(args)
    policy = load_policy(args.policy) if args.policy else settings.policy()
    retention = Retention(settings.closed_lead_retention, settings.idle_lead_retention)
    until = parse_until(args.until) if args.until else None
    month = parse_month(args.month) if args.month else None
    rejected: Counter[str] = Counter()
    absences: list[Absence] = []
    events = load_events(
        args.events,
        rejected,
        lambda lines: _vendor_lines(args, lines, rejected),
        lateness=policy.lateness,
        absences=absences,
    )
    if args.people:
        from stream_sla.people import load_people

        availability = Availability(load_people(args.people).working_hours())
    else:
        availability = settings.availability()
    keep = "--violations-out" in outputs or month is not None
    result = replay(
        events,
        policy,
        until,
        keep_effects=keep,
        progress=args.format == "text",
        retention=retention,
        availability=availability,
        absences=absences,
    )
    result.rejected = rejected
    built = report.build(result, args.quota, args.marketing_share, month, **_strike_settings(args))
    if (
        month is not None
        and not built["leads"]
        and not any(t["met"] + t["breached"] + t["stopped"] for t in built["rules"].values())
    ):
        first, last = (
            format_ms(t) if t else "-" for t in (result.first_event_at, result.last_event_at)
        )
        raise ReplayInputError(
            f"--month: no lead was created or handed over in {month} in {args.events}"
            f" (its events run from {first} to {last})"
        )
    if "--violations-out" in outputs:
        n = report_files.write_violations(outputs["--violations-out"], result.effects)
        print(f"wrote {n:,} warning and breach records to {args.violations_out}", file=sys.stderr)
    if "--outcomes-csv" in outputs:
        n = report_files.write_outcomes(outputs["--outcomes-csv"], report.outcomes(result))
        print(f"wrote {n:,} rule outcomes to {args.outcomes_csv}", file=sys.stderr)
    if "--html" in outputs:
        from stream_sla import report_html

        outputs["--html"].write_text(report_html.render(built), encoding="utf-8")
        print(f"wrote the HTML report to {args.html}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(built, option=orjson.OPT_INDENT_2) + b"\n")
    elif args.format == "text":
        print(report.render_text(built))
    return 0


def _strike_settings(args: argparse.Namespace) -> dict[str, int]:
    """``--routing``: the notifier's strike threshold and window, so the report's strikes are
    the ones it published; a bad file is one line with file and line (exit 2)."""
    from stream_sla.notify.config import load_notifications
    from stream_sla.replay import ReplayInputError
    from stream_sla.yamlfile import ConfigError

    if args.routing is None:
        return {}
    try:
        routing = load_notifications(args.routing)
    except (ConfigError, OSError) as exc:
        raise ReplayInputError(f"--routing: {exc}") from None
    return {
        "strike_breaches": routing.strike_breaches,
        "strike_within_ms": routing.strike_within_ms,
    }


def _slo(args: argparse.Namespace) -> int:
    import yaml

    from stream_sla import slo
    from stream_sla.policy_file import load_policy

    if args.policy:
        policy, source = load_policy(args.policy), str(args.policy)
    else:
        settings = _settings(args)
        policy = settings.policy()
        source = str(settings.policy_file or "the built-in policy")
    minimum = slo.DEFAULT_MIN_OUTCOMES if args.min_outcomes is None else args.min_outcomes
    if args.format == "rules":
        text = slo.rules_file(policy, source, minimum)
    else:
        groups = [g for path in args.include for g in yaml.safe_load(path.read_text())["groups"]]
        text = slo.prometheus_rule(policy, source, minimum, groups)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _vendor_lines(
    args: argparse.Namespace, lines: Iterable[bytes], rejected: dict[str, int]
) -> Iterable[bytes]:
    """With ``--from``, raw CRM payloads go through the gateway's translators first."""
    if not args.vendor:
        return lines
    from stream_sla.gateway.backtest import canonical_lines
    from stream_sla.gateway.mappings import load_mappings
    from stream_sla.people import PeopleDirectory, load_people

    people = load_people(args.people) if args.people else PeopleDirectory()
    return canonical_lines(lines, args.vendor, load_mappings(args.mappings), people, rejected)


def _output_path(flag: str, value: str) -> Path:
    """Check an output file can be written before a long replay, not after it."""
    from stream_sla.replay import ReplayInputError

    path = Path(value)
    if path.is_dir():
        raise ReplayInputError(f"{flag}: {value} is a directory (give a file name)")
    if not path.parent.is_dir():
        raise ReplayInputError(f"{flag}: folder {path.parent} does not exist (create it first)")
    return path


def _config(args: argparse.Namespace) -> int:
    if args.action == "reference":
        print(reference_table())
    else:
        for name, value in _settings(args).model_dump().items():
            print(f"{name} = {value}")
    return 0


# -- notifier (issue 12): reminders and escalations ------------------------------------------

NOTIFICATIONS_FILE_ENV = "STREAM_SLA_NOTIFICATIONS_FILE"


def _notifier_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    notifier = command(
        "notifier", "Tell people: reminders, escalations and strikes from the SLA topics."
    )
    notifier.add_argument(
        "--routing",
        type=Path,
        help=f"routing file (YAML; env {NOTIFICATIONS_FILE_ENV}); see README"
        ' "Reminders and escalations"',
    )
    notifier.add_argument("--people", type=Path, help="people directory (default: the routing's)")
    notifier.add_argument("--web-port", type=int, help="/metrics and / (default: web_port + 1)")
    notifier.add_argument("--loglevel", default="info")
    notifier.set_defaults(run=_notifier)


def _notifier(args: argparse.Namespace) -> int:
    import os

    from faust.worker import Worker

    from stream_sla.admin import create_topics
    from stream_sla.notify.app import Notifier
    from stream_sla.notify.config import load_notifications
    from stream_sla.people import PeopleDirectory, load_people

    settings = _settings(args)
    routing = args.routing or (
        Path(os.environ[NOTIFICATIONS_FILE_ENV]) if os.environ.get(NOTIFICATIONS_FILE_ENV) else None
    )
    if routing is None:
        raise ConfigError(
            "--routing", None, "", f"give the routing file (--routing or {NOTIFICATIONS_FILE_ENV})"
        )
    config = load_notifications(routing)
    people_file = args.people or config.people_file
    people = load_people(people_file) if people_file else PeopleDirectory()
    web_port = args.web_port or settings.web_port + 1
    notifier = Notifier(settings, config, people, web_port)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(
            create_topics(
                aiokafka_options(settings), notifier.catalog, settings.topic_replication_factor
            )
        )
        counted = loop.run_until_complete(notifier.rebuild_strikes())
    finally:
        loop.close()
    print(
        f"stream-sla notifier: {len(config.routes)} routes, {len(config.channels)} channels,"
        f" {len(people)} people, {counted} breaches of the strike window re-read;"
        f" http://{settings.web_host}:{web_port}/",
        flush=True,
    )
    Worker(notifier.app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
