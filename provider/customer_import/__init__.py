"""Scheduled customer-profile imports from SQL databases, as an Apache Airflow 3 provider.

Layout (one job per module):

- ``spec/``        the import spec and profile-database models, the YAML loader, JSON Schema
- ``schedule/``    schedule plan -> Airflow timetable
- ``sources/``     source dialects, SELECT-only query validation, batched extraction
- ``mapping/``     column -> profile field coercion and validation (row problems are data)
- ``store/``       the profile store: schema evolution, set-based match and upsert
- ``cursor.py``    the ``{lastItem}`` cursor kept in an Airflow Variable
- ``report.py``    the per-run summary and error report
- ``importer.py``  one run of an import (the loop the operator drives)
- ``operators/``   thin Airflow operators
- ``factory.py``   spec files -> DAGs
- ``cli.py``       the ``customer-import`` command
"""

__version__ = "0.1.0"
