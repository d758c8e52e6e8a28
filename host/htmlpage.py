# One self-contained HTML page for a run's report: figures embedded as data URIs, tables, text.
#
# Opens in any browser with no server and no network: no scripts, no external style sheet, no
# external image. Used by the HIL rig's report (hil/report.py) and by `host simulate` and
# `host market`, so every report a user opens looks and reads the same.
import base64
import html
import pathlib

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{display:inline-block;padding:.15em .6em;border-radius:.3em;font-weight:bold;color:#fff}
.pass{background:#2a7d2a}.fail{background:#b22222}.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fde8e8}figure{margin:1em 0}img{max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;
font-size:.85em;max-height:30em}
"""


def _cell(v):
    if isinstance(v, float):
        return '<td class="num">%s</td>' % html.escape("%.6g" % v)
    if isinstance(v, int) and not isinstance(v, bool):
        return '<td class="num">%d</td>' % v
    return "<td>%s</td>" % html.escape("" if v is None else str(v))


class Page:
    """Build a report page section by section, then write() it."""

    def __init__(self, title):
        self.title = title
        self.parts = []

    def heading(self, text, level=2):
        self.parts.append("<h%d>%s</h%d>" % (level, html.escape(text), level))

    def verdict(self, passed, text):
        self.parts.append('<p><span class="verdict %s">%s</span> %s</p>' % (
            "pass" if passed else "fail", "PASS" if passed else "FAIL", html.escape(text)))

    def text(self, text, note=False):
        self.parts.append('<p%s>%s</p>' % (' class="note"' if note else "", html.escape(text)))

    def table(self, header, rows, bad=None):
        """rows: lists of cells; bad(row) -> True marks a row (a failed criterion)."""
        out = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(str(h))
                                                for h in header)]
        for r in rows:
            cls = ' class="bad"' if bad is not None and bad(r) else ""
            out.append("<tr%s>%s</tr>" % (cls, "".join(_cell(v) for v in r)))
        out.append("</table>")
        self.parts.append("".join(out))

    def figure(self, png_path, caption):
        """Embed a PNG file (skipped with a note when it was not made)."""
        p = pathlib.Path(png_path)
        if not p.exists():
            self.text("(%s: not made)" % p.name, note=True)
            return
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        self.parts.append('<figure><img alt="%s" src="data:image/png;base64,%s">'
                          "<figcaption>%s</figcaption></figure>" % (
                              html.escape(p.stem), data, html.escape(caption)))

    def pre(self, text):
        self.parts.append("<pre>%s</pre>" % html.escape(text))

    def render(self):
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>%s</title><style>%s</style></head><body>\n<h1>%s</h1>\n%s\n"
                "</body></html>\n" % (html.escape(self.title), _STYLE, html.escape(self.title),
                                      "\n".join(self.parts)))

    def write(self, path):
        pathlib.Path(path).write_text(self.render(), encoding="utf-8")
