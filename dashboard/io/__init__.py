"""Files in and out: imports (with their dry run and report), Open311 and spreadsheet exports, uploads.

- ``imports``: ``run_import`` by kind, the entry point of the admin page and the CLI
- ``runs``: what every import shares (mapping, territory lookups, typed cells, the all-or-nothing run);
  ``report``: the report with exact counts and every problem; ``labels``: enum values from files' spellings
- ``cases`` (with ``case_rows``, ``case_writer``), ``volunteers``, ``service_records``, ``boundaries``:
  the imports
- readers, no database: ``sources`` (the file, kinds), ``tables`` (CSV, Excel), ``open311_reader``
  (JSON, XML), ``geojson``; ``headers`` (column synonyms), ``values`` (dates, numbers, datums), ``dates``
  (each date column's format, decided from the whole column)
- ``open311`` and ``exports``: GeoReport v2 and CSV/Excel output; ``uploads``: checks of uploaded files
"""
