"""Alerts and incidents: the stores (embedded SQLite, Elasticsearch), notifiers, reports."""
