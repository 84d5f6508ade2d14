"""The SOAP methods of the mid-sourcing server: xtk:session and nms:delivery."""
