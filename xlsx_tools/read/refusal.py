"""A file the reader will not read, and why, in one Chinese sentence."""

from __future__ import annotations

from .limits import MAX_SECONDS

__all__ = ["KINDS", "RejectedFile", "ambiguous", "reject", "too_large"]


class RejectedFile(Exception):
    """A file that is not a readable workbook of this form.

    ``reason`` is one Chinese sentence for the person who sent the file;
    ``kind`` a stable short code, one of :data:`KINDS`.
    """

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason

    def __reduce__(self):  # picklable across worker processes
        return (RejectedFile, (self.kind, self.reason))

    def __str__(self) -> str:
        return self.reason


_RESAVE = "请在 Excel 或 WPS 中打开确认无误，另存为 .xlsx 后重新发送。"

_REASONS = {
    "missing": "找不到这个文件。",
    "not_a_file": "这不是一个文件（可能是文件夹或特殊文件），无法作为工作簿读取。",
    "permission": "没有读取这个文件的权限。请检查文件权限，或把文件复制到本机后重新检查。",
    "empty": "文件是空的（0 字节），可能没有保存成功或没有完整传输。请重新保存后发送。",
    "xls": "这是旧版 Excel 格式（.xls）的文件，不是下发的 .xlsx 表格。请在 Excel 或 WPS 中"
           "“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "et": "这是 WPS 表格格式（.et）的文件。请在 WPS 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "xlsb": "这是 Excel 二进制工作簿（.xlsb）。请在 Excel 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "ods": "这是 OpenDocument 表格（.ods）。请在 LibreOffice 或 WPS 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "xlsm": "这是启用宏的工作簿，出于安全考虑不予读取。请在 Excel 或 WPS 中“另存为”"
            "Excel 工作簿（.xlsx，不含宏）后重新发送。",
    "encrypted": "文件设置了打开密码，无法读取。请在 Excel 或 WPS 中取消“打开密码”后重新发送"
                 "（表格自带的工作表保护不用取消）。",
    "truncated": "文件不完整或已损坏（可能没有完整下载或传输），无法打开。请重新发送原文件。",
    "corrupt": "文件内容已损坏，无法读取。请在 Excel 或 WPS 中打开确认无误，重新保存后发送。",
    "doctype": "文件内部含有不允许的 XML 声明（DOCTYPE 或实体定义），出于安全考虑不予读取。"
               "请在 Excel 或 WPS 中重新保存后发送。",
    "too_slow": f"读取和检查这个文件超过 {MAX_SECONDS:g} 秒仍未完成，已停止。文件中可能含有大量多余的行或"
                f"内容，请只保留下发的表格内容后重新保存发送。",
    "unreadable": "无法读取这个文件。" + _RESAVE,
}

# Every kind a RejectedFile can carry (validate adds its own for the later stages).
KINDS = (
    *_REASONS, "not_zip", "not_workbook", "too_large", "other_form", "new_version", "old_version",
    # The package says two things at once: no single truth to read.
    "duplicate_entry", "duplicate_sheet", "duplicate_name", "duplicate_rel", "duplicate_cell",
    "duplicate_row", "two_sheet_data", "alternate_content", "bad_string_index", "decoy_sheet",
    # A value beyond what Excel holds.
    "text_too_long", "bad_number",
)


def reject(kind: str, reason: str | None = None) -> RejectedFile:
    return RejectedFile(kind, reason or _REASONS[kind])


def too_large(what: str) -> RejectedFile:
    return RejectedFile("too_large", f"文件{what}，远超一份统计表的内容，不予读取。请只保留下发的表格"
                                     f"内容（删除多余的行、工作表或图片）后重新保存发送。")


def ambiguous(kind: str, what: str) -> RejectedFile:
    """A package in which different programs would show different things."""
    return RejectedFile(kind, f"{what}，不同的软件（Excel、WPS、LibreOffice）打开后可能显示不同的内容，"
                              f"无法确定表格中填写的是什么，不予读取。{_RESAVE}")
