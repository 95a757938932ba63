"""The provider notifier that delivers a rendered report to one channel.

Reports carry user text (descriptions, params, error lines), so the notifiers are called through
``notify()``, not ``__call__``: the latter renders every field as a Jinja template, which would let a run
description execute template code in the worker or dag-processor.
"""

from __future__ import annotations

from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from functools import cached_property
from typing import Any

from airflow.providers.slack.notifications.slack import SlackNotifier
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.notifications import message
from airflow_mlops_dag_factory.notifications.channels import connection_id
from airflow_mlops_dag_factory.notifications.message import RunReport
from airflow_mlops_dag_factory.spec import ChannelSpec

SLACK_USERNAME = "Airflow MLOps"


class _TextAndHtmlSmtpHook(SmtpHook):
    """The provider's SMTP hook, sending ``multipart/alternative`` (plain text + HTML) instead of HTML only."""

    def __init__(self, text_content: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.text_content = text_content

    def _build_mime_message(self, *args: Any, **kwargs: Any) -> tuple[MIMEMultipart, list[str]]:
        msg, recipients = super()._build_mime_message(*args, **kwargs)
        html_parts = [p for p in msg.get_payload() if isinstance(p, Message) and p.get_content_type() == "text/html"]
        if html_parts:
            alternative = MIMEMultipart("alternative")
            alternative.attach(MIMEText(self.text_content, "plain", kwargs.get("mime_charset", "utf-8")))
            alternative.attach(html_parts[0])
            msg.set_payload([alternative if p is html_parts[0] else p for p in msg.get_payload()])
        return msg, recipients


class TextAndHtmlSmtpNotifier(SmtpNotifier):
    """``SmtpNotifier`` whose email also has a plain-text part, for clients that do not show HTML."""

    def __init__(self, *, text_content: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.text_content = text_content

    @cached_property
    def hook(self) -> SmtpHook:
        return _TextAndHtmlSmtpHook(self.text_content, smtp_conn_id=self.smtp_conn_id, auth_type=self.auth_type)


def notifier_for(channel: ChannelSpec, report: RunReport, timeout: int) -> Any:
    """A provider notifier for ``channel`` carrying ``report``; ``timeout`` bounds each HTTP call."""
    conn_id = connection_id(channel)
    if channel.type == "slack_webhook":
        return SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=message.slack_text(report),
                                    blocks=message.slack_blocks(report), timeout=timeout)
    if channel.type == "slack":
        return SlackNotifier(slack_conn_id=conn_id, channel=channel.channel or "", text=message.slack_text(report),
                             blocks=message.slack_blocks(report), timeout=timeout, username=SLACK_USERNAME)
    return TextAndHtmlSmtpNotifier(
        smtp_conn_id=conn_id, to=list(channel.to), from_email=settings.get("email_from") or None,
        subject=message.email_subject(report), html_content=message.email_html(report),
        text_content=message.email_text(report))
