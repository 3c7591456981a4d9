"""The HTTP API (FastAPI): alerts, incidents, rules and statistics for hospital IT, the
Inspectorate and the Department. ``api.app.create_app`` builds it; ``api.server`` serves
it (``phiwatch api``, or beside the pipeline in ``phiwatch run``)."""
