"""The rule engine: Sigma rules compiled to predicates, streaming correlations on event time.

Imports only the event type from ``sensors``.
"""
