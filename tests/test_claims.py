"""The claims ledger: rows are checked, merged once each, and rendered the same everywhere."""

import json

import pytest

from ctadam import claims


def row(claim_id, verdict="reproduced", value=0.5, interval=(0.4, 0.6), seeds=5):
    return {"id": claim_id, "claim": f"the {claim_id} claim", "verdict": verdict,
            "measure": "a measure", "value": value,
            "interval": None if interval is None else list(interval), "seeds": seeds,
            "rule": "family_summary"}


def full_ledger():
    return [row(i) for i in claims.REQUIRED_IDS]


@pytest.mark.parametrize("field, value, match", [
    ("verdict", "beats", "verdict must be one of"),
    ("interval", [0.6, 0.4], "interval"),
    ("interval", [0.1, float("nan")], "interval"),
    ("seeds", -1, "seeds"),
    ("seeds", True, "seeds"),
    ("value", "0.5", "value"),
    ("rule", "", "rule"),
])
def test_bad_rows_are_refused_naming_the_claim_and_field(field, value, match):
    bad = row("band")
    bad[field] = value
    with pytest.raises(ValueError, match=match) as err:
        claims.check_row(bad)
    assert "'band'" in str(err.value)


def test_missing_or_extra_fields_are_refused():
    bad = row("band")
    del bad["rule"]
    with pytest.raises(ValueError, match="fields must be"):
        claims.check_row(bad)


def test_merge_requires_every_claim_once_and_keeps_the_required_order():
    rows = full_ledger()
    merged = claims.merge([rows[3:], rows[:3], [row("lr-region")]])
    assert [r["id"] for r in merged] == [*claims.REQUIRED_IDS, "lr-region"]
    with pytest.raises(ValueError, match="lacks"):
        claims.merge([rows[1:]])
    with pytest.raises(ValueError, match="twice"):
        claims.merge([rows, [row("band")]])


def test_renderings_carry_every_verdict_and_value():
    rows = claims.merge([[r for r in full_ledger() if r["id"] != "kadam"]
                         + [row("kadam", "undecidable at this scale", value=None, interval=None,
                                seeds=3)]])
    tex = claims.latex_table(rows)
    assert tex.count(r"\\") == len(rows) + 1 and "undecidable at this scale" in tex
    assert r"family\_summary" in tex
    md = claims.markdown_table(rows)
    assert md.count("\n") == len(rows) + 2 and "**undecidable at this scale**" in md
    mac = claims.macros(rows)
    assert mac["ClaimVerdictRegionExact"] == "reproduced"
    assert mac["ClaimVerdictKadam"] == "undecidable at this scale"
    assert mac["ClaimValueKadam"] == "n/a"


def test_readme_table_is_replaced_between_its_markers_only():
    text = f"intro\n{claims.README_BEGIN}\nold table\n{claims.README_END}\nrest\n"
    out = claims.replace_readme_table(text, full_ledger())
    assert out.startswith("intro\n") and out.endswith(f"{claims.README_END}\nrest\n")
    assert "old table" not in out and "`band`" in out
    with pytest.raises(ValueError, match="no"):
        claims.replace_readme_table("no markers", full_ledger())


def test_cli_merges_rows_and_exits_2_on_a_bad_row(tmp_path):
    rows = full_ledger()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(rows[:4]))
    b.write_text(json.dumps(rows[4:]))
    out = dict(ledger=tmp_path / "claims.json", table=tmp_path / "claims.tex",
               macros=tmp_path / "numbers_claims.tex")
    args = ["merge", "--rows", str(a), str(b)] + [x for k, v in out.items()
                                                  for x in (f"--{k}", str(v))]
    assert claims.main(args) == 0
    assert [r["id"] for r in json.loads(out["ledger"].read_text())] == list(claims.REQUIRED_IDS)
    assert r"\newcommand{\ClaimVerdictBand}{reproduced}" in out["macros"].read_text()
    b.write_text(json.dumps(rows[4:] + [row("band")]))
    assert claims.main(args) == 2


def test_interval_verdict_needs_the_whole_interval_on_one_side_and_enough_seeds():
    from ctadam.claims import interval_verdict

    assert interval_verdict([0.92, 0.99], 0.9, 5, 5) == "reproduced"
    assert interval_verdict([0.5, 0.8], 0.9, 5, 5) == "not reproduced"
    assert interval_verdict([0.85, 0.95], 0.9, 5, 5) == "undecidable at this scale"
    assert interval_verdict([0.92, 0.99], 0.9, 3, 5) == "undecidable at this scale"
    assert interval_verdict(None, 0.9, 5, 5) == "undecidable at this scale"


def test_row_drops_non_finite_numbers_and_checks_the_fields():
    from ctadam.claims import row

    r = row("band", "c", "reproduced", "m", float("nan"), [float("nan"), 1.0], 5, "r")
    assert r["value"] is None and r["interval"] is None
    with pytest.raises(ValueError, match="verdict"):
        row("band", "c", "maybe", "m", 1.0, None, 5, "r")


def test_macro_stems_spell_digits_so_every_claim_id_has_a_macro():
    assert claims.macro_stem("region-exact") == "RegionExact"
    assert claims.macro_stem("kadam-cifar10") == "KadamCifarTen"
    assert claims.macro_stem("k-123") == "KOneTwoThree"
    row = {"id": "kadam-cifar10", "claim": "c", "verdict": "undecidable at this scale",
           "measure": "m", "value": None, "interval": None, "seeds": 0, "rule": "r"}
    assert claims.macros([row])["ClaimVerdictKadamCifarTen"] == "undecidable at this scale"


def test_latex_table_escapes_every_special_character():
    r = row("band")
    r["claim"] = "beta2 > beta1^2, |C|/2 < rho, 5 % & $x_1$ {a} ~b #1 \\c"
    tex = claims.latex_table([r])
    body = tex.splitlines()[4]
    assert r"beta1\textasciicircum{}2" in body and r"\textgreater{}" in body
    assert r"\$x\_1\$" in body and r"\{a\}" in body and r"\textbackslash{}c" in body
    import re

    assert not re.search(r"(?<!\\)[$^~]", body)  # no unescaped $, ^ or ~ is left


def test_markdown_rows_keep_their_columns_when_the_text_holds_pipes():
    r = row("growth-rate")
    r["claim"] = "ln ||u_n||_inf grows at |C|/2"
    line = claims.markdown_table([r]).splitlines()[2]
    assert line.replace("\\|", "").count("|") == 9
