"""Chaos: fail a share of each channel's messages on purpose, or slow them down.

The configuration lives in the memory of the mid-sourcing process (it is reset at restart) and
is changed through ``/api/v1/chaos``. Magic recipients and quarantine come first: chaos only
touches messages that would otherwise be delivered.
"""

from __future__ import annotations

import random
import threading

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from midsourcing.delivery.reasons import Attempt, FailureReason
from services.delivery_protocol import FailureType

__all__ = ["CHANNELS", "ChannelChaos", "Chaos", "ChaosConfig"]

#: The channels of the delivery protocol.
CHANNELS = ("email", "sms", "ios", "android")
_ALLOWED_REASONS = {
    FailureReason.USER_UNKNOWN,
    FailureReason.INVALID_DOMAIN,
    FailureReason.UNREACHABLE,
    FailureReason.ACCOUNT_DISABLED,
    FailureReason.MAILBOX_FULL,
    FailureReason.REFUSED,
}


class ChannelChaos(BaseModel):
    """Chaos on one channel."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    probability: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of messages that fail (0 to 1)."
    )
    failure_reason: int = Field(
        int(FailureReason.UNREACHABLE),
        description="Campaign failure reason of those failures: 1, 2, 3, 4, 5 or 20.",
    )
    failure_type: FailureType | None = Field(
        None, description="hard or soft; defaults to the reason's usual type (1 hard, others soft)."
    )
    latency_ms: int = Field(0, ge=0, le=600_000, description="Delay added to every try.")

    @field_validator("failure_reason")
    @classmethod
    def _known_reason(cls, value: int) -> int:
        if value not in {int(r) for r in _ALLOWED_REASONS}:
            allowed = ", ".join(str(int(r)) for r in sorted(_ALLOWED_REASONS))
            raise ValueError(f"failure reason {value} cannot be injected; use one of {allowed}")
        return value

    @field_validator("failure_type")
    @classmethod
    def _hard_or_soft(cls, value: FailureType | None) -> FailureType | None:
        if value not in {None, FailureType.HARD, FailureType.SOFT}:
            raise ValueError("failure type must be hard or soft")
        return value


class ChaosConfig(BaseModel):
    """Chaos on every channel, and the seed of its random choices."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    channels: dict[str, ChannelChaos] = Field(
        default_factory=dict, description="Chaos per channel: email, sms, ios, android."
    )
    seed: int | None = Field(
        None, description="Seed of the random choices, for a repeatable sequence of failures."
    )

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, ChannelChaos]) -> dict[str, ChannelChaos]:
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; use {', '.join(CHANNELS)}")
        return value


class Chaos:
    """The running chaos configuration, shared by the API and the workers."""

    def __init__(self) -> None:
        self._config = ChaosConfig()
        self._random = random.Random()  # noqa: S311 - fault injection, not security
        self._lock = threading.Lock()

    @property
    def config(self) -> ChaosConfig:
        """Return the current configuration."""
        return self._config

    def configure(self, config: ChaosConfig) -> None:
        """Replace the configuration (and reseed when it carries a seed)."""
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)  # noqa: S311

    def latency(self, channel: str) -> float:
        """Return the seconds to wait before each try on ``channel``."""
        settings = self._config.channels.get(channel)
        return 0.0 if settings is None else settings.latency_ms / 1000

    def attempt(self, channel: str) -> Attempt | None:
        """Return an injected failure for this try on ``channel``, or None."""
        settings = self._config.channels.get(channel)
        if settings is None or settings.probability <= 0:
            return None
        with self._lock:
            draw = self._random.random()
        if draw >= settings.probability:
            return None
        reason = FailureReason(settings.failure_reason)
        text = f"{reason.label} (mcsim chaos on {channel}, probability {settings.probability:g})"
        return Attempt.bounce(reason, text, settings.failure_type)
