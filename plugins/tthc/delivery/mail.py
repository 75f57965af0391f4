"""Sending e-mail through the `smtp_default` connection, and posting to an alert webhook."""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from tthc.orchestration.connections import SmtpEndpoint

log = logging.getLogger(__name__)
HEADER_LINE_LIMIT = 998  # RFC 5322, 2.1.1


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


def build_message(sender: str, to: list[str], subject: str, text: str, html: str | None = None,
                  attachments: tuple[Attachment, ...] = (), cc: list[str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    msg.set_content(text, charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments:
        msg.add_attachment(a.content, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
    # Python 3.11 folds a long non-ASCII header into several encoded words with the space between
    # them outside both, and readers drop it: "phục vụngười dân" (CPython gh-92081). Headers are
    # folded only beyond RFC 5322's 998 characters; the body and attachments are encoded already.
    msg.policy = msg.policy.clone(max_line_length=HEADER_LINE_LIMIT)
    return msg


def send(endpoint: SmtpEndpoint, msg: EmailMessage, timeout: float = 60.0) -> None:
    with smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout) as smtp:
        if endpoint.starttls:
            smtp.starttls()
        if endpoint.login:
            smtp.login(endpoint.login, endpoint.password or "")
        smtp.send_message(msg)
    log.info("mail sent: %s to %d recipient(s)", msg["Subject"], len(msg["To"].split(",")))


def post_webhook(url: str, payload: dict, timeout: float = 15.0) -> None:
    req = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured URL only
        resp.read()
