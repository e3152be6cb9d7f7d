"""Airflow's plugins folder loads this file: it exposes the provider's one plugin object
(``customer_import.plugin.CustomerImportPlugin``) where the provider is importable but not installed as
a distribution (e.g. copied into a deployment). Where it is installed, its provider entry registers the
plugin, and exposing it here too would make Airflow skip the second one as an import error."""

from __future__ import annotations

from importlib.metadata import entry_points


def _registered_by_provider() -> bool:
    return any(
        entry.value.startswith("customer_import.") for entry in entry_points(group="apache_airflow_provider")
    )


if not _registered_by_provider():
    from customer_import.plugin import CustomerImportPlugin

    __all__ = ["CustomerImportPlugin"]
