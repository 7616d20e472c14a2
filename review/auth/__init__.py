"""Accounts, password hashing, login sessions, known devices and the failed-login throttle,
and permissions.

Login sessions, known devices and the throttle live in the database, so several
``review serve`` processes on one database accept each other's logins and share one limit on
failed attempts.
"""
