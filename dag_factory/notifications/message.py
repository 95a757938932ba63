"""One run report rendered for people: Slack (text + Block Kit) and email (subject, HTML and text).

All text from users (descriptions, params, error lines) is escaped for the medium: Slack's ``& < >`` and
HTML. Nothing here is ever rendered as a Jinja template.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from airflow_mlops_dag_factory.spec import NotificationEvent

MAX_PARAMS_CHARS = 1500
MAX_ERROR_CHARS = 1200
MAX_FAILED_TASKS = 10
SLACK_SECTION_CHARS = 2900  # Slack's limit is 3000 per section text


@dataclass(frozen=True)
class FailedTask:
    task_id: str
    error: str | None  # the first lines of the error; None when Airflow recorded none (e.g. the worker was killed)
    map_index: int | None = None

    @property
    def label(self) -> str:
        return self.task_id if self.map_index is None else f"{self.task_id}[{self.map_index}]"


@dataclass(frozen=True)
class RunReport:
    """What a notification says; built from Airflow's callback context (or for a test message)."""

    event: NotificationEvent
    workflow: str
    run_id: str
    state: str  # the run's state ("failed", "success") or, for a retry, the task's ("up_for_retry")
    triggered_by: str | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    duration_seconds: float | None = None
    failed_tasks: tuple[FailedTask, ...] = ()
    url: str | None = None
    reason: str | None = None
    retry_of: str | None = None  # the task being retried (on_retry)
    try_number: int | None = None
    max_tries: int | None = None
    test_by: str | None = None  # set on a test notification: who asked for it

    @property
    def title(self) -> str:
        prefix = "[TEST] " if self.test_by else ""
        if self.event == "on_retry":
            tries = f" (try {self.try_number} of {self.max_tries})" if self.try_number and self.max_tries else ""
            return f"{prefix}MLOps workflow {self.workflow}: task {self.retry_of} failed{tries}, retrying"
        verb = {"on_failure": "failed", "on_success": "succeeded"}[self.event]
        return f"{prefix}MLOps workflow {self.workflow} {verb}"

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs in reading order; empty values left out."""
        rows = [("Workflow", self.workflow), ("Status", self.state), ("Run", self.run_id),
                ("Triggered by", self.triggered_by or ""),
                ("Version", str(self.version) if self.version is not None else ""),
                ("Duration", format_duration(self.duration_seconds)), ("Reason", self.reason or "")]
        if self.test_by:
            rows.append(("Test sent by", self.test_by))
        return [(label, value) for label, value in rows if value]

    def params_text(self) -> str:
        text = json.dumps(self.params, sort_keys=True, default=str)
        return text if len(text) <= MAX_PARAMS_CHARS else text[:MAX_PARAMS_CHARS] + " …"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- Slack -------------------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Slack treats ``<...>`` as links/mentions: user text must not make one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(text: str) -> str:
    return "```" + slack_escape(text).replace("```", "'''") + "```"


def slack_text(report: RunReport) -> str:
    """The whole message as Slack mrkdwn: the notification's fallback text and what screen readers get."""
    lines = [f"*{slack_escape(report.title)}*"]
    lines += [f"*{label}:* {slack_escape(value)}" for label, value in report.facts()]
    if report.description:
        lines.append(f"*Description:* {slack_escape(clip(report.description, 1000))}")
    lines.append(f"*Params:* `{slack_escape(report.params_text())}`")
    for task in report.failed_tasks[:MAX_FAILED_TASKS]:
        lines.append(f"*Failed task {slack_escape(task.label)}:*")
        lines.append(_slack_code(clip(task.error or "(no error recorded; see the task log)", MAX_ERROR_CHARS)))
    if report.url:
        lines.append(f"<{report.url}|Open the run in Airflow>")
    return clip("\n".join(lines), 39_000)


def slack_blocks(report: RunReport) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(report.title, 150)}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": clip(f"*{label}*\n{slack_escape(value)}", 2000)}
            for label, value in report.facts()[:10]
        ]},
    ]
    if report.description:
        blocks.append(_section(f"*Description*\n{slack_escape(report.description)}"))
    blocks.append(_section(f"*Params*\n`{slack_escape(report.params_text())}`"))
    for task in report.failed_tasks[:MAX_FAILED_TASKS]:
        error = clip(task.error or "(no error recorded; see the task log)", MAX_ERROR_CHARS)
        blocks.append(_section(f"*Failed task {slack_escape(task.label)}*\n{_slack_code(error)}"))
    if report.url:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open the run in Airflow"}, "url": report.url},
        ]})
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION_CHARS)}}


# -- email -------------------------------------------------------------------------------------------
def email_subject(report: RunReport) -> str:
    return clip(" ".join(report.title.split()), 200)


def email_text(report: RunReport) -> str:
    lines = [report.title, ""]
    lines += [f"{label}: {value}" for label, value in report.facts()]
    if report.description:
        lines.append(f"Description: {report.description}")
    lines.append(f"Params: {report.params_text()}")
    for task in report.failed_tasks[:MAX_FAILED_TASKS]:
        lines += ["", f"Failed task {task.label}:"]
        lines += ["    " + line for line in clip(task.error or "(no error recorded; see the task log)",
                                                   MAX_ERROR_CHARS).splitlines()]
    if report.url:
        lines += ["", f"Open the run in Airflow: {report.url}"]
    return "\n".join(lines) + "\n"


def email_html(report: RunReport) -> str:
    e = html.escape
    colour = {"on_failure": "#b42318", "on_success": "#067647", "on_retry": "#b54708"}[report.event]
    rows = "".join(f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(label)}</th><td>{e(value)}</td></tr>'
                   for label, value in report.facts())
    if report.description:
        rows += f'<tr><th align="left" style="padding:2px 12px 2px 0">Description</th><td>{e(report.description)}</td></tr>'
    rows += (f'<tr><th align="left" style="padding:2px 12px 2px 0">Params</th>'
             f'<td><code>{e(report.params_text())}</code></td></tr>')
    failed = "".join(
        f"<h3>Failed task {e(task.label)}</h3>"
        f'<pre style="background:#f4f4f5;padding:8px;white-space:pre-wrap">'
        f"{e(clip(task.error or '(no error recorded; see the task log)', MAX_ERROR_CHARS))}</pre>"
        for task in report.failed_tasks[:MAX_FAILED_TASKS])
    link = f'<p><a href="{e(report.url, quote=True)}">Open the run in Airflow</a></p>' if report.url else ""
    return (f'<html><body style="font-family:sans-serif">'
            f'<h2 style="color:{colour}">{e(report.title)}</h2><table>{rows}</table>{failed}{link}</body></html>')
