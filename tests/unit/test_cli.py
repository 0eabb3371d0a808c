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


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`chainfin verify ... | head` printed a BrokenPipeError traceback (the docs walk-through):
    the reader leaving early ends the command quietly."""
    code = ("import sys, chainfin.cli as c\n"
            "def noisy(args):\n"
            "    for _ in range(100000):\n"
            "        print('x' * 100)\n"
            "    return 0\n"
            "p = c.build_parser\n"
            "def build():\n"
            "    parser = p()\n"
            "    parser.set_defaults(func=noisy)\n"
            "    return parser\n"
            "c.build_parser = build\n"
            "sys.exit(c.main([]))\n")
    r = subprocess.run(f"{sys.executable} -c \"$CODE\" | head -n 1", shell=True, env={
        **os.environ, "CODE": code}, capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith("x") and "Traceback" not in r.stderr, r.stderr
