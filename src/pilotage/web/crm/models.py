"""The CRM's tables: exactly the contract's (data-contract.md), under the contract's names.

Each model's `db_table` and column names are the contract's, so that the analytical
engine queries the CRM database in place with the same expressions it runs on a contract
folder. `tests/web/test_models_contract.py` proves that these models and
`pilotage.contract.schema` agree. Columns a file brings beyond the contract are kept in
`attributes` (custom attributes), never dropped.
"""

from __future__ import annotations

from django.db import models

from pilotage.contract.schema import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from pilotage.contract.validation import ENUM_MAX_LENGTH, ID_MAX_LENGTH


def id_field(**options: object) -> models.CharField[str, str]:
    return models.CharField(max_length=ID_MAX_LENGTH, **options)  # type: ignore[arg-type]


def enum_field(**options: object) -> models.CharField[str, str]:
    return models.CharField(max_length=ENUM_MAX_LENGTH, **options)  # type: ignore[arg-type]


def money_field(**options: object) -> models.DecimalField[object, object]:
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        **options,  # type: ignore[arg-type]
    )


class Rep(models.Model):
    rep_id = id_field(primary_key=True)
    name = models.TextField()
    team = models.TextField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "reps"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    campaign_id = id_field(primary_key=True)
    name = models.TextField()
    channel = enum_field(db_index=True)
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "campaigns"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    contact_id = id_field(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    channel = enum_field(db_index=True)
    campaign = models.ForeignKey(
        Campaign, db_column="campaign_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    owner = models.ForeignKey(
        Rep, db_column="owner_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    name = models.TextField(null=True, blank=True)
    email = models.TextField(null=True, blank=True)
    phone = models.TextField(null=True, blank=True)
    company = models.TextField(null=True, blank=True)
    industry = models.TextField(null=True, blank=True)
    country = models.TextField(null=True, blank=True)
    city = models.TextField(null=True, blank=True)
    employees = models.BigIntegerField(null=True, blank=True)
    job_title = models.TextField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "contacts"

    def __str__(self) -> str:
        return self.name or self.contact_id


class StageChange(models.Model):
    # No id in the contract: a surrogate key, and the contract's row identity as a unique
    # constraint (the upsert key on import).
    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, db_column="contact_id", on_delete=models.CASCADE)
    stage = enum_field()
    changed_at = models.DateTimeField()
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "stage_changes"
        indexes = [
            # A contact's current stage (the contacts list shows it on every line and
            # filters on it): its latest change is the first entry, stage included.
            models.Index(
                fields=["contact", "-changed_at", "-id", "stage"], name="stage_change_latest"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "stage", "changed_at"], name="stage_change_identity"
            )
        ]

    def __str__(self) -> str:
        return str(f"{self.contact_id} {self.stage} {self.changed_at:%Y-%m-%d}")


class Spend(models.Model):
    id = models.BigAutoField(primary_key=True)
    # spent_on|channel|campaign_id|category: the row identity, as one unique column
    # because campaign_id and category may be empty (NULLs never conflict in a unique
    # index on SQLite).
    spend_key = models.CharField(max_length=4 * ID_MAX_LENGTH, unique=True)
    spent_on = models.DateField(db_index=True)
    amount = money_field()
    channel = enum_field()
    campaign = models.ForeignKey(
        Campaign, db_column="campaign_id", null=True, blank=True, on_delete=models.CASCADE
    )
    category = enum_field(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "spend"

    def __str__(self) -> str:
        return str(self.spend_key)


class Interaction(models.Model):
    interaction_id = id_field(primary_key=True)
    contact = models.ForeignKey(Contact, db_column="contact_id", on_delete=models.CASCADE)
    occurred_at = models.DateTimeField(db_index=True)
    type = enum_field()
    channel = enum_field(null=True, blank=True)
    campaign = models.ForeignKey(
        Campaign, db_column="campaign_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    rep = models.ForeignKey(
        Rep, db_column="rep_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "interactions"

    def __str__(self) -> str:
        return str(self.interaction_id)


class Deal(models.Model):
    deal_id = id_field(primary_key=True)
    contact = models.ForeignKey(Contact, db_column="contact_id", on_delete=models.CASCADE)
    rep = models.ForeignKey(
        Rep, db_column="rep_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()
    amount = money_field(null=True, blank=True)
    status = enum_field()
    closed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.TextField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "deals"

    def __str__(self) -> str:
        return str(self.deal_id)


class Order(models.Model):
    order_id = id_field(primary_key=True)
    contact = models.ForeignKey(Contact, db_column="contact_id", on_delete=models.CASCADE)
    ordered_at = models.DateTimeField(db_index=True)
    amount = money_field()
    channel = enum_field(null=True, blank=True)
    status = enum_field(default="paid")
    margin = money_field(null=True, blank=True)
    rep = models.ForeignKey(
        Rep, db_column="rep_id", null=True, blank=True, on_delete=models.SET_NULL
    )
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "orders"

    def __str__(self) -> str:
        return str(self.order_id)


class Subscription(models.Model):
    subscription_id = id_field(primary_key=True)
    contact = models.ForeignKey(Contact, db_column="contact_id", on_delete=models.CASCADE)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    mrr = money_field()
    plan = models.TextField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "subscriptions"

    def __str__(self) -> str:
        return str(self.subscription_id)


# Contract table name -> model, in the contract's parents-first order.
CONTRACT_MODELS: dict[str, type[models.Model]] = {
    "reps": Rep,
    "campaigns": Campaign,
    "contacts": Contact,
    "stage_changes": StageChange,
    "spend": Spend,
    "interactions": Interaction,
    "deals": Deal,
    "orders": Order,
    "subscriptions": Subscription,
}
# Storage-only columns that are not contract columns.
STORAGE_COLUMNS = frozenset({"id", "spend_key", "attributes"})
