"""Email over SMTP: STARTTLS (or implicit TLS) and AUTH, the violation id in the Message-ID.

The standard library's ``smtplib`` runs in a worker thread, so no SMTP client dependency
is added. The Message-ID is derived from the idempotency key: a retry after a lost
answer carries the same Message-ID, which mail stores and clients use to collapse
duplicates (RFC 5322 3.6.4: one message, one id).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from stream_sla.notify.config import Smtp
from stream_sla.notify.delivery import Rejected, Retryable
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message

TIMEOUT_SECONDS = 30


def message_id(key: str) -> str:
    return f"<{key}@stream-sla>"


class SmtpChannel:
    kind = "smtp"

    def __init__(self, config: Smtp) -> None:
        self.config = config
        self.password = config.secret("password_env")

    def build(self, message: Message, rendered: Rendered) -> EmailMessage:
        email = message.recipient.email
        if not email:
            raise Rejected(f"{message.recipient.key} has no email address")
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = f"{message.recipient.name} <{email}>"
        mail["Subject"] = rendered.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["X-Stream-SLA-Violation"] = ",".join(d.notice.id for d in message.deliveries)
        mail.set_content(rendered.text)
        return mail

    async def send(self, message: Message, rendered: Rendered) -> None:
        mail = self.build(message, rendered)
        await asyncio.to_thread(self._send, mail)

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.cafile)

    def _send(self, mail: EmailMessage) -> None:
        c = self.config
        try:
            client: smtplib.SMTP
            if c.ssl:
                client = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=TIMEOUT_SECONDS, context=self._context()
                )
            else:
                client = smtplib.SMTP(c.host, c.port, timeout=TIMEOUT_SECONDS)
            with client:
                client.ehlo()
                if c.starttls and not c.ssl:
                    client.starttls(context=self._context())
                    client.ehlo()
                if c.username:
                    client.login(c.username, self.password)
                client.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise Rejected(f"SMTP authentication refused: {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise Rejected(f"SMTP recipient refused: {list(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                raise Retryable(text) from None
            raise Rejected(text) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Retryable(f"SMTP: {exc.__class__.__name__}: {exc}") from None
