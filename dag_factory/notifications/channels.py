"""Which channels an event notifies: the workflow's own, plus the deployment's defaults from ``[mlops]``."""

from __future__ import annotations

import logging

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.spec import EVENTS, ChannelSpec, NotificationEvent, NotificationSpec

log = logging.getLogger(__name__)

TYPE_LABELS = {"slack_webhook": "Slack webhook", "slack": "Slack", "email": "Email"}


def default_events() -> list[NotificationEvent]:
    """The events ``[mlops] default_events`` names; unknown names are logged and ignored."""
    events: list[NotificationEvent] = []
    for name in (part.strip() for part in settings.get("default_events").split(",")):
        known = next((event for event in EVENTS if event == name), None)
        if known:
            events.append(known)
        elif name:
            log.warning("[mlops] default_events: unknown event %r ignored (known: %s)", name, ", ".join(EVENTS))
    return events


def default_channels() -> list[ChannelSpec]:
    """The deployment-wide channels of ``[mlops] default_slack_webhook / default_slack_channel / default_email_to``."""
    channels = []
    if webhook := settings.get("default_slack_webhook").strip():
        channels.append(ChannelSpec(type="slack_webhook", connection_id=webhook))
    if slack_channel := settings.get("default_slack_channel").strip():
        channels.append(ChannelSpec(type="slack", channel=slack_channel))
    if recipients := [a.strip() for a in settings.get("default_email_to").split(",") if a.strip()]:
        channels.append(ChannelSpec(type="email", to=recipients))
    return channels


Defaults = tuple[list[NotificationEvent], list[ChannelSpec]]


def defaults() -> Defaults:
    """``[mlops]`` default events and channels, read once per DAG file parse instead of once per workflow."""
    return default_events(), default_channels()


def channels_for(notifications: NotificationSpec, event: NotificationEvent,
                 deployment: Defaults | None = None) -> list[ChannelSpec]:
    """The workflow's channels for ``event``, then the defaults (when it keeps them), each once."""
    channels = notifications.channels(event)
    if notifications.use_defaults:
        events, default_list = deployment or defaults()
        if event in events:
            channels += default_list
    if not channels:
        return channels
    unique: list[ChannelSpec] = []
    for channel in channels:
        if all(resolved(channel) != resolved(other) for other in unique):
            unique.append(channel)
    return unique


def connection_id(channel: ChannelSpec) -> str:
    """The channel's connection, or the ``[mlops]`` default connection for its type."""
    if channel.connection_id:
        return channel.connection_id
    return settings.get({"slack_webhook": "slack_webhook_conn_id", "slack": "slack_conn_id",
                         "email": "smtp_conn_id"}[channel.type])


def resolved(channel: ChannelSpec) -> ChannelSpec:
    return channel.model_copy(update={"connection_id": connection_id(channel)})


def target(channel: ChannelSpec) -> str | None:
    """Where it lands, for people: the Slack channel or the recipients (the webhook's channel is in its connection)."""
    if channel.type == "slack":
        return channel.channel
    if channel.type == "email":
        return ", ".join(channel.to)
    return None


def describe(channel: ChannelSpec) -> str:
    where = target(channel)
    return f"{TYPE_LABELS[channel.type]} (connection {connection_id(channel)!r}{f', {where}' if where else ''})"
