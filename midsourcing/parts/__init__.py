"""Accepting delivery parts: ``nms:delivery#AppendDeliveryPart``, durable and idempotent."""
