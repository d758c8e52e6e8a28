# Regenerates the tables in README.md from their single source, firmware/afrr/regmap.py (FIELDS,
# HOLDING, INPUT).
# The meanings come from the comments on the table rows (hil/regdoc.py).
# Usage: python tools/gen_readme.py [--check]   (--check: exit 1 if README.md is stale)
import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT))


def config_table():
    from hil import regdoc

    return regdoc.config_table().rstrip("\n")


def regmap_table():
    from hil import regdoc

    return regdoc.markdown().rstrip("\n")


SECTIONS = {"config-table": config_table, "regmap-table": regmap_table}


def render(text):
    for key, fn in SECTIONS.items():
        begin, end = "<!-- BEGIN %s -->" % key, "<!-- END %s -->" % key
        if begin not in text:
            continue
        head, rest = text.split(begin, 1)
        _old, tail = rest.split(end, 1)
        text = head + begin + "\n" + fn() + "\n" + end + tail
    return text


def main(argv):
    ap = argparse.ArgumentParser(
        prog="tools/gen_readme.py",
        description="Rewrite the generated tables of README.md (config fields, register map) "
                    "from firmware/afrr/regmap.py.")
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 if README.md is stale")
    args = ap.parse_args(argv)
    path = ROOT / "README.md"
    text = path.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print("README.md tables are stale: run python tools/gen_readme.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
