"""Backups and restores of the whole installation: the database (SQLite or PostgreSQL), the media store
and a manifest that says what a backup holds (:mod:`.manifest`).

- :mod:`.backup`: a consistent online backup while the app runs (``python -m dashboard backup``);
- :mod:`.restore`: checks a backup and restores it into a database of either kind
  (``python -m dashboard restore``), migrating it forward;
- :mod:`.portable`: the rows of a backup copied into the other kind of database (SQLite ↔ PostgreSQL);
- :mod:`.prune`: which backups to keep (daily, weekly, monthly);
- :mod:`.postgres`: finding and running ``pg_dump`` and ``pg_restore``;
- :mod:`.media`: the media store's part of a backup.
"""
