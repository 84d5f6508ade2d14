"""The SOAP methods of an execution instance (xtk:session, nms:rtEvent, nms:batchEvent)."""
