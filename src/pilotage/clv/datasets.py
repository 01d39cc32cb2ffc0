"""The CDNOW data set (Fader, Hardie & Lee), read and converted to a contract folder.

`CDNOW_master.txt` has columns customer id, date (YYYYMMDD), number of CDs, dollar value;
`CDNOW_sample.txt` (the 1/10th sample of the papers) has master id, sample id, date, CDs,
value. Contact ids are the sample ids for the sample (as in the published summaries) and the
master ids otherwise.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pilotage.contract.settings import Settings
    from pilotage.engine.backends import Source


def read_cdnow(cdnow_txt: Path, *, sample: bool) -> pd.DataFrame:
    """Purchases as a DataFrame: contact_id (str), ordered_on (date), cds (int), amount."""
    if sample:
        names = ["master_id", "contact_id", "date", "cds", "amount"]
    else:
        names = ["contact_id", "date", "cds", "amount"]
    frame = pd.read_csv(
        cdnow_txt,
        sep=r"\s+",
        header=None,
        names=names,
        dtype={"master_id": str, "contact_id": str, "date": str},
        comment=None,
        engine="python" if not sample else "c",
    )
    # The master file starts with a header line; the sample has none.
    frame = frame[frame["date"].str.fullmatch(r"\d{8}")].reset_index(drop=True)
    if len(frame) == 0:
        raise ValueError(f"{cdnow_txt}: no CDNOW purchase lines found (wrong --sample flag?)")
    return pd.DataFrame(
        {
            "contact_id": frame["contact_id"].astype(str),
            "ordered_on": pd.to_datetime(frame["date"], format="%Y%m%d").dt.date,
            "cds": frame["cds"].astype("int64"),
            "amount": frame["amount"].astype("float64"),
        }
    )


def cdnow_contract_frames(cdnow_txt: Path, *, sample: bool) -> dict[str, pd.DataFrame]:
    """The contract tables `contacts` and `orders` for the CDNOW purchases."""
    purchases = read_cdnow(cdnow_txt, sample=sample)
    purchases = purchases.sort_values(["contact_id", "ordered_on"], kind="stable")
    first = purchases.groupby("contact_id", sort=True)["ordered_on"].min()
    contacts = pd.DataFrame(
        {
            "contact_id": first.index.astype(str),
            "created_at": [day.isoformat() for day in first],
            "channel": "web",
        }
    )
    sequence = purchases.groupby("contact_id").cumcount() + 1
    orders = pd.DataFrame(
        {
            "order_id": purchases["contact_id"] + "-" + sequence.astype(str),
            "contact_id": purchases["contact_id"],
            "ordered_at": [day.isoformat() for day in purchases["ordered_on"]],
            "amount": [f"{value:.2f}" for value in purchases["amount"]],
        }
    ).reset_index(drop=True)
    return {"contacts": contacts, "orders": orders}


def write_cdnow_contract_folder(cdnow_txt: Path, out_dir: Path, sample: bool) -> None:
    """Write `contacts.csv` and `orders.csv` of the CDNOW purchases into `out_dir`.

    contacts: contact_id, created_at (first purchase date), channel "web"; orders: order_id
    (contact id and purchase number), contact_id, ordered_at (the date), amount (2
    decimals). Orders of $0.00 are kept as they are: the CDNOW summaries count them as
    purchases (the published figures need it), the CRM's scores do not (a paid order has
    amount > 0); see `pilotage.clv.summary.paid_orders`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in cdnow_contract_frames(cdnow_txt, sample=sample).items():
        with (out_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False, name=None))


def cdnow_source(cdnow_txt: Path, *, sample: bool, settings: Settings | None = None) -> Source:
    """An in-memory source of the CDNOW purchases (tests, benchmarks, notebooks)."""
    from pilotage.engine.backends import from_frames

    frames = cdnow_contract_frames(cdnow_txt, sample=sample)
    orders = frames["orders"].assign(amount=frames["orders"]["amount"].astype("float64"))
    return from_frames({"contacts": frames["contacts"], "orders": orders}, settings)
