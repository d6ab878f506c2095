"""xlsx-tools: collect the 平台年度评估/复核情况统计表 through Excel.

generate a protected, validated workbook (with last year's values beside the inputs);
validate the returned copies (the fillers' explanations of warnings included); merge
them into a summary per batch and per recommending unit. See README.md.

The main functions are importable from here; their modules load on first use,
so ``import xlsx_tools`` stays light (worker processes import only the reader
and the checks, never pandas).
"""

from importlib import import_module

from .form import Field, Form, FormError, Rule, load_form

__version__ = "0.1.0"

_LAZY = {
    "write_workbook": "write", "generate_blank": "write", "generate_from_roster": "write",
    "read_roster": "roster", "RosterError": "roster",
    "read_previous": "previous", "PreviousRound": "previous", "PreviousError": "previous",
    "read_workbook": "read", "RejectedFile": "read",
    "Finding": "rules", "check_workbook": "rules",
    "validate_file": "validate", "validate_paths": "validate",
    "write_json": "report", "write_report_xlsx": "report", "annotate_workbooks": "annotate",
    "merge_paths": "merge", "write_outputs": "merge",
}

__all__ = ["Form", "Field", "Rule", "FormError", "load_form", "__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xlsx_tools' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
