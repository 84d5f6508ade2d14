"""formatDate(date, format [, timeZone]) with Campaign's format codes."""

from __future__ import annotations

import pytest

from services.personalization import TemplateEngine, TemplateRuntimeError, compile_template
from tests.unit.personalization.builders import make_event, unique_name
from tests.unit.personalization.conftest import Render

# Tuesday 5 March 2024, 14:07:09 UTC: day 65 of a leap year, ISO week 10.
WHEN = '"2024-03-05T14:07:09Z"'


@pytest.mark.parametrize(
    ("format_", "expected"),
    [
        ("%4Y/%2M/%2D", "2024/03/05"),
        ("%2D/%2M/%4Y", "05/03/2024"),
        ("%D/%M/%Y", "5/3/2024"),
        ("%2Y", "24"),
        ("%A %D %B %4Y", "tue 5 mar 2024"),
        ("%Al %D %Bl %4Y", "tuesday 5 march 2024"),
        ("%Ai %Bi", "tue mar"),
        ("%02H:%02N:%02S", "14:07:09"),
        ("%H:%N:%S", "14:7:9"),
        ("%I %P", "2 PM"),
        ("%J", "65"),
        ("%3J", "065"),
        ("%W", "10"),
        ("100%% on %D", "100% on 5"),
        ("no codes", "no codes"),
    ],
)
def test_format_codes(render: Render, format_: str, expected: str) -> None:
    assert render(f'<%= formatDate({WHEN}, "{format_}") %>') == expected


def test_the_documented_example(render: Render) -> None:
    source = '<%= formatDate(new Date(Date.UTC(2000, 0, 24)), "%4Y/%2M/%2D %A") %>'

    assert render(source) == "2000/01/24 mon"


def test_midnight_and_noon_on_the_twelve_hour_clock(render: Render) -> None:
    source = (
        '<%= formatDate("2024-03-05T00:30:00Z", "%I %P") %>|'
        '<%= formatDate("2024-03-05T12:30:00Z", "%I %P") %>'
    )

    assert render(source) == "12 AM|12 PM"


def test_dates_read_from_the_ctx(render: Render) -> None:
    ctx = '<ctx><order date="2024-12-31 23:59:58.000Z"/><shipped>2025-01-02</shipped></ctx>'
    source = (
        '<%= formatDate(rtEvent.ctx.order.@date, "%2D/%2M/%4Y %02H:%02N:%02S") %>|'
        '<%= formatDate(rtEvent.ctx.shipped, "%2D.%2M.%4Y") %>'
    )

    assert render(source, ctx) == "31/12/2024 23:59:58|02.01.2025"


def test_offsets_in_the_date_are_honoured(render: Render) -> None:
    source = '<%= formatDate("2024-03-05T23:30:00+02:00", "%2D %02H:%02N") %>'

    assert render(source) == "05 21:30"


def test_time_zones_including_daylight_saving(render: Render) -> None:
    source = (
        '<%= formatDate("2024-03-05T14:07:09Z", "%02H:%02N", "Europe/Paris") %>|'
        '<%= formatDate("2024-07-01T12:00:00Z", "%02H:%02N", "Europe/Paris") %>|'
        '<%= formatDate("2024-03-05T14:07:09Z", "%2D %02H", "America/New_York") %>|'
        '<%= formatDate("2024-03-05T02:00:00Z", "%2D %02H", "America/New_York") %>'
    )

    assert render(source) == "15:07|14:00|05 09|04 21"


def test_invalid_dates_render_empty(render: Render) -> None:
    source = '[<%= formatDate("not a date", "%4Y") %>][<%= formatDate(rtEvent.ctx.nope, "%4Y") %>]'

    assert render(source) == "[][]"


def test_an_unknown_time_zone_is_a_runtime_error_at_its_line(render: Render) -> None:
    source = 'line 1\nline 2\n<%= formatDate("2024-03-05", "%4Y", "Mars/Olympus") %>'

    with pytest.raises(TemplateRuntimeError) as caught:
        render(source)

    assert caught.value.line == 3
    assert "unknown time zone 'Mars/Olympus'" in caught.value.message


def test_time_zones_changing_on_every_attempt_give_up_with_an_error(render: Render) -> None:
    source = '<%= formatDate("2024-03-05", "%4Y", "Etc/Nowhere" + Math.random()) %>'

    with pytest.raises(TemplateRuntimeError) as caught:
        render(source)

    assert "other time zones on every attempt" in caught.value.reason


def test_loaded_time_zones_serve_later_renders(engine: TemplateEngine) -> None:
    template = compile_template(
        '<%= formatDate(rtEvent.ctx.at, "%02H:%02N", "Asia/Tokyo") %>', name=unique_name()
    )

    first = engine.render(template, make_event("<ctx><at>2024-03-05T00:00:00Z</at></ctx>"))
    second = engine.render(template, make_event("<ctx><at>2024-03-05T15:30:00Z</at></ctx>"))

    assert (first, second) == ("09:00", "00:30")
