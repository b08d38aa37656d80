"""Getting sealed bundles to the platform over bad links, and proof of receipt back.

* :mod:`app.sync.protocol` -- what both sides agree on: request signatures, receipts, the
  platform's receipt-key certificate and the field officer's courier grant (see
  ``docs/sync-protocol.md``).
* :mod:`app.sync.platform` -- the platform intake service (Starlette on uvicorn): negotiate,
  tus 1.0 uploads, atomic idempotent commit, downloads with HTTP Range for panels, a mailbox of
  review results per city, the signed trust and revocation lists.
* :mod:`app.sync.client` -- the HTTP client: timeouts, back-off with jitter, adaptive chunks,
  resume from the server's offset, an optional bandwidth cap.
* :mod:`app.sync.outbox` -- the outbox: per-bundle and per-object state in SQLite on the stick.
* :mod:`app.sync.officer` -- collect from a city's stick, sync, deliver receipts and results back;
  :func:`app.sync.officer.outbox_overview` is what the officer screen shows.

Nothing here imports Qt; long operations take ``progress`` and a
:class:`~app.progress.CancelToken` like the rest of the core.
"""
