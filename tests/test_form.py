"""The form definition agrees with the spec, and its expressions mean what they say."""

import csv
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from _generate_helpers import labels_name_field
from hypothesis import given, strategies as st

from xlsx_tools import expr as ex
from xlsx_tools.form import load_form, parse_cell, cell_name

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "fields.tsv"


@pytest.fixture(scope="module")
def form():
    return load_form()


def spec_rows():
    if not SPEC.exists():
        pytest.skip(f"spec not found at {SPEC}")
    with SPEC.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_spec_field_is_defined_exactly(form):
    rows = spec_rows()
    assert [r["id"] for r in rows] == [f.id for f in form.fields]
    for r in rows:
        f = form.field(r["id"])
        assert (f.section, f.label, f.unit) == (r["section"], r["label"], r["unit"])
        if r["type"].startswith("choice:"):
            assert f.type == "choice"
            assert f.choices == tuple(r["type"][7:].split("|"))
        else:
            assert f.type == r["type"]
        if r["required"] == "yes":
            assert f.required and f.required_when is None
        elif r["required"] == "no":
            assert not f.required
        else:
            # conditional: every field the condition names appears in the spec's wording
            assert f.required_when is not None
            for name in ex.fields_of(f.required_when):
                assert name in r["required"]


def test_every_field_has_one_input_cell_and_a_label(form):
    addresses = [form.input_cell(f.id).address for f in form.fields]
    assert len(set(addresses)) == len(addresses)
    for f in form.fields:
        labels = form.label_for(f.id)
        assert labels, f.id
        assert labels_name_field(f.label, labels), (f.id, labels)


def test_sections_follow_the_template_order(form):
    headings = [c.text for c in form.table.cells if c.kind == "heading"]
    assert headings == ["一、基本信息", "二、平台基本情况", "三、平台运行情况",
                        "四、平台建设情况", "五、平台重要信息变更情况", "六、平台情况概要介绍"]
    # each field's input sits under its own section's heading
    heading_rows = {c.text: c.row for c in form.table.cells if c.kind == "heading"}
    order = sorted(heading_rows.items(), key=lambda kv: kv[1])
    for f in form.fields:
        cell = form.input_cell(f.id)
        if cell.sheet != form.table.name:
            continue
        above = [name for name, row in order if row < cell.row]
        assert above[-1] == f.section, f.id


def test_collected_achievements_is_entered_once_and_shown_twice(form):
    shows = form.show_cells("collected_achievements")
    assert len(shows) == 1 and shows[0].row > form.input_cell("collected_achievements").row


def test_periods_follow_the_batch(form):
    assert form.period_for("第三批").name == "到期复核"
    assert str(form.period_for("第三批").start) == "2019-01-21"
    for batch in ("第一批", "第二批", "第四批"):
        p = form.period_for(batch)
        assert (p.name, str(p.start), str(p.end)) == ("年度评估", "2021-07-01", "2022-06-30")


def test_rules_cover_the_spec_and_name_real_fields(form):
    ids = {r.id for r in form.rules}
    assert ids == {"R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R11", "R12", "R13"}
    # R14-R16 are conditional requirements, carried by the fields themselves
    assert {f.required_code for f in form.fields} >= {"R11", "R13", "R14", "R15", "R16"}


def test_file_stem(form):
    assert form.file_stem("第一批", "检验检测", "某研究院") == "第一批-检验检测类-某研究院"


@pytest.mark.parametrize("ref,rc", [("A1", (1, 1)), ("$C$5", (5, 3)), ("AA10", (10, 27)),
                                    ("XFD1", (1, 16384))])
def test_cell_names_round_trip(ref, rc):
    assert parse_cell(ref) == rc
    assert cell_name(*rc) == ref.replace("$", "")


# -- expressions ---------------------------------------------------------------

def test_parse_shapes():
    e = ex.parse("(blank(a) or a = 0) and b >= 1")
    assert isinstance(e, ex.And) and ex.fields_of(e) == ["a", "b"]
    assert ex.parse("x != '检验检测'") == ex.Compare("!=", ex.Field("x"), ex.Const("检验检测"))


@pytest.mark.parametrize("bad", ["a <", "a = = b", "(a > 1", "blank(1)", "a > 1 b", "a ~ b"])
def test_parse_errors(bad):
    with pytest.raises(ex.ExpressionError):
        ex.parse(bad)


def test_unknown_values_stay_silent():
    rule = ex.parse("a <= b")
    assert ex.evaluate(rule, {"a": 3, "b": None}) is None
    assert ex.evaluate(rule, {"a": 3, "b": 2}) is False
    assert ex.evaluate(ex.parse("blank(a) or a = 0"), {"a": None}) is True
    assert ex.evaluate(ex.parse("a >= 1 or b >= 1"), {"a": None, "b": 2}) is True
    assert ex.evaluate(ex.parse("a >= 1 or b >= 1"), {"a": None, "b": 0}) is None


values = st.one_of(st.none(), st.integers(0, 5).map(Decimal))


@given(values, values, values)
def test_kleene_logic_matches_truth_tables(a, b, c):
    env = {"a": a, "b": b, "c": c}
    e = ex.parse("a > 1 and (b = 0 or not c >= 2)")
    parts = [ex.evaluate(ex.parse(s), env) for s in ("a > 1", "b = 0", "c >= 2")]
    p_or = True if (parts[1] is True or parts[2] is False) else (
        None if None in (parts[1], parts[2]) else False)
    expected = False if (parts[0] is False or p_or is False) else (
        None if None in (parts[0], p_or) else True)
    assert ex.evaluate(e, env) == expected


def test_excel_pair_guards_unknowns():
    t, f = ex.to_excel(ex.parse("a <= b"), lambda i: f"S!${i.upper()}$1")
    assert t == "AND(ISNUMBER(S!$A$1),ISNUMBER(S!$B$1),S!$A$1<=S!$B$1)"
    assert f == "AND(ISNUMBER(S!$A$1),ISNUMBER(S!$B$1),S!$A$1>S!$B$1)"
    t, f = ex.to_excel(ex.parse("k = '是'"), lambda i: "S!$K$1")
    assert t == 'AND(LEN(TRIM(S!$K$1))>0,S!$K$1="是")'


# -- definitions written inline, and definitions that cannot be used ------------------

TINY = """
[form]
id = "tiny"
version = 1
table_title = "小表"
window_start = "2024-01-01"
window_end = "2024-01-31"

[form.keys]
unit = "who"
batch = "round"
category = "kind"

[layout.table]
sheet = "表"
columns = 2
rows = [["单位", "@who"], ["轮次", "@round"], ["类型", "@kind"], ["数量(个)", "@n"]]

[[fields]]
id = "who"
label = "单位"
type = "text"
required = true

[[fields]]
id = "round"
label = "轮次"
type = "choice"
choices = ["春", "秋"]
required = true

[[fields]]
id = "kind"
label = "类型"
type = "choice"
choices = ["甲", "乙"]
required = true

[[fields]]
id = "n"
label = "数量(个)"
type = "int"
unit = "个"
required = true

[[rules]]
id = "T01"
severity = "warning"
check = "n <= 100"
message = "数量 {n} 大于 100，请核对。"
"""


def test_a_tiny_form_written_inline_runs_generate_fill_and_validate(tmp_path):
    from _fill import fill_workbook
    from xlsx_tools.validate import validate_file
    from xlsx_tools.write import generate_blank

    tiny = load_form(TINY)
    assert tiny.source is None and [f.id for f in tiny.fields] == ["who", "round", "kind", "n"]
    # What a tiny form leaves out has a default: roster columns by the roles' labels,
    # the file name by the roles, a cover with the title.
    assert [(c.header, c.field) for c in tiny.roster_columns] == [
        ("单位", "who"), ("轮次", "round"), ("类型", "kind")]
    assert tiny.file_stem("春", "甲", "某单位") == "春-甲-某单位"
    assert tiny.catalogue.severity("T01") == "warning" and tiny.catalogue.title("T01") == "T01"
    blank = generate_blank(tmp_path, tiny)
    filled = fill_workbook(blank, tmp_path / "春-甲-某单位.xlsx",
                           {"who": "某单位", "round": "春", "kind": "甲", "n": 120})
    result = validate_file(filled, tiny)
    assert [(f.code, f.cells) for f in result.findings] == [("T01", (tiny.input_cell("n").address,))]
    assert result.values["n"] == 120 and result.unit == "某单位"


def test_a_definition_as_a_dict_is_the_same_form():
    import tomllib

    as_text, as_dict = load_form(TINY), load_form(tomllib.loads(TINY))
    assert as_text.fields == as_dict.fields and as_text.rules == as_dict.rules
    assert as_text.table == as_dict.table


def _edit(old: str, new: str) -> str:
    assert old in TINY
    return TINY.replace(old, new)


def test_a_fields_title_names_it_in_findings_and_summaries(tmp_path):
    """A label understood only beside its row ("数量" of what) has a ``title`` for the
    lists: the finding's message and the summary's heading use it, the sheet the label."""
    from _fill import fill_workbook
    from xlsx_tools.merge import merge_paths
    from xlsx_tools.validate import validate_file
    from xlsx_tools.write import generate_blank

    titled = load_form(_edit('label = "数量(个)"\n', 'label = "数量(个)"\ntitle = "样品数量(个)"\n'))
    assert titled.field_title("n") == "样品数量(个)" and titled.field("n").label == "数量(个)"
    assert load_form(TINY).field_title("n") == "数量(个)"
    blank = generate_blank(tmp_path, titled)
    filled = fill_workbook(blank, tmp_path / "in" / "春-甲-某单位.xlsx",
                           {"who": "某单位", "round": "春", "kind": "甲", "n": None})
    (finding,) = validate_file(filled, titled).findings
    assert finding.code == "missing" and "样品数量(个)" in finding.message
    merge_paths([tmp_path / "in"], tmp_path / "out", form=titled)
    book = openpyxl.load_workbook(next((tmp_path / "out").glob("汇总-春.xlsx")))
    headings = {c.value for ws in book.worksheets for row in ws.iter_rows(max_row=3) for c in row}
    assert "样品数量(个)" in headings and "数量(个)" not in headings


BAD = {
    "no unit role": (_edit('unit = "who"\n', ""), "unit"),
    "a role on no field": (_edit('unit = "who"', 'unit = "nobody"'), "nobody"),
    "a rule on no field": (_edit('check = "n <= 100"', 'check = "m <= 100"'), "m"),
    "an expression that does not parse": (_edit('check = "n <= 100"', 'check = "n <="'), "n <="),
    "a type that does not exist": (_edit('type = "int"', 'type = "integer"'), "integer"),
    "an input of no field": (_edit('"@n"]]', '"@m"]]'), "m"),
    "a field with no input": (_edit('["数量(个)", "@n"]', '["数量(个)"]'), "n"),
    "a choice without choices": (_edit('choices = ["甲", "乙"]\n', ""), "kind"),
    "a date that is not one": (_edit('window_end = "2024-01-31"', 'window_end = "2024-02-30"'), "2024-02-30"),
    "a window backwards": (_edit('window_end = "2024-01-31"', 'window_end = "2023-12-31"'), "window"),
    "a file name by another field": (_edit('window_start', 'file_name = "{n}-{who}"\nwindow_start'), "{who}"),
    "one code two severities": (TINY + '\n[[rules]]\nid = "T01"\nseverity = "error"\ncheck = "n >= 0"\n'
                                'message = "x"\n', "T01"),
    "not TOML at all": ("[form\nid = 1\n", "TOML"),
    "a missing table": (_edit("[layout.table]", "[layout.tables]"), "table"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_definition_that_cannot_be_used_is_refused_in_chinese(case):
    from xlsx_tools.form import FormError

    text, named = BAD[case]
    with pytest.raises(FormError) as info:
        load_form(text)
    message = str(info.value)
    assert re.search(r"[\u4e00-\u9fff]", message) and named in message, message


def test_the_command_refuses_a_bad_definition_without_a_traceback(tmp_path):
    from click.testing import CliRunner

    from xlsx_tools.cli import main

    bad = tmp_path / "坏的.toml"
    bad.write_text(BAD["a rule on no field"][0], encoding="utf-8")
    for args in (["generate", "--out", str(tmp_path / "o")], ["validate", str(tmp_path)],
                 ["merge", str(tmp_path), "--out", str(tmp_path / "m")]):
        done = CliRunner().invoke(main, [*args, "--form", str(bad)])
        assert done.exit_code == 1, (args, done.output)
        assert "坏的.toml" in done.stderr and "Traceback" not in done.output
        done = CliRunner().invoke(main, [*args, "--form", str(tmp_path / "没有.toml")])
        assert done.exit_code == 2 and "找不到" in done.stderr, (args, done.output)


def test_the_hidden_sheet_keeps_its_layout_for_the_shipped_form(form):
    """Old workbooks still read: the keys of 表单信息 derive from the roster columns and
    come out as they always were."""
    from xlsx_tools.form import META_KEYS

    assert dict(META_KEYS) == form.meta_keys
    assert list(form.meta_keys) == ["form_id", "form_version", "prefill_unit_name", "prefill_batch",
                                    "prefill_platform_category", "prefill_recommending_unit"]
    assert list(form.meta_keys.values()) == ["表单标识", "表单版本", "预填单位名称", "预填列入批次",
                                             "预填平台类别", "预填推荐单位"]


def test_roles_suffix_units_and_dates_come_from_the_definition(form):
    assert set(form.keys) == {"unit", "batch", "category", "recommending", "date"}
    assert form.role_field("date").type == "date"
    category = form.role_field("category")
    assert category.suffix and all(not form.field(i).suffix for i in form.by_id if i != category.id)
    amounts = [f for f in form.fields if f.type == "amount"]
    assert amounts and all(len(f.unit_spellings) == 2 for f in amounts)
    assert form.window_start <= form.example_date <= form.window_end
    assert form.example_date.isoformat() in form.field_message("missing", form.keys["date"])


def test_a_definition_may_reword_any_code_without_touching_the_toolkits():
    from xlsx_tools.catalogue import CATALOGUE

    reworded = load_form(TINY + '\n[catalogue.codes.missing]\ntitle = "漏填"\n'
                                '[catalogue.codes.missing.messages]\nint = "请填“{label}”。"\n')
    assert reworded.catalogue.title("missing") == "漏填"
    assert reworded.field_message("missing", "n") == "请填“数量(个)”。"
    assert CATALOGUE.title("missing") != "漏填"
    assert load_form(TINY).catalogue.title("missing") == CATALOGUE.title("missing")
