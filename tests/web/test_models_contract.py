"""The CRM's Django models and the data contract agree: same tables, columns, types,
required-ness and references, so the engine reads the CRM database in place."""

from __future__ import annotations

import pytest
from django.db import models

from pilotage.contract.schema import TABLES, ColumnType
from pilotage.web.crm.models import CONTRACT_MODELS, STORAGE_COLUMNS

FIELD_TYPES = {
    ColumnType.ID: (models.CharField,),
    ColumnType.TIMESTAMP: (models.DateTimeField,),
    ColumnType.DATE: (models.DateField,),
    ColumnType.MONEY: (models.DecimalField,),
    ColumnType.ENUM: (models.CharField,),
    ColumnType.TEXT: (models.TextField,),
    ColumnType.INTEGER: (models.BigIntegerField,),
}


def test_every_contract_table_has_a_model_of_the_same_name():
    assert list(CONTRACT_MODELS) == [table.name for table in TABLES]
    for table in TABLES:
        assert CONTRACT_MODELS[table.name]._meta.db_table == table.name


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_columns_types_and_rules_agree(table):
    model = CONTRACT_MODELS[table.name]
    fields = {f.column: f for f in model._meta.concrete_fields}
    assert set(fields) - STORAGE_COLUMNS == set(table.column_names)
    for column in table.columns:
        field = fields[column.name]
        if field.is_relation:
            # A reference is stored as the referenced table's id column.
            assert column.references == field.related_model._meta.db_table, column.name
            field = field.target_field
        else:
            assert column.references is None, column.name
        assert isinstance(field, FIELD_TYPES[column.type]), (column.name, type(field))
        owner = fields[column.name]
        # Stored NOT NULL when required, or when an empty value means a default ("paid").
        assert owner.null == (not column.required and column.default is None), column.name
        if column.default is not None:
            assert owner.default == column.default


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_row_identity_is_unique_in_the_database(table):
    model = CONTRACT_MODELS[table.name]
    if table.has_single_id:
        assert model._meta.pk.column == table.key[0]
    elif table.name == "spend":
        assert model._meta.get_field("spend_key").unique
    else:
        constraint_columns = {
            tuple(model._meta.get_field(name).column for name in constraint.fields)
            for constraint in model._meta.constraints
        }
        assert tuple(table.key) in constraint_columns
