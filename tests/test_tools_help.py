# The helper scripts under tools/ answer --help with a usage text and change nothing.
import os
import shutil
import subprocess
import sys

from conftest import ROOT


def test_gen_readme_help_prints_usage_and_leaves_the_readme_alone(tmp_path):
    # a copy of the tool beside a stale README: without an argument parser, "--help" used to
    # be ignored and the README rewritten (or, here, the import of hil failed with a traceback)
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "gen_readme.py", tmp_path / "tools")
    stale = "# x\n<!-- BEGIN config-table -->\nold\n<!-- END config-table -->\n"
    (tmp_path / "README.md").write_text(stale)
    r = subprocess.run([sys.executable, "tools/gen_readme.py", "--help"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout and "--check" in r.stdout
    assert (tmp_path / "README.md").read_text() == stale
    bad = subprocess.run([sys.executable, "tools/gen_readme.py", "--frobnicate"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert (tmp_path / "README.md").read_text() == stale


def test_micropython32_help_prints_usage_and_runs_nothing(tmp_path):
    # git and make are replaced by stubs that leave a mark: --help must call neither
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("git", "make", "gcc"):
        s = stubs / tool
        s.write_text("#!/bin/sh\necho %s >> %s/called\n" % (tool, tmp_path))
        s.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (stubs, os.environ["PATH"]))
    work = tmp_path / "cwd"
    work.mkdir()
    for args, rc in ((["--help"], 0), (["-h"], 0), (["--bogus"], 2)):
        r = subprocess.run(["sh", str(ROOT / "tools" / "micropython32.sh")] + args, cwd=work,
                           env=env, capture_output=True, text=True)
        assert r.returncode == rc, (args, r.stdout, r.stderr)
        if rc == 0:
            assert r.stdout.startswith("usage: sh tools/micropython32.sh")
        else:
            assert r.stderr.count("\n") == 1 and "--help" in r.stderr
    assert not (tmp_path / "called").exists()
    assert list(work.iterdir()) == []
