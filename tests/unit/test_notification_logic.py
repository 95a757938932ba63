"""Pure logic of notifications: settings rules, default channels, escaping, error lines, email structure."""

from __future__ import annotations

import pytest

from airflow_mlops_dag_factory.notifications.channels import channels_for, default_channels
from airflow_mlops_dag_factory.notifications.message import (
    FailedTask,
    RunReport,
    email_html,
    email_text,
    format_duration,
    slack_blocks,
    slack_text,
)
from airflow_mlops_dag_factory.notifications.notifiers import _TextAndHtmlSmtpHook
from airflow_mlops_dag_factory.notifications.report import _split_state_key, error_summary
from airflow_mlops_dag_factory.spec import ChannelSpec, NotificationSpec
from airflow_mlops_dag_factory.usercode import FUNCTION_NAME, compile_task_code
from airflow_mlops_dag_factory.validate import check_notifications


def errors_of(settings: dict) -> dict[str, str]:
    return {e.path: e.message for e in check_notifications(NotificationSpec.model_validate(settings))}


def test_each_channel_type_takes_exactly_its_fields():
    assert errors_of({"on_failure": [{"type": "slack_webhook", "connection_id": "alerts"},
                                      {"type": "slack", "channel": "#ml-alerts"},
                                      {"type": "email", "to": ["a@example.com"]}]}) == {}
    errors = errors_of({"on_success": [{"type": "slack_webhook", "channel": "#x", "to": ["a@example.com"]},
                                       {"type": "slack", "channel": "has space"},
                                       {"type": "email", "to": []},
                                       {"type": "email", "to": ["a@example.com", "A@example.com"]}]})
    assert set(errors) == {"notifications.on_success[0].channel", "notifications.on_success[0].to",
                           "notifications.on_success[1].channel", "notifications.on_success[2].to",
                           "notifications.on_success[3].to"}
    assert "unique" in errors["notifications.on_success[3].to"]


@pytest.mark.parametrize("value", ["https://hooks.slack.com/services/T0/B0/x", "xoxb-1-2-abc", "hooks.slack.com/x"])
def test_a_secret_in_the_connection_field_is_refused(value):
    [(path, message)] = errors_of({"on_retry": [{"type": "slack_webhook", "connection_id": value}]}).items()
    assert path == "notifications.on_retry[0].connection_id" and "secrets are never stored here" in message


def test_duplicate_channels_in_one_event_are_refused():
    channel = {"type": "slack_webhook", "connection_id": "alerts"}
    assert "notifications.on_failure[1]" in errors_of({"on_failure": [channel, channel]})


def test_defaults_join_for_their_events_unless_the_workflow_opts_out(monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__DEFAULT_SLACK_WEBHOOK", "team_hook")
    monkeypatch.setenv("AIRFLOW__MLOPS__DEFAULT_EMAIL_TO", "ml@example.com, ops@example.com")
    monkeypatch.setenv("AIRFLOW__MLOPS__DEFAULT_EVENTS", "on_failure,on_typo")
    assert [c.type for c in default_channels()] == ["slack_webhook", "email"]
    own = ChannelSpec(type="slack_webhook", connection_id="team_hook")  # the same as the default: sent once
    settings = NotificationSpec(on_failure=[own], on_success=[own])
    assert [(c.type, c.connection_id) for c in channels_for(settings, "on_failure")] == [
        ("slack_webhook", "team_hook"), ("email", None)]
    assert channels_for(settings, "on_success") == [own]  # defaults are for failures only here
    assert channels_for(settings.model_copy(update={"use_defaults": False}), "on_failure") == [own]
    assert channels_for(NotificationSpec(), "on_retry") == []


def report(**changes) -> RunReport:
    values = dict(event="on_failure", workflow="train_v2", run_id="manual__1", state="failed", triggered_by="alice",
                  description="<!channel> see <https://evil|here> & {{ 7*7 }}", params={"lr": 0.5}, version=4,
                  duration_seconds=3725, url="http://af.example.com/dags/train_v2/runs/manual__1",
                  failed_tasks=(FailedTask("train", "ValueError: <bad>"), FailedTask("fit", None, 3)))
    return RunReport(**{**values, **changes})


def test_slack_text_escapes_user_text_and_keeps_templates_literal():
    text = slack_text(report())
    assert "&lt;!channel&gt; see &lt;https://evil|here&gt; &amp; {{ 7*7 }}" in text
    assert "<!channel>" not in text and "49" not in text
    assert "```ValueError: &lt;bad&gt;```" in text
    assert "*Failed task fit[3]:*\n```(no error recorded; see the task log)```" in text
    assert "*Duration:* 1h 2m 5s" in text and "<http://af.example.com/dags/train_v2/runs/manual__1|Open" in text
    blocks = slack_blocks(report())
    assert blocks[0]["text"] == {"type": "plain_text", "text": "MLOps workflow train_v2 failed"}
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


def test_email_html_escapes_and_text_has_the_same_facts():
    html = email_html(report())
    assert "&lt;!channel&gt; see &lt;https://evil|here&gt; &amp; {{ 7*7 }}" in html and "<!channel>" not in html
    assert "ValueError: &lt;bad&gt;" in html
    text = email_text(report())
    assert "Description: <!channel> see <https://evil|here> & {{ 7*7 }}" in text
    assert "Open the run in Airflow: http://af.example.com/dags/train_v2/runs/manual__1" in text


def test_titles_say_what_happened():
    assert report(event="on_success", state="success").title == "MLOps workflow train_v2 succeeded"
    retry = report(event="on_retry", state="up_for_retry", retry_of="train", try_number=1, max_tries=3)
    assert retry.title == "MLOps workflow train_v2: task train failed (try 1 of 3), retrying"
    assert report(test_by="bob").title.startswith("[TEST] ") and ("Test sent by", "bob") in report(test_by="bob").facts()
    assert [format_duration(s) for s in (None, 0.4, 59, 61, 7200)] == ["", "0s", "59s", "1m 1s", "2h 0m 0s"]


def test_error_summary_points_at_the_users_line():
    filename = "<mlops wf.train v1>"
    namespace: dict = {}
    exec(compile_task_code("x = 1\ny = {}\nreturn y['missing']", filename), namespace)
    try:
        namespace[FUNCTION_NAME]()
    except KeyError as exc:
        summary = error_summary(exc)
    assert summary == "KeyError: 'missing'\nat line 3 of the task code: return y['missing']"
    assert error_summary(None) is None
    assert error_summary(TimeoutError("took too long")) == "TimeoutError: took too long"


def test_mapped_task_state_keys_are_split_against_the_dags_tasks():
    tasks = {"train", "train_2", "fit"}
    assert _split_state_key("train", tasks) == ("train", None)
    assert _split_state_key("train_2", tasks) == ("train_2", None)
    assert _split_state_key("fit_12", tasks) == ("fit", 12)


def test_email_has_a_plain_text_and_an_html_alternative():
    hook = _TextAndHtmlSmtpHook("plain words", smtp_conn_id="unused")
    message, recipients = hook._build_mime_message(mail_from="a@example.com", to=["b@example.com"], subject="s",
                                                   html_content="<p>html words</p>")
    assert recipients == ["b@example.com"]
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
