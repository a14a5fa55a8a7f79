"""RFC 5322 messages into what the service desk needs (stdlib `email`, no database).

Threading keys, most reliable first: the Message-IDs in In-Reply-To and References, then a
`[#INC0001234]` tag in the subject (what our replies carry, and what people keep when they
forward).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

MAX_MESSAGE = 2 * 1024 * 1024
MAX_BODY = 100_000
MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
TAG = re.compile(r"\[#((?:INC|REQ|PRB)\d{7,18})\]")
ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
# Where the quoted previous message starts in a reply ("On Mon, ... wrote:").
QUOTE_HEADER = re.compile(r"^\s*On .{1,200} wrote:\s*$")


class MailError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Inbound:
    message_id: str
    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    references: tuple[str, ...]  # In-Reply-To first, then References newest first
    tag: str | None  # a ticket number tagged in the subject

    def reply_subject(self, number: str) -> str:
        bare = TAG.sub("", self.subject).strip()
        return f"[#{number}] {bare}".strip()


def _addresses(msg: EmailMessage, *headers: str) -> list[tuple[str, str]]:
    values = [str(v) for h in headers for v in msg.get_all(h, [])]
    return [(name, addr.strip()) for name, addr in getaddresses(values) if addr.strip()]


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html.unescape(re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", content))
    return content


def strip_quoted(body: str) -> str:
    """The new part of a reply: stop at the quoted original, drop '>' lines."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if QUOTE_HEADER.match(line) or line.strip() == "-----Original Message-----":
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


def parse(raw: bytes) -> Inbound:
    """The message's threading keys and new text; MailError names what is wrong."""
    try:
        return _parse(raw)
    except MailError:
        raise
    except (ValueError, LookupError, TypeError, AttributeError, IndexError) as exc:
        # The email package tolerates most damage; what it cannot is still a bad request.
        raise MailError("message", f"cannot be parsed ({type(exc).__name__})") from exc


def _parse(raw: bytes) -> Inbound:
    if not raw.strip():
        raise MailError("message", "empty")
    if len(raw) > MAX_MESSAGE:
        raise MailError("message", f"larger than {MAX_MESSAGE} bytes")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    senders = _addresses(msg, "from")
    if not senders or not ADDRESS.match(senders[0][1]):
        raise MailError("from", "missing or not an email address")
    name, sender = senders[0]
    subject = " ".join(str(msg.get("subject", "")).split())[:500]
    ids = MSG_ID.findall(str(msg.get("message-id", "")))
    # Without a Message-ID, a hash of the message keeps redelivery idempotent.
    message_id = ids[0] if ids else hashlib.sha256(raw).hexdigest() + "@drctl.invalid"
    replied = MSG_ID.findall(str(msg.get("in-reply-to", "")))
    refs = list(reversed(MSG_ID.findall(str(msg.get("references", "")))))
    references = tuple(dict.fromkeys(replied + refs))
    body = strip_quoted(_text(msg)).replace("\x00", "")[:MAX_BODY]
    tag = TAG.search(subject)
    recipients = tuple(a for _, a in _addresses(msg, "to", "cc"))
    # PostgreSQL text cannot hold NUL: refuse it here, naming the header, not at the INSERT
    for field, values in (
        ("from", (name, sender)),
        ("to", recipients),
        ("message-id", (message_id,)),
        ("references", references),
    ):
        if any("\x00" in v for v in values):
            raise MailError(field, "must not contain NUL characters")
    return Inbound(
        message_id=message_id,
        sender=sender,
        sender_name=(name or sender.split("@")[0])[:200],
        recipients=recipients,
        subject=subject.replace("\x00", ""),
        body=body,
        references=references,
        tag=tag.group(1) if tag else None,
    )
