"""plIds: Campaign's signed 64-bit event ids with the instance in the high byte."""

from __future__ import annotations

import pytest

from services.plid import instance_of, make_pl_id, pk_of


def test_campaigns_documented_example() -> None:
    # 72057594037935966 = 1 * 2**56 + 8030 (Adobe's acc-js-sdk docs)
    assert make_pl_id(1, 8030) == 72057594037935966
    assert instance_of(72057594037935966) == 1
    assert pk_of(72057594037935966) == 8030


@pytest.mark.parametrize("instance", [1, 127, 128, 200, 255])
@pytest.mark.parametrize("pk", [1, 8030, 2**56 - 1])
def test_every_instance_round_trips_within_a_signed_64_bit_long(instance: int, pk: int) -> None:
    value = make_pl_id(instance, pk)
    assert -(2**63) <= value < 2**63  # an xsd:long, a BIGINT
    assert (value < 0) == (instance >= 128)
    assert instance_of(value) == instance
    assert pk_of(value) == pk
