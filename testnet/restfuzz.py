"""schemathesis against ``/openapi.json`` of a running node: no 5xx, answers as documented.

``python -m testnet.restfuzz --max-examples 700 --seed 1`` starts a one-validator testnet (a real
``chainfin node run`` process on 127.0.0.1, plain HTTP), commits a few transactions so that reads
meet real data, and runs ``st run`` on the node's OpenAPI document with the checks
``not_a_server_error``, ``status_code_conformance`` and ``content_type_conformance`` over every
operation. The suite runs a short version (tests/e2e/test_restfuzz.py).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainfin.types import Transaction
from testnet.launch import Testnet, init_testnet

__all__ = ["RestFuzzResult", "run_schemathesis", "CHECKS"]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance"


@dataclass
class RestFuzzResult:
    cases: int
    failures: int
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failures == 0 and self.cases > 0

    def to_json(self) -> dict[str, Any]:
        return {"cases": self.cases, "failures": self.failures, "exit_code": self.exit_code,
                "ok": self.ok}


def _seed_data(tn: Testnet) -> None:
    issuer = tn.identity("usd_issuer")
    to = tn.manifest.client("exporter").public_key
    with tn.client(0) as c:
        for n in range(1, 4):
            tx = Transaction.create(issuer, tn.chain_id, n, "settlement", "issue",
                                    {"currency": "USD", "to": to, "amount": 100})
            c.submit(tx, wait=True)


def run_schemathesis(max_examples: int = 700, seed: int = 1, phases: str = "coverage,fuzzing",
                     directory: Path | None = None, timeout: float = 3600) -> RestFuzzResult:
    """Start a one-node testnet, run schemathesis against it, stop it."""
    with tempfile.TemporaryDirectory(prefix="chainfin-restfuzz-") as tmp:
        d = Path(directory or tmp) / "tn"
        init_testnet(d, nodes=1, tls=False)
        with Testnet(d) as tn:
            tn.start()
            tn.wait_ready(30)
            _seed_data(tn)
            url = tn.rest_url(0)
            cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
                   "--checks", CHECKS, "--max-examples", str(max_examples), "--seed", str(seed),
                   "--workers", "1", "--phases", phases, "--no-color",
                   "--generation-database", "none", "--request-timeout", "10",
                   "--suppress-health-check", "all",
                   # streams: a GET that never ends is no request/response case
                   "--exclude-path", "/v1/events"]
            # cwd: schemathesis keeps a cache of failures in ./.schemathesis
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=d)
            out = r.stdout + r.stderr
            if tn.exited():
                out += f"\nthe node exited: {tn.exited()}"
                r.returncode = r.returncode or 1
    m = re.search(r"(\d+) generated", out)
    cases = int(m.group(1)) if m else 0
    f = re.search(r"(\d+) failures?\b", out.split("SUMMARY")[-1])
    failures = int(f.group(1)) if f else (0 if r.returncode == 0 else 1)
    return RestFuzzResult(cases, failures, r.returncode, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testnet.restfuzz",
                                description=__doc__.split("\n")[0])
    p.add_argument("--max-examples", type=int, default=700, help="per operation and phase")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--phases", default="coverage,fuzzing")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    res = run_schemathesis(args.max_examples, args.seed, args.phases)
    out = res.output
    start = out.find("FAILURES")
    print((out[start:] if start >= 0 else out.split("SUMMARY")[-1]).strip())
    print(json.dumps(res.to_json()))
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_json(), indent=2) + "\n")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
