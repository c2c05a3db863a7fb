"""Outgoing e-mail: an outbox in the database, delivered through the configured SMTP relay.

Messages are written first and sent after, so nothing is lost when the relay is down or the
worker restarts, and a message with a `dedupe_key` is only ever created once. With no relay
configured, messages are marked `manual`: recruiters see them, with their .ics, and send them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import peewee

from appliance.core.config import SmtpConfig
from appliance.core.errors import Conflict, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Interview, OutboxMessage
from appliance.db.paging import Page, paginate
from appliance.storage.audit import AuditLog

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def queue_message(
    recipient: str,
    subject: str,
    body: str,
    *,
    ics: str = "",
    interview: Interview | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """The new message, or None when one with the same `dedupe_key` already exists."""
    try:
        with OutboxMessage._meta.database.atomic():
            return OutboxMessage.create(
                interview=interview,
                recipient=recipient,
                subject=subject[:300],
                body=body,
                ics=ics,
                dedupe_key=dedupe_key,
            )
    except peewee.IntegrityError:
        return None


def prune_outbox(keep_days: int, now: dt.datetime | None = None) -> int:
    """Delete messages queued more than `keep_days` ago, whatever became of them: the outbox
    is a queue, not an archive of what candidates and staff were told. Returns how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=keep_days)
    return int(OutboxMessage.delete().where(OutboxMessage.created_at < cutoff).execute())


def waiting_for_staff(relay: bool, page: int = 1) -> Page[OutboxMessage]:
    """A page of the messages staff must act on, newest first: those the relay refused for
    good (and, with no relay configured, every message still to send), for copying or
    downloading by hand."""
    statuses = ["manual", "failed"] if relay else ["pending", "manual", "failed"]
    query = OutboxMessage.select().where(OutboxMessage.status.in_(statuses))
    return paginate(query.order_by(OutboxMessage.id.desc()), page)


def mark_sent_by_hand(audit: AuditLog, actor: str, message_id: int) -> OutboxMessage:
    """A recruiter sent this message themselves: it leaves the list of messages to send, and
    the relay (when one is configured later) never sends it again."""
    with OutboxMessage._meta.database.atomic():
        message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
        if message is None:
            raise NotFound(f"no message {message_id} in the outbox")
        if message.status in ("sent", "sent_by_hand"):
            raise Conflict("This message was already sent.")
        message.status, message.sent_at, message.error = "sent_by_hand", utcnow(), ""
        message.save()
        audit.record(
            actor,
            "outbox.sent_by_hand",
            f"outbox:{message.id}",
            {"interview": message.interview_id, "subject": message.subject},
        )
    return message


def calendar_file(message_id: int) -> str:
    """The calendar invitation (.ics) a queued message carries."""
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None or not message.ics:
        raise NotFound(f"no calendar file for message {message_id}")
    return str(message.ics)


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="parley.local")
    email.set_content(message.body)
    if message.ics:
        method = "CANCEL" if "METHOD:CANCEL" in message.ics else "REQUEST"
        email.add_alternative(
            message.ics, subtype="calendar", params={"method": method, "name": "invite.ics"}
        )
        email.add_attachment(
            message.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
        )
    return email


async def _send(settings: SmtpConfig, email: EmailMessage) -> None:
    await aiosmtplib.send(
        email,
        hostname=settings.host,
        port=settings.port,
        username=settings.username or None,
        password=settings.password or None,
        start_tls=settings.security == "starttls",
        use_tls=settings.security == "tls",
        timeout=settings.timeout_seconds,
    )


def deliver_pending(settings: SmtpConfig, limit: int = 50) -> int:
    """Sends what is waiting; returns how many went out. Failures are retried on later passes,
    up to MAX_ATTEMPTS, and keep their last error for the recruiter to see."""
    pending = list(
        OutboxMessage.select()
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if not settings.host:
        for message in pending:
            message.status = "manual"
            message.save()
        return 0
    sent = 0
    for message in pending:
        try:
            asyncio.run(_send(settings, build_email(message, settings.sender)))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            message.attempts += 1
            message.error = f"{type(exc).__name__}: {exc}"[:2000]
            message.status = "failed" if message.attempts >= MAX_ATTEMPTS else "pending"
            message.save()
            logger.warning("e-mail to %s failed (%d): %s", message.recipient, message.attempts, exc)
            continue
        message.status, message.sent_at, message.error = "sent", utcnow(), ""
        message.attempts += 1
        message.save()
        sent += 1
    return sent
