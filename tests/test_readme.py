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
    for name, lo, hi, default, _u, _d in FIELDS:
        assert re.search(r"\| `%s` \|[^|]*\| %d\.\.%d \| %d \|" % (name, lo, hi, default), text)


def test_make_targets_named_in_readme_exist():
    text = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in sorted(set(re.findall(r"`make ([a-z-]+)", text))):
        assert re.search(r"^%s:" % re.escape(target), makefile, re.M), target
