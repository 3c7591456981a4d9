"""Remote sensors: a host that only reads logs or captures ships its events to the engine.

The pieces, in the order an event travels:

- ``batch``: the wire format, a gzip'd NDJSON batch whose first line names the sensor, its
  stream and the batch's sequence number;
- ``spool`` (sensor side): every batch is written to a durable SQLite spool together with
  the sensor's read positions, in one transaction, before it is shipped;
- ``shipper`` (sensor side): sends the oldest unacknowledged batch over HTTPS
  (``POST /ingest``) and deletes it only when the engine has acknowledged it;
- ``journal`` (engine side): the API acknowledges a batch only after it is in the
  engine's ingest journal (SQLite, ``synchronous=FULL``); a batch sent twice is recorded
  once, by (sensor, stream, sequence number);
- ``source`` (engine side): the run loop reads the journal as one split per sensor
  stream; how far it has read is part of the engine's snapshot.

So a batch is lost by neither side's crash and counted once whatever is retried.
"""
