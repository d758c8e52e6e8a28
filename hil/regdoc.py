# The README's tables of the config fields and the register map, with the meaning of every row
# read from the comments of firmware/afrr/regmap.py (FIELDS, HOLDING, INPUT).
#
# The firmware's tables carry no doc strings (each would be a heap object on a board); a row's
# meaning is the comment lines directly above it plus the comment at the end of its last line.
# `ast` finds the rows of a table, `tokenize` the comments. CPython only.
import ast
import io
import pathlib
import tokenize

from afrr import regmap
from afrr.regmap import FIELDS
from hil.regcodec import config_fields

FIRMWARE = pathlib.Path(__file__).resolve().parent.parent / "firmware" / "afrr"


# Unmapped holding ranges kept free for what comes (the firmware answers exception 02 for any
# unmapped address, so it carries no copy of this table).
RESERVED = (  # (first, last) holding address; exception 02
    (0x020E, 0x02FF),  # authenticated commands (room for more)
    (0x0300, 0x03FF),  # bids / market
)


class DocError(Exception):
    """A table row without a meaning comment, or a table that is not where it is expected."""


def table_docs(path, name):
    """The meaning of every row of the tuple-of-tuples `name = (...)` in the file at `path`."""
    src = pathlib.Path(path).read_text()
    comments, code_lines = {}, set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string[1:].strip()
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            for line in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(line)
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            break
    else:
        raise DocError("%s: no table %s" % (path, name))
    docs = []
    for row in node.value.elts:
        above, line = [], row.lineno - 1
        while line in comments and line not in code_lines:
            above.insert(0, comments[line])
            line -= 1
        end = row.end_lineno
        trailing = [comments[end]] if end in comments else []
        doc = " ".join(above + trailing)
        if not doc:
            raise DocError("%s:%d: %s row without a meaning comment" % (path, row.lineno, name))
        docs.append(doc)
    return docs


def config_docs():
    return table_docs(FIRMWARE / "regmap.py", "FIELDS")


def config_table():
    """The README's config table."""
    rows = ["| field | unit | range | default | meaning |", "|---|---|---|---|---|"]
    for (name, lo, hi, default, unit), doc in zip(FIELDS, config_docs(), strict=True):
        rows.append("| `%s` | %s | %d..%d | %d | %s |" % (name, unit, lo, hi, default, doc))
    return "\n".join(rows) + "\n"


def markdown():
    """The register table for the README, generated from regmap.py."""
    path = FIRMWARE / "regmap.py"
    lines = [
        "Word order for 32-bit values: high word first (ABCD). s32 values stay within +-(2^30-1).",
        "",
        "| table | address | name | type | unit | R/W | range | meaning |",
        "|---|---|---|---|---|---|---|---|",
    ]
    holding = zip(regmap.HOLDING, table_docs(path, "HOLDING"), strict=True)
    for (addr, name, kind, unit, lo, hi, _t, _i), doc in holding:
        lines.append("| holding | 0x%04X | %s | %s | %s | R/W | %d..%d | %s |" % (
            addr, name, "s32" if kind else "u16", unit, lo, hi, doc))
    for (addr, name, kind, unit, _s), doc in zip(regmap.INPUT, table_docs(path, "INPUT"),
                                                  strict=True):
        lines.append("| input (+ holding 0x%04X) | 0x%04X | %s | %s | %s | R | - | %s |" % (
            regmap.MIRROR_BASE + addr, addr, name, "s32" if kind else "u16", unit, doc))
    for (addr, name, _k, unit, lo, hi, default), doc in zip(config_fields(), config_docs(),
                                                            strict=True):
        lines.append("| holding | 0x%04X | cfg.%s | s32 | %s | R/W | %d..%d (default %d) | %s |" % (
            addr, name, unit, lo, hi, default, doc))
    from hil import auth
    for (addr, name, words), doc in zip(auth.AUTH, table_docs(auth.__file__, "AUTH"),
                                        strict=True):
        lines.append("| holding (authenticated command) | 0x%04X | %s | %s | - | W | - | %s |" % (
            addr, name, {1: "u16", 2: "32-bit"}.get(words, "%d bytes" % (2 * words)), doc))
    for (lo, hi), doc in zip(RESERVED, table_docs(__file__, "RESERVED"), strict=True):
        lines.append("| holding | 0x%04X-0x%04X | reserved | - | - | - | - | %s: exception 02 |"
                     % (lo, hi, doc))
    return "\n".join(lines) + "\n"
