"""The daemon's database: one SQLite file, and the tables each store brings.

* :class:`Database` - the connection, its lock and the transaction helpers;
* :class:`Schema` - the tables one store owns and the steps that built them;
  every store declares its own (``barge.graph.schema``,
  ``barge.containers.store``, ``barge.volumes.store``,
  ``barge.network.store``, ``barge.registry.distmeta``) and hands it to the
  database, which brings it up to date (:mod:`barge.db.migrate`).

This package knows no store: stores import it, never the other way round.
"""

from barge.db.database import Database
from barge.db.schema import MissingSchema, Schema, SchemaTooNew

__all__ = ["Database", "MissingSchema", "Schema", "SchemaTooNew"]
