"""When a delivery goes out: quiet hours, a per-recipient rate limit, and digests.

Pure: every method takes ``now`` (epoch ms), so tests drive it with a controlled clock
and the Faust app only asks it what to send. For each (recipient, channel):

- an urgent delivery goes out at once, whatever the hour or the count;
- outside the recipient's working hours (their team's hours, in their own time zone) a
  delivery is held until the next working moment;
- within them, at most ``messages`` go out per rolling ``per`` window; beyond that, and
  while anything is held, deliveries queue up;
- whatever is held leaves as *one* message when it is released (a digest listing every
  lead: 12 leads, one message), and counts once against the limit;
- a held reminder that became moot (the lead met the rule or closed, or its breach came)
  is dropped by :meth:`Pacer.discard`, so nobody is reminded of what is already done.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stream_sla.notify.config import NotifyConfig
from stream_sla.notify.model import Delivery, Message
from stream_sla.sla.calendar import Calendar

Key = tuple[str, str]
"""(recipient key, channel name)"""


@dataclass(slots=True)
class _Queue:
    held: list[Delivery] = field(default_factory=list)
    release_at: int = 0
    sent: deque[int] = field(default_factory=deque)


class Pacer:
    def __init__(self, config: NotifyConfig, team_of: Callable[[Delivery], str | None]) -> None:
        self.config = config
        self._team_of = team_of
        self._queues: dict[Key, _Queue] = {}
        self._calendars: dict[tuple[str | None, str], Calendar] = {}

    def offer(self, delivery: Delivery, now: int) -> list[Message]:
        """What to send now for this delivery: itself, or nothing (it is held)."""
        key = (delivery.recipient.key, delivery.channel)
        queue = self._queues.setdefault(key, _Queue())
        if any(d.notice.id == delivery.notice.id for d in queue.held):
            return []  # read again after a restart: it is held already (journal)
        self._forget_old(queue, now)
        if delivery.urgent:
            queue.sent.append(now)
            return [Message(delivery.channel, delivery.recipient, (delivery,))]
        opens = self.next_working_moment(delivery, now)
        if opens == now and not queue.held and len(queue.sent) < self.config.rate_limit_messages:
            queue.sent.append(now)
            return [Message(delivery.channel, delivery.recipient, (delivery,))]
        if not queue.held:
            queue.release_at = max(opens, self._window_frees_at(queue, now))
        queue.held.append(delivery)
        return []

    def due(self, now: int) -> list[Message]:
        """Held deliveries whose time has come, one message (a digest if several) per queue."""
        out: list[Message] = []
        for key, queue in self._queues.items():
            if not queue.held or queue.release_at > now:
                continue
            first = queue.held[0]
            opens = self.next_working_moment(first, now)
            if opens > now:  # the rate window freed up at night: wait for the morning
                queue.release_at = opens
                continue
            self._forget_old(queue, now)
            queue.sent.append(now)
            out.append(Message(key[1], first.recipient, tuple(queue.held)))
            queue.held = []
        return out

    def discard(self, moot: Callable[[Delivery], bool]) -> list[Delivery]:
        """Drop held deliveries for which ``moot`` is true; returns what was dropped."""
        dropped: list[Delivery] = []
        for queue in self._queues.values():
            keep = [d for d in queue.held if not moot(d)]
            dropped += [d for d in queue.held if moot(d)]
            queue.held = keep
        return dropped

    def held(self) -> Iterable[Delivery]:
        for queue in self._queues.values():
            yield from queue.held

    def held_count(self) -> int:
        return sum(len(q.held) for q in self._queues.values())

    def next_release(self) -> int | None:
        times = [q.release_at for q in self._queues.values() if q.held]
        return min(times) if times else None

    def next_working_moment(self, delivery: Delivery, now: int) -> int:
        """``now`` inside the recipient's working hours, else the next opening."""
        team = self._team_of(delivery)
        zone = delivery.recipient.timezone
        calendar = self._calendars.get((team, zone))
        if calendar is None:
            calendar = self._calendars[(team, zone)] = self.config.hours_for(team, zone)
        return calendar.deadline(now, 0)

    def _window_frees_at(self, queue: _Queue, now: int) -> int:
        if len(queue.sent) < self.config.rate_limit_messages:
            return now
        return queue.sent[-self.config.rate_limit_messages] + self.config.rate_limit_per_ms

    def _forget_old(self, queue: _Queue, now: int) -> None:
        while queue.sent and queue.sent[0] <= now - self.config.rate_limit_per_ms:
            queue.sent.popleft()
