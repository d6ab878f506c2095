"""Where a line of Chinese text may break (避头尾), for the terminal and for cells alike.

No line starts with a closing mark, and none ends with an opening one. Spreadsheet programs
apply these rules only in some locales (LibreOffice in an English one starts lines with “。”
and “、”), terminals never: the writer and the command line break lines themselves.
"""

NO_LINE_START = frozenset("，。、；：？！）)]}】」』〕”’》〉…%,.;:?!·—～")
NO_LINE_END = frozenset("（([{【「『〔“‘《〈")
