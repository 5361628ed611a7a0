"""Operators: who may use the sandbox controls (the ``/admin`` API and the console).

Issue 13: the sandbox controls are "operator-only, never reachable with an API
access token". An operator is a name with a password (argon2id hash only); the admin
API takes it as HTTP Basic, the console through its own login form.
"""
