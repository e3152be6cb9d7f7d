"""The provider manifest Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-customer-import",
        "name": "Customer Import",
        "description": "Scheduled customer-profile imports from SQL databases into a profile store.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "connection-type": "clickhouse",
                "hook-class-name": "customer_import.hooks.clickhouse.ClickHouseSourceHook",
                "hook-name": "ClickHouse",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {
                        "host": "localhost",
                        "port": "9000",
                        "login": "default",
                        "schema": "default",
                    },
                },
            }
        ],
        "plugins": [
            {"name": "customer_import", "plugin-class": "customer_import.plugin.CustomerImportPlugin"}
        ],
        "config": {
            "customer_import": {
                "description": "Where the DAG factory and the customer-import command find their files.",
                "options": {
                    "specs_folder": {
                        "description": "Folder of import specs; default include/import_specs/ of the project.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/include/import_specs",
                        "default": "",
                    },
                    "databases_folder": {
                        "description": "Folder of profile databases; default include/profile_databases/.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/include/profile_databases",
                        "default": "",
                    },
                    "batch_size": {
                        "description": "Rows fetched, mapped and written per transaction.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "50000",
                        "default": "10000",
                    },
                    "mapping_workers": {
                        "description": "Processes that map and validate batches while the task reads and "
                        "writes (0: in the task process).",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "1",
                        "default": "0",
                    },
                    "columnar_mapping": {
                        "description": "Map batches column-wise (the same records and rejections as row "
                        "by row, faster); false maps row by row.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "false",
                        "default": "true",
                    },
                    "columnar_reader": {
                        "description": "A skip_unchanged import reads a PostgreSQL source as Arrow batches "
                        "(ADBC; the same values, Python rows made only for the rows to map); false reads "
                        "rows through psycopg.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "false",
                        "default": "true",
                    },
                    "overlap_writes": {
                        "description": "Write each batch into the store in a helper thread while the "
                        "task reads and maps the next one; false writes and maps in turn.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "false",
                        "default": "true",
                    },
                    "keep_runs": {
                        "description": "How many of an import's latest runs keep their rejected rows in "
                        "the store's <database>_rejections (older runs' rows are deleted when a run starts).",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "30",
                        "default": "10",
                    },
                    "fingerprint_cache_mb": {
                        "description": "Memory (MB) a skip_unchanged run may hold the store's source-row "
                        "fingerprints in (17 bytes a profile); a store with more is asked per batch "
                        "(0: always per batch).",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "256",
                        "default": "96",
                    },
                    "retries": {
                        "description": "Retries of an import task after a transient failure.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "2",
                        "default": "2",
                    },
                    "retry_delay_seconds": {
                        "description": "Seconds to wait before such a retry.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "60",
                        "default": "60",
                    },
                    "embedded_store_path": {
                        "description": "SQLite file of the embedded store, used when the connection "
                        "profile_store_default is not defined; default $AIRFLOW_HOME/customer_import/profiles.db.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/customer_import/profiles.db",
                        "default": "",
                    },
                    "ip_location_mmdb": {
                        "description": "MaxMind-format .mmdb file (GeoLite2-City or DB-IP City layout) that "
                        "specs with ip_location: true read to fill country, region, city, timezone and "
                        "postal_code; empty: a country-level database (country, and timezone for "
                        "single-zone countries). A spec's ip_location: {mmdb: ...} takes precedence.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/include/geo/GeoLite2-City.mmdb",
                        "default": "",
                    },
                },
            }
        },
    }
