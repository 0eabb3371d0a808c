import json
import os
import stat
import subprocess
import sys


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "chainfin.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "keygen" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and "chainfin" in r.stdout


def test_keygen(tmp_path):
    out = tmp_path / "key.json"
    r = run("keygen", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    data = json.loads(out.read_text())
    assert data["public_key"] in r.stdout
    assert data["seed"] not in r.stdout
    r = run("keygen", "--out", str(out))
    assert r.returncode != 0 and "exists" in r.stderr
