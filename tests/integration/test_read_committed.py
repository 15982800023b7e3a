"""Downstream of sla.* reads committed records only (real broker, real SMTP and HTTP servers).

With exactly-once outputs the worker aborts a transaction whose batch it could not finish;
its records stay in the log, marked aborted. A transactional producer here writes a breach
and aborts, then writes another and commits: the notifier tells people of the committed one
only, and ``stream-sla tail`` prints only it.
"""

from __future__ import annotations

import asyncio
import sys
import time

from aiokafka import AIOKafkaProducer

from .harness import Harness, now_ms, wait_for
from .test_notifier import Services, breach, rig, start_notifier  # noqa: F401 - rig: a fixture

OWNER = "200"


async def abort_one_then_commit_one(harness: Harness, aborted: str, committed: str) -> None:
    """sla.breaches gets ``aborted``'s breach in an aborted transaction, then ``committed``'s
    in a committed one, from one transactional producer (as the worker writes them)."""
    topic = harness.catalog.name("sla.breaches")
    producer = AIOKafkaProducer(
        bootstrap_servers=harness.bootstrap, transactional_id=f"{harness.app_id}-test-txn"
    )
    await producer.start()
    try:
        deadline = now_ms() - 60_000
        await producer.begin_transaction()
        await producer.send_and_wait(
            topic, key=aborted.encode(), value=breach(aborted, OWNER, deadline)
        )
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(
                topic, key=committed.encode(), value=breach(committed, OWNER, deadline)
            )
    finally:
        await producer.stop()
    # The aborted record is in the log: a read_uncommitted reader would see it.
    uncommitted = await harness.consume(
        "sla.breaches", until=lambda r: len(r) >= 2, timeout=20, isolation_level="read_uncommitted"
    )
    assert {r.key for r in uncommitted} == {aborted.encode(), committed.encode()}


async def test_the_notifier_tells_no_one_of_a_breach_from_an_aborted_transaction(
    harness: Harness,
    rig: Services,  # noqa: F811 - the fixture imported above
) -> None:
    await abort_one_then_commit_one(harness, "L-aborted", "L-committed")
    notifier = start_notifier(harness, rig.routing, "read-committed")

    committed = f"L-committed-breach.person-{OWNER}"
    assert await wait_for(lambda: committed in rig.vendors.hook_keys, 90), notifier.log_tail()
    await asyncio.sleep(3)  # an aborted record sits before the committed one: it came first
    keys = set(rig.vendors.hook_keys)
    assert keys == {committed}, notifier.log_tail()
    mail = f"<L-committed-breach.person-{OWNER}@stream-sla>"
    assert await wait_for(lambda: mail in rig.mailbox.by_id(), 30)
    mails = set(rig.mailbox.by_id())
    assert not any("L-aborted" in m for m in mails)
    assert [t for t in rig.vendors.salesforce_tasks if "L-aborted" in str(t)] == []
    assert rig.vendors.problems == []


async def test_tail_prints_no_breach_from_an_aborted_transaction(harness: Harness) -> None:
    await abort_one_then_commit_one(harness, "L-aborted", "L-committed")
    tail = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stream_sla.cli", "tail", "sla.breaches", "--from-beginning",
        env=harness.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert tail.stdout is not None
    printed: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        while not any(b"L-committed" in line for line in printed):
            line = await asyncio.wait_for(tail.stdout.readline(), deadline - time.monotonic())
            assert line, b"".join(printed)  # tail ended early
            printed.append(line)
    finally:
        tail.kill()
        await tail.wait()
    # The aborted record sits before the committed one in the log: it would have come first.
    assert not any(b"L-aborted" in line for line in printed), printed
