"""`pilotage score --format json` on a hand-made folder: the exact document."""

from __future__ import annotations

import json

from pilotage.cli import main

MODEL = """
name = "cli"
max_score = 100
[[group]]
name = "fit"
max = 30
  [[group.rule]]
  when = "industry == 'retail'"
  points = 20
[[group]]
name = "engagement"
max = 30
  [[group.rule]]
  interaction = "call"
  points = 10
[[group]]
name = "journey"
max = 20
stage_points = { lead = 0, mql = 10, sql = 15, opportunity = 15, customer = 20 }
"""


def test_score_json_document(write_folder, tmp_path, capsys):
    folder = write_folder(
        {
            "contacts": "contact_id,created_at,channel,industry\n"
            "c1,2024-01-01,web,retail\nc2,2024-02-01,store,\n",
            "interactions": "interaction_id,contact_id,occurred_at,type\n"
            "i1,c1,2024-03-01T10:00:00,call\ni2,c1,2024-03-05,call\n",
            "orders": "order_id,contact_id,ordered_at,amount,status\n"
            "o1,c2,2024-03-01,100.00,paid\n",
        }
    )
    model = tmp_path / "cli.toml"
    model.write_text(MODEL, encoding="utf-8")
    code = main(
        ["score", "--data", str(folder), "--model", str(model), "--as-of", "2024-03-06"]
        + ["--format", "json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out) == {
        "as_of": "2024-03-06T00:00:00+00:00",  # with its offset: given back, the same instant
        "model": "cli",
        "rows": [
            {
                # fit: retail 20; engagement: 2 calls x 10 (no decay) = 20; no stage.
                # Grade: 20 >= 2/3 x 30 on both -> A1. Priority: 100 x 40 / 100.
                "contact_id": "c1",
                "score": 40,
                "grade": "A1",
                "groups": {"fit": 20, "engagement": 20, "journey": 0},
                "rules": [
                    {"group": "fit", "rule": "industry == 'retail'", "points": 20},
                    {"group": "engagement", "rule": "call", "points": 20},
                ],
                "rfm": None,
                "conversion_probability": None,
                "priority": 40,
                "reason": "high fit, 2 interactions this week",
            },
            {
                # A paid order: customer, the last stage (20). The only customer: RFM
                # 5/5/5. Priority (RFM): 100 x M/5 x (0.5 + 0.5 x (5 - R)/4) = 50.
                "contact_id": "c2",
                "score": 20,
                "grade": "C3",
                "groups": {"fit": 0, "engagement": 0, "journey": 20},
                "rules": [{"group": "journey", "rule": "stage = customer", "points": 20}],
                "rfm": {"r": 5, "f": 5, "m": 5, "segment": "champions"},
                "conversion_probability": None,
                "priority": 50,
                "reason": "champion, 1 order, last 5 days ago, (RFM)",
            },
        ],
    }
    assert "CLV models need 100 customers" in captured.err


def test_a_bad_model_is_refused_with_its_position(write_folder, tmp_path, capsys):
    folder = write_folder({"contacts": "contact_id,created_at,channel\nc1,2024-01-01,web\n"})
    model = tmp_path / "bad.toml"
    model.write_text(MODEL.replace("industry == 'retail'", "industri == 'retail'"), "utf-8")
    assert main(["score", "--data", str(folder), "--model", str(model)]) == 1
    error = capsys.readouterr().err
    assert f"{model}:8:11: group 'fit', rule 1 (industri == 'retail'): unknown field" in error
