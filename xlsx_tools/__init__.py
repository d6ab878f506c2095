"""xlsx-tools: collect the 平台年度评估/复核情况统计表 through Excel.

generate a protected, validated workbook; validate the returned copies; merge
them into a summary per batch. See README.md.
"""

from .form import Form, Field, Rule, load_form

__version__ = "0.1.0"
__all__ = ["Form", "Field", "Rule", "load_form", "__version__"]
