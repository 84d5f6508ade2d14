"""Campaign's event ids (plIds): a signed 64-bit number whose high byte is the execution instance.

The low 56 bits are the event's primary key on that instance, the high byte its id (0 to 255).
Campaign declares the id ``int64`` (``xsd:long`` on the wire), so the ids of instances 128 to 255
have the sign bit set and are negative numbers; every reader takes the instance from the high
byte of the 64-bit pattern, whatever the sign.
"""

from __future__ import annotations

__all__ = ["PK_BITS", "instance_of", "make_pl_id", "pk_of"]

PK_BITS = 56
_PK_MASK = (1 << PK_BITS) - 1
_BITS = 1 << 64


def make_pl_id(instance_id: int, pk: int) -> int:
    """Return the plId of event ``pk`` on instance ``instance_id`` (1 to 255)."""
    value = (instance_id << PK_BITS) | pk
    return value - _BITS if value >= 1 << 63 else value


def instance_of(pl_id: int) -> int:
    """Return the instance id in a plId's high byte."""
    return (pl_id % _BITS) >> PK_BITS


def pk_of(pl_id: int) -> int:
    """Return the event's primary key on its instance."""
    return pl_id & _PK_MASK
