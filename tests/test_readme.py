# README stays true: its generated tables match their sources, and the commands it names exist.
import re
import subprocess
import sys

from conftest import ROOT


def test_readme_tables_match_sources():
    r = subprocess.run([sys.executable, "tools/gen_readme.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_readme_config_table_lists_every_field():
    from afrr.config import FIELDS

    text = (ROOT / "README.md").read_text()
    for name, lo, hi, default, _u in FIELDS:
        assert re.search(r"\| `%s` \|[^|]*\| %d\.\.%d \| %d \|" % (name, lo, hi, default), text)


def test_make_targets_named_in_readme_exist():
    text = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in sorted(set(re.findall(r"`make ([a-z-]+)", text))):
        assert re.search(r"^%s:" % re.escape(target), makefile, re.M), target


def test_regmap_markdown_names_every_register_with_its_meaning():
    from afrr import regmap
    from afrr.config import FIELDS
    from hil import regdoc

    md = regdoc.markdown()
    for row in regmap.HOLDING + regmap.INPUT:
        assert row[1] in md
    for f in FIELDS:
        assert "cfg." + f[0] in md
    # every row of every table has a meaning read from its comment
    for name in ("HOLDING", "INPUT"):
        docs = regdoc.table_docs(regdoc.FIRMWARE / "regmap.py", name)
        assert len(docs) == len(getattr(regmap, name)) and all(len(d) > 3 for d in docs)
    docs = regdoc.table_docs(regdoc.__file__, "RESERVED")
    assert len(docs) == len(regdoc.RESERVED) and all(len(d) > 3 for d in docs)
    assert len(regdoc.config_docs()) == len(FIELDS)
    assert "| `cycle_ms` | ms | 1000..4000 | 4000 | control cycle; PICASSO" in regdoc.config_table()


def test_row_without_a_meaning_is_refused(tmp_path):
    import pytest

    from hil import regdoc

    p = tmp_path / "t.py"
    p.write_text("T = (\n    # first\n    (1, 2),\n    (3, 4),  # second\n    (5, 6),\n)\n")
    with pytest.raises(regdoc.DocError):
        regdoc.table_docs(p, "T")
    p.write_text("T = (\n    # first,\n    # wrapped\n    (1, 2),\n    (3, 4),  # second\n)\n")
    assert regdoc.table_docs(p, "T") == ["first, wrapped", "second"]
