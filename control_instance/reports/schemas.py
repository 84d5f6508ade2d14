"""Wire schemas of the reports (``/api/v1/reports/...``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = [
    "HistoryReport",
    "HistoryRow",
    "ProcessingTimeReport",
    "ProcessingTimeRow",
    "ReportFilter",
    "ServiceLevelReport",
    "ServiceLevelRow",
]


class ReportFilter(BaseModel):
    """What a report covers: a period, and optionally one channel and one instance."""

    since: datetime
    until: datetime
    interval: str
    channel: int | None = None
    instance: int | None = None


class HistoryRow(BaseModel):
    """Events of one type received in one period, and how many of them were sent."""

    period: str
    event_type: str
    events: int
    sent: int


class HistoryReport(BaseModel):
    """History of Message Center events: event type x period (columns Events, Sent)."""

    filter: ReportFilter
    rows: list[HistoryRow]
    events: int
    sent: int


class ServiceLevelRow(BaseModel):
    """Service level of one period (``period`` is ``total`` for the whole report)."""

    period: str
    incoming_events: int
    incoming_per_hour: float
    outgoing_messages: int
    outgoing_per_hour: float
    avg_sending_seconds: float | None
    finished: int
    errors: int
    error_rate: float
    routing_errors: int
    expired: int
    delivery_errors: int
    ignored: int


class ServiceLevelReport(BaseModel):
    """Message Center service level: throughput, sending time and errors by cause."""

    filter: ReportFilter
    total: ServiceLevelRow
    rows: list[ServiceLevelRow]


class ProcessingTimeRow(BaseModel):
    """Average times of one period (``period`` is ``total`` for the whole report)."""

    period: str
    events: int
    avg_queuing_seconds: float | None
    avg_sending_seconds: float | None
    avg_processing_seconds: float | None


class ProcessingTimeReport(BaseModel):
    """Message Center processing time: average queuing, sending and processing times."""

    filter: ReportFilter
    total: ProcessingTimeRow
    rows: list[ProcessingTimeRow]
