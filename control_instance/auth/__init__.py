"""Operators of the control instance, their roles, bearer tokens and console sessions."""
