"""Reports to the Department of Health and the statutory breach notification.

Facts in (``facts_from_incident``), documents out (DOCX, PDF, a signed JSON copy),
numbered without gaps, on a 72-hour clock, delivered through a durable outbox. See
docs/reports.md.
"""
