"""Names of the store's tables for one profile database (one name per concept)."""

from __future__ import annotations

from dataclasses import dataclass

FIELDS_TABLE = "customer_import_fields"  # declared fields of every profile database, for evolution


@dataclass(frozen=True)
class Tables:
    database: str

    @property
    def profiles(self) -> str:
        return f"{self.database}_profiles"

    @property
    def events(self) -> str:
        return f"{self.database}_events"

    @property
    def subscriptions(self) -> str:
        return f"{self.database}_subscriptions"

    @property
    def rejections(self) -> str:
        """Every rejected row of the last ``keep_runs`` runs of each import (decision record 0007)."""
        return f"{self.database}_rejections"

    @property
    def runs(self) -> str:
        """The runs that wrote into this database, by import: which runs' rejections are kept."""
        return f"{self.database}_runs"

    @property
    def staged_batches(self) -> str:
        """The parallel initial load's mapped batches, until the import task writes them."""
        return f"{self.database}_staged_batches"

    @property
    def stage(self) -> str:
        return f"customer_import_stage_{self.database}"

    @property
    def stage_subs(self) -> str:
        return f"customer_import_stage_subs_{self.database}"

    def index(self, field: str, unique: bool) -> str:
        return f"{'ux' if unique else 'ix'}_{self.database}_{field}"
