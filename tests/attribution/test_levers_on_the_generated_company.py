"""`pilotage levers` on the generated company names channels to scale and to cut, with the
numbers behind each flag (issue "Attribution", done when)."""

from __future__ import annotations

import json

from pilotage.cli import main
from pilotage.demo.generator import generate_company


def test_levers_name_channels_to_scale_and_to_cut(tmp_path, capsys):
    folder = tmp_path / "company"
    generate_company(folder, contacts=3000, seed=7)
    assert main(["levers", "--data", str(folder), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    flags = {lever["channel"]: lever for lever in document["channels"]}
    scaled = [name for name, lever in flags.items() if lever["flag"] == "scale"]
    cut = [name for name, lever in flags.items() if lever["flag"] == "cut"]
    assert scaled, flags
    assert cut, flags
    for name in scaled + cut:
        lever = flags[name]
        assert lever["new_customers"] >= document["min_customers"]
        assert lever["reason"]["en"]
        assert lever["reason"]["fr"]
    # The flags follow kpis.md: scale = CAC below blended and ROI above overall; cut = ROI
    # negative and CAC above blended.
    for name in scaled:
        assert flags[name]["cac"] < document["blended_cac"]
        assert flags[name]["roi"] > document["overall_roi"]
    for name in cut:
        assert flags[name]["roi"] < 0
        assert flags[name]["cac"] > document["blended_cac"]
