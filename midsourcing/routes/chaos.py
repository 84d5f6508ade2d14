"""Chaos: ``/api/v1/chaos`` (per channel: failure probability and reason, latency)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from midsourcing.delivery.chaos import ChannelChaos, ChaosConfig
from midsourcing.deps import StateDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/chaos", tags=["chaos"])

ChannelName = Literal["email", "sms", "ios", "android"]


@router.get("", response_model=ChaosConfig)
async def get_chaos(state: StateDep) -> ChaosConfig:
    """Return the chaos in force."""
    return state.chaos.config


@router.put("", response_model=ChaosConfig)
async def put_chaos(state: StateDep, config: ChaosConfig) -> ChaosConfig:
    """Replace the whole chaos configuration (channels left out get no chaos)."""
    state.chaos.configure(config)
    return state.chaos.config


@router.delete("", response_model=ChaosConfig)
async def delete_chaos(state: StateDep) -> ChaosConfig:
    """Stop every chaos."""
    state.chaos.configure(ChaosConfig())
    return state.chaos.config


@router.put("/{channel}", response_model=ChaosConfig)
async def put_channel_chaos(
    state: StateDep, channel: ChannelName, settings: ChannelChaos
) -> ChaosConfig:
    """Set the chaos of one channel, keeping the others."""
    current = state.chaos.config
    channels = {**current.channels, channel: settings}
    state.chaos.configure(ChaosConfig(channels=channels, seed=current.seed))
    return state.chaos.config


@router.delete("/{channel}", response_model=ChaosConfig)
async def delete_channel_chaos(state: StateDep, channel: ChannelName) -> ChaosConfig:
    """Stop the chaos of one channel."""
    current = state.chaos.config
    channels = {name: value for name, value in current.channels.items() if name != channel}
    state.chaos.configure(ChaosConfig(channels=channels, seed=current.seed))
    return state.chaos.config
