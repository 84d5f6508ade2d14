"""The control instance's SOAP API: ``xtk:session``, ``xtk:persist`` and ``xtk:queryDef``."""
