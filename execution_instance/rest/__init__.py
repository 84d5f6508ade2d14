"""The REST transactional API (Campaign Standard / v8 style, DESIGN §3.3)."""
