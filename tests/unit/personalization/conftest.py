"""Fixtures for the personalization engine tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.personalization import TemplateEngine, compile_template
from tests.unit.personalization.builders import make_event, unique_name

Render = Callable[..., str]


@pytest.fixture
def engine() -> TemplateEngine:
    """Return an engine with the default limits."""
    return TemplateEngine()


@pytest.fixture
def render(engine: TemplateEngine) -> Render:
    """Return render(source, ctx=None, **attributes) -> text."""

    def _render(source: str, ctx: str | None = None, **attributes: str) -> str:
        template = compile_template(source, name=unique_name())
        return engine.render(template, make_event(ctx, **attributes))

    return _render
