"""``make demo``'s mailbox: a local SMTP server (aiosmtpd) that prints each message it gets."""

from __future__ import annotations

import argparse
import asyncio
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller


class Printer:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        body = mail.get_body()
        text = body.get_content() if body is not None else ""
        lines = [line for line in text.splitlines() if line.strip()][1:4]
        print(f"mail    to {mail['To']}: {mail['Subject']}", flush=True)
        for line in lines:
            print(f"          {line}", flush=True)
        return "250 OK"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=2525)
    args = parser.parse_args()
    controller = Controller(Printer(), hostname="127.0.0.1", port=args.port)
    controller.start()
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(main())
