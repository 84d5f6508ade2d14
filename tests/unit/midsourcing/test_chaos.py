"""Chaos configuration: validation, probabilities, seeds and latency."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from midsourcing.delivery.chaos import ChannelChaos, Chaos, ChaosConfig
from midsourcing.delivery.reasons import FailureReason
from services.delivery_protocol import FailureType


def configured(**channels: ChannelChaos) -> Chaos:
    chaos = Chaos()
    chaos.configure(ChaosConfig(channels=channels, seed=7))
    return chaos


def test_no_chaos_by_default() -> None:
    chaos = Chaos()
    assert all(chaos.attempt(channel) is None for channel in ("email", "sms", "ios", "android"))
    assert chaos.latency("email") == 0.0


def test_probability_one_fails_every_try_with_the_reasons_usual_type() -> None:
    chaos = configured(sms=ChannelChaos(probability=1.0, failure_reason=1))
    for _ in range(20):
        attempt = chaos.attempt("sms")
        assert attempt is not None
        assert (attempt.failure_type, attempt.reason) == (
            FailureType.HARD,
            FailureReason.USER_UNKNOWN,
        )
        assert "chaos" in attempt.text
    assert chaos.attempt("email") is None


def test_the_failure_type_can_be_forced() -> None:
    chaos = configured(email=ChannelChaos(probability=1, failure_reason=20, failure_type="hard"))
    attempt = chaos.attempt("email")
    assert attempt is not None and attempt.failure_type is FailureType.HARD


def test_a_probability_fails_about_that_share_and_a_seed_repeats_the_sequence() -> None:
    settings = ChannelChaos(probability=0.3, failure_reason=5)
    first, second = configured(email=settings), configured(email=settings)
    draws = [first.attempt("email") is not None for _ in range(2000)]
    assert draws == [second.attempt("email") is not None for _ in range(2000)]
    assert 0.25 < sum(draws) / len(draws) < 0.35


def test_latency_is_per_channel() -> None:
    chaos = configured(ios=ChannelChaos(latency_ms=250))
    assert chaos.latency("ios") == 0.25
    assert chaos.latency("android") == 0.0
    assert chaos.attempt("ios") is None


def test_camel_case_json_is_accepted_and_written() -> None:
    config = ChaosConfig.model_validate(
        {"channels": {"sms": {"probability": 0.5, "failureReason": 3, "latencyMs": 10}}}
    )
    assert config.channels["sms"].failure_reason == 3
    dumped = config.model_dump(by_alias=True)
    assert dumped["channels"]["sms"]["latencyMs"] == 10


@pytest.mark.parametrize(
    "document",
    [
        {"channels": {"fax": {"probability": 1}}},
        {"channels": {"email": {"probability": 1.5}}},
        {"channels": {"email": {"failureReason": 9}}},
        {"channels": {"email": {"failureType": "ignored"}}},
        {"channels": {"email": {"latencyMs": -1}}},
        {"channels": {"email": {"bogus": 1}}},
    ],
)
def test_invalid_chaos_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChaosConfig.model_validate(document)
