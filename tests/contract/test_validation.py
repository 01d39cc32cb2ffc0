"""Every rule of data-contract.md "Bad input", one small folder each.

Each test writes a tiny contract folder, validates it and checks the exact problems
(file:line:column: reason, header = line 1) and which rows are kept.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pilotage.contract.settings import Settings
from pilotage.contract.validation import Validation, validate_folder
from pilotage.engine.backends import from_frames

CONTACTS = """\
contact_id,created_at,channel
c1,2024-01-01,web
c2,2024-01-02,store
"""


def check(folder: Path, settings: Settings | None = None) -> Validation:
    return validate_folder(folder, settings or Settings())


def where(validation: Validation) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.column) for p in validation.problems]


def reasons(validation: Validation) -> list[str]:
    return [p.reason for p in validation.problems]


def test_a_good_folder_passes_and_keeps_ids_as_text(write_folder):
    folder = write_folder({"contacts": "contact_id,created_at,channel\n007,2024-01-01,web\n"})
    validation = check(folder)
    assert validation.ok, validation.problems
    rows = validation.connection.execute("SELECT contact_id FROM contacts").fetchall()
    assert rows == [("007",)]


def test_missing_required_value(write_folder):
    folder = write_folder({"contacts": "contact_id,created_at,channel\nc1,,web\n,2024-01-01,web\n"})
    validation = check(folder)
    assert where(validation) == [
        ("contacts.csv", 2, "created_at"),
        ("contacts.csv", 3, "contact_id"),
    ]
    assert set(reasons(validation)) == {"missing required value"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-02-30", "'2024-02-30' is an impossible date or time"),
        ("2023-02-29T10:00:00", "'2023-02-29T10:00:00' is an impossible date or time"),
        ("2024-01-01T25:00:00", "'2024-01-01T25:00:00' is an impossible date or time"),
        ("01/02/2024", "is not an ISO-8601 timestamp"),
        ("yesterday", "is not an ISO-8601 timestamp"),
        ("2024-01-01T10:00:00.1234567", "more than 6 fractional digits"),
        ("2024-01-01T10:00:00+15:00", "impossible UTC offset"),
    ],
)
def test_bad_timestamps(write_folder, value, reason):
    folder = write_folder({"contacts": f"contact_id,created_at,channel\nc1,{value},web\n"})
    validation = check(folder)
    assert where(validation) == [("contacts.csv", 2, "created_at")]
    assert reason in validation.problems[0].reason


def test_timestamps_are_read_as_utc_instants(write_folder):
    # Company time zone Europe/Paris (UTC+1 in winter, UTC+2 in summer):
    #   c1 "2024-01-15T10:00:00"        naive, Paris winter   -> 09:00 UTC
    #   c2 "2024-07-15T10:00:00"        naive, Paris summer   -> 08:00 UTC
    #   c3 "2024-03-31T23:30:00-02:00"  explicit offset       -> 2024-04-01 01:30 UTC
    #   c4 "2024-01-15"                 a date: local midnight -> 2024-01-14 23:00 UTC
    #   c5 "2024-01-15T10:00:00Z"       UTC                   -> 10:00 UTC
    #   c6 "2024-01-15 10:00:00.250+0530" space, compact offset -> 04:30:00.25 UTC
    folder = write_folder(
        {
            "contacts": """\
            contact_id,created_at,channel
            c1,2024-01-15T10:00:00,web
            c2,2024-07-15T10:00:00,web
            c3,2024-03-31T23:30:00-02:00,web
            c4,2024-01-15,web
            c5,2024-01-15T10:00:00Z,web
            c6,2024-01-15 10:00:00.250+0530,web
            """
        }
    )
    validation = check(folder, Settings(timezone="Europe/Paris"))
    assert validation.ok, validation.problems
    got = dict(
        validation.connection.execute("SELECT contact_id, created_at FROM contacts").fetchall()
    )
    assert got == {
        "c1": datetime(2024, 1, 15, 9, 0),  # noqa: DTZ001 - naive UTC is the engine's type
        "c2": datetime(2024, 7, 15, 8, 0),  # noqa: DTZ001
        "c3": datetime(2024, 4, 1, 1, 30),  # noqa: DTZ001
        "c4": datetime(2024, 1, 14, 23, 0),  # noqa: DTZ001
        "c5": datetime(2024, 1, 15, 10, 0),  # noqa: DTZ001
        "c6": datetime(2024, 1, 15, 4, 30, 0, 250000),  # noqa: DTZ001
    }


# Europe/Paris clocks go back at 03:00 on 2024-10-27 (02:30 happens twice) and forward at
# 02:00 on 2024-03-31 (02:30 never happens). A repeated time is the second one (standard
# time, +01:00): 01:30 UTC; a skipped one takes the offset in force before (+01:00):
# 01:30 UTC. The README says so.
CLOCK_CHANGES = {
    "repeated": ("2024-10-27T02:30:00", datetime(2024, 10, 27, 1, 30)),  # noqa: DTZ001
    "skipped": ("2024-03-31T02:30:00", datetime(2024, 3, 31, 1, 30)),  # noqa: DTZ001
}


def test_local_times_on_a_night_of_clock_change(write_folder):
    rows = "".join(f"{name},{text},web\n" for name, (text, _) in CLOCK_CHANGES.items())
    folder = write_folder({"contacts": "contact_id,created_at,channel\n" + rows})
    validation = check(folder, Settings(timezone="Europe/Paris"))
    assert validation.ok, validation.problems
    got = dict(
        validation.connection.execute("SELECT contact_id, created_at FROM contacts").fetchall()
    )
    assert got == {name: instant for name, (_, instant) in CLOCK_CHANGES.items()}
    # Frames (tests, notebooks) read the same texts, and pandas timestamps, the same way.
    for values in (
        [text for text, _ in CLOCK_CHANGES.values()],
        [pd.Timestamp(text) for text, _ in CLOCK_CHANGES.values()],
    ):
        frame = pd.DataFrame(
            {"contact_id": list(CLOCK_CHANGES), "created_at": values, "channel": "web"}
        )
        source = from_frames({"contacts": frame}, Settings(timezone="Europe/Paris"))
        read = source.execute(source.table("contacts"))
        assert dict(zip(read.contact_id, read.created_at, strict=True)) == got


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-5.00", "negative amount '-5.00' (must be >= 0)"),
        ("1 000", "'1 000' is not an amount"),
        ("12,5", "'12,5' is not an amount"),
        ("€12", "'€12' is not an amount"),
        ("1e3", "'1e3' is not an amount"),
        ("12.34567", "'12.34567' has more than 4 decimals"),
    ],
)
def test_bad_amounts(write_folder, value, reason):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "orders": f'order_id,contact_id,ordered_at,amount\no1,c1,2024-01-05,"{value}"\n',
        }
    )
    validation = check(folder)
    assert where(validation) == [("orders.csv", 2, "amount")]
    assert reason in validation.problems[0].reason


def test_negative_margin_is_allowed_and_zero_amount_is_kept(write_folder):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "orders": "order_id,contact_id,ordered_at,amount,margin\no1,c1,2024-01-05,0,-3.5\n",
        }
    )
    validation = check(folder)
    assert validation.ok, validation.problems
    row = validation.connection.execute("SELECT amount, margin, status FROM orders").fetchone()
    # An empty status means "paid", the contract's default.
    assert row == (0.0, -3.5, "paid")


@pytest.mark.parametrize(
    ("table", "text", "column"),
    [
        ("spend", "spent_on,amount,channel\n2024-01-01,-1,web\n", "amount"),
        (
            "subscriptions",
            "subscription_id,contact_id,started_at,mrr\ns1,c1,2024-01-01,-9\n",
            "mrr",
        ),
        (
            "deals",
            "deal_id,contact_id,created_at,status,amount\nd1,c1,2024-01-01,open,-2\n",
            "amount",
        ),
    ],
)
def test_negative_money_in_every_table(write_folder, table, text, column):
    folder = write_folder({"contacts": CONTACTS, table: text})
    validation = check(folder)
    assert where(validation) == [(f"{table}.csv", 2, column)]
    assert validation.problems[0].reason.startswith("negative amount")


def test_dates_integers_and_enums(write_folder):
    folder = write_folder(
        {
            "campaigns": """\
            campaign_id,name,channel,started_on,ended_on
            k1,Spring,Web,2024-01-01,2024-13-01
            k2,Summer,tiktok,01/06/2024,
            """,
            "contacts": """\
            contact_id,created_at,channel,employees
            c1,2024-01-01,web,12.5
            c2,2024-01-01,web,-1
            """,
        }
    )
    validation = check(folder)
    assert [(p.file, p.line, p.column, p.reason) for p in validation.problems] == [
        ("campaigns.csv", 2, "channel", "'Web' must be lowercase: write 'web'"),
        ("campaigns.csv", 2, "ended_on", "'2024-13-01' is an impossible date"),
        ("campaigns.csv", 3, "started_on", "'01/06/2024' is not a date (YYYY-MM-DD)"),
        ("contacts.csv", 2, "employees", "'12.5' is not a whole number"),
        ("contacts.csv", 3, "employees", "'-1' is negative (must be >= 0)"),
    ]
    # An unknown channel name is a business's own: accepted and kept ("tiktok" is not an
    # error; the row is refused only for its date).


def test_unknown_stage_is_refused_unless_configured(write_folder):
    changes = "contact_id,stage,changed_at\nc1,lead,2024-01-01\nc1,trial,2024-01-02\n"
    folder = write_folder({"contacts": CONTACTS, "stage_changes": changes})
    validation = check(folder)
    assert where(validation) == [("stage_changes.csv", 3, "stage")]
    assert "journey_stages" in validation.problems[0].reason
    configured = Settings(journey_stages=("lead", "trial", "customer"))
    assert check(folder, configured).ok


def test_duplicate_ids_name_every_line(write_folder):
    folder = write_folder(
        {
            "contacts": """\
            contact_id,created_at,channel
            c1,2024-01-01,web
            c2,2024-01-01,web
            c1,2024-01-02,web
            """
        }
    )
    validation = check(folder)
    assert where(validation) == [
        ("contacts.csv", 2, "contact_id"),
        ("contacts.csv", 4, "contact_id"),
    ]
    assert validation.problems[0].reason == "duplicate contact_id 'c1' (lines 2, 4)"
    assert validation.tables["contacts"].good_rows == 1


def test_duplicate_row_identity_without_id(write_folder):
    # Spend rows are identified by day, channel, campaign and category; stage changes by
    # contact, stage and instant (the same instant written two ways is a duplicate).
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "spend": "spent_on,amount,channel\n2024-01-01,10,web\n2024-01-01,5,web\n",
            "stage_changes": "contact_id,stage,changed_at\n"
            "c1,mql,2024-01-01T10:00:00Z\nc1,mql,2024-01-01T11:00:00+01:00\n",
        }
    )
    validation = check(folder)
    assert where(validation) == [
        ("stage_changes.csv", 2, "changed_at"),
        ("stage_changes.csv", 3, "changed_at"),
        ("spend.csv", 2, "category"),
        ("spend.csv", 3, "category"),
    ]


def test_unknown_references(write_folder):
    folder = write_folder(
        {
            "reps": "rep_id,name\nr1,Ann\n",
            "contacts": "contact_id,created_at,channel,owner_id,campaign_id\n"
            "c1,2024-01-01,web,r1,\nc2,2024-01-01,web,r2,k9\n",
            "orders": "order_id,contact_id,ordered_at,amount,rep_id\n"
            "o1,c1,2024-01-05,10,r1\no2,c9,2024-01-05,10,\n",
            "interactions": "interaction_id,contact_id,occurred_at,type,rep_id\n"
            "i1,c1,2024-01-03,call,r7\n",
        }
    )
    validation = check(folder)
    assert [str(p) for p in validation.problems] == [
        "contacts.csv:3:campaign_id: unknown campaign_id 'k9' (not in campaigns.csv)",
        "contacts.csv:3:owner_id: unknown owner_id 'r2' (not in reps.csv)",
        "interactions.csv:2:rep_id: unknown rep_id 'r7' (not in reps.csv)",
        # c2 exists in the file but its row is refused: its orders cannot be loaded either.
        "orders.csv:3:contact_id: unknown contact_id 'c9' (not in contacts.csv)",
    ]


def test_reference_to_a_rejected_row_says_so(write_folder):
    folder = write_folder(
        {
            "contacts": "contact_id,created_at,channel\nc1,2024-01-01,web\nc2,nope,web\n",
            "orders": "order_id,contact_id,ordered_at,amount\no1,c2,2024-01-05,10\n",
        }
    )
    validation = check(folder)
    assert str(validation.problems[-1]) == (
        "orders.csv:2:contact_id: contact_id 'c2' refers to a rejected row (contacts.csv:3)"
    )


def test_spend_channel_must_match_its_campaign(write_folder):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "campaigns": "campaign_id,name,channel\nk1,Brand,ads\n",
            "spend": "spent_on,amount,channel,campaign_id\n2024-01-01,10,ads,k1\n"
            "2024-01-02,10,web,k1\n",
        }
    )
    validation = check(folder)
    assert [str(p) for p in validation.problems] == [
        "spend.csv:3:channel: channel 'web' differs from the channel 'ads' of campaign 'k1'"
    ]


def test_deal_rules(write_folder):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "deals": """\
            deal_id,contact_id,created_at,status,closed_at
            d1,c1,2024-01-01,won,
            d2,c1,2024-01-01,lost,2024-01-05
            d3,c1,2024-01-01,open,2024-01-05
            d4,c1,2024-01-10,won,2024-01-05
            d5,c1,2024-01-01,open,
            """,
        }
    )
    validation = check(folder)
    assert [(p.line, p.reason) for p in validation.problems] == [
        (2, "a won deal needs closed_at"),
        (4, "an open deal has no closed_at: set status to won or lost, or clear it"),
        (5, "closed_at is before created_at"),
    ]


def test_ends_before_starts(write_folder):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "subscriptions": "subscription_id,contact_id,started_at,ended_at,mrr\n"
            "s1,c1,2024-02-01,2024-01-01,10\n",
        }
    )
    assert [str(p) for p in check(folder).problems] == [
        "subscriptions.csv:2:ended_at: ended_at is before started_at"
    ]


def test_header_problems_refuse_the_whole_file(write_folder):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "orders": "order_id,contact_id,amount,amount\no1,c1,10,10\n",
        }
    )
    validation = check(folder)
    assert [str(p) for p in validation.problems] == [
        "orders.csv:1:amount: duplicate column",
        "orders.csv:1:ordered_at: missing required column in the header",
    ]
    assert validation.tables["orders"].good_rows == 0


def test_contacts_are_mandatory(write_folder):
    folder = write_folder({"reps": "rep_id,name\nr1,Ann\n"})
    assert [str(p) for p in check(folder).problems] == [
        "contacts.csv:0:-: missing: a folder needs contacts.csv or .parquet"
    ]


def test_malformed_lines_and_line_numbers_after_quoted_newlines(write_folder):
    # Line 3 holds a value with a newline inside quotes: the record spans lines 3-4, so
    # the next record is line 5. Line 6 has one field too many.
    folder = write_folder(
        {
            "contacts": "contact_id,created_at,channel,name\nc1,2024-01-01,web,Ann\n"
            'c2,2024-01-01,web,"Bob\nSmith"\nc3,bad,web,Cy\nc4,2024-01-01,web,Di,extra\n'
            "c5,2024-13-01,web,Ed\n"
        }
    )
    validation = check(folder)
    assert where(validation) == [
        ("contacts.csv", 5, "created_at"),
        ("contacts.csv", 6, "-"),
        ("contacts.csv", 7, "created_at"),
    ]
    assert "too many fields" in validation.problems[1].reason


def test_bom_and_extra_columns_are_accepted(write_folder, tmp_path):
    folder = write_folder({})
    (folder / "contacts.csv").write_bytes(
        "\ufeffcontact_id,created_at,channel,favourite_colour\nc1,2024-01-01,web,blue\n".encode()
    )
    validation = check(folder)
    assert validation.ok, validation.problems
    assert validation.tables["contacts"].extra_columns == ("favourite_colour",)
    assert validation.connection.execute("SELECT favourite_colour FROM contacts").fetchone() == (
        "blue",
    )


def test_unknown_files_are_named_not_silently_ignored(write_folder):
    folder = write_folder({"contacts": CONTACTS, "contact": CONTACTS})
    validation = check(folder)
    assert validation.ok
    assert validation.warnings == [
        "contact.csv: not a contract table, ignored (tables: reps, campaigns, contacts, "
        "stage_changes, spend, interactions, deals, orders, subscriptions)"
    ]


def test_parquet_rows_are_numbered_like_csv_lines(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    table = pa.table(
        {
            "contact_id": ["c1", "c2", "c3"],
            "created_at": ["2024-01-01", "2024-02-30", "2024-01-03"],
            "channel": ["web", "web", "store"],
        }
    )
    pq.write_table(table, folder / "contacts.parquet")
    validation = check(folder)
    assert where(validation) == [("contacts.parquet", 3, "created_at")]


def test_both_csv_and_parquet_is_refused(write_folder):
    folder = write_folder({"contacts": CONTACTS})
    pq.write_table(pa.table({"contact_id": ["x"]}), folder / "contacts.parquet")
    assert "keep one" in check(folder).problems[0].reason


def test_every_bad_row_is_reported_and_written_to_the_rejects(write_folder, tmp_path):
    folder = write_folder(
        {
            "contacts": CONTACTS,
            "orders": "order_id,contact_id,ordered_at,amount\n"
            + "".join(f"o{i},c1,2024-01-05,-{i}\n" for i in range(1, 51))
            + "o51,c1,2024-01-05,3\n",
        }
    )
    validation = check(folder)
    assert len(validation.problems) == 50
    assert validation.tables["orders"].good_rows == 1
    (rejects,) = validation.write_rejects(tmp_path / "rejects")
    lines = rejects.read_text().splitlines()
    assert lines[0] == "line,reasons,order_id,contact_id,ordered_at,amount"
    assert lines[1] == "2,amount: negative amount '-1' (must be >= 0),o1,c1,2024-01-05,-1"
    assert len(lines) == 51


def test_line_numbers_with_several_malformed_and_multiline_records(write_folder):
    # 1 header | 2 c1 | 3-4 c2 "a\nb" | 5 malformed | 6-7 c3 "x\ny", bad date |
    # 8 malformed | 9 c4, bad date
    folder = write_folder(
        {
            "contacts": "contact_id,created_at,channel,name\n"
            "c1,2024-01-01,web,Ann\n"
            'c2,2024-01-01,web,"a\nb"\n'
            "cx,2024-01-01,web,Bo,extra\n"
            'c3,nope,web,"x\ny"\n'
            "cy,2024-01-01,web,Cy,extra,more\n"
            "c4,2024-99-01,web,Di\n"
        }
    )
    validation = check(folder)
    assert where(validation) == [
        ("contacts.csv", 5, "-"),
        ("contacts.csv", 6, "created_at"),
        ("contacts.csv", 8, "-"),
        ("contacts.csv", 9, "created_at"),
    ]
