"""barge's own registry server: the OCI distribution API over a directory.

``barge registry serve`` runs :func:`barge.registry.server.serve.run`;
``barge registry gc`` runs :func:`barge.registry.server.gc.collect`. The
pieces, one job each:

- :mod:`.names` — repository names, tags and digests as the spec spells them;
- :mod:`.errors` — the spec's error codes, statuses and JSON body;
- :mod:`.storage` — content-addressed blobs and upload sessions, written
  atomically (a crash mid-upload leaves no visible blob);
- :mod:`.repos` — what a repository sees: blob links, manifest revisions,
  tags, referrers, the catalog;
- :mod:`.manifests` — parsing and checking pushed manifests;
- :mod:`.auth`, :mod:`.tokens` — htpasswd Basic auth and the token service;
- :mod:`.routes` — request paths to operations and the access they need;
- :mod:`.http_blobs`, :mod:`.http_manifests`, :mod:`.http_listing`,
  :mod:`.http_token` — the handlers;
- :mod:`.app`, :mod:`.config`, :mod:`.serve` — the aiohttp app, its
  configuration and the foreground process;
- :mod:`.gc` — mark and sweep of unreferenced blobs;
- :mod:`.testing` — start a server for tests (``start_registry``).
"""
