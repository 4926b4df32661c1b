"""Run every test module in its own fresh Python process, a few at a time.

    python tests/run_isolated.py [-j 2] [pytest args ...]

Why not one long ``pytest -n 2`` session: in CI, TensorFlow 2.21's oneDNN CPU kernels
aborted in a tiny eager model's conv2d backprop and corrupted the heap, and the damage
surfaced later as segfaults in unrelated tests (in garbage collection, in a BatchNorm's
variable creation). ``conftest.py`` now turns oneDNN off for tests; a process per module
also keeps each module's TensorFlow state its own, so any crash stays inside the module
that caused it, with its faulthandler traceback printed below.

Exits 0 when every module passed (or had nothing to run), 1 otherwise.
"""

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_module(module, extra):
    start = time.perf_counter()
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", "SKLKWS_ISOLATED_WORKER": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "--durations=5", "-p", "no:cacheprovider", str(module), *extra],
        cwd=TESTS.parent, env=env, capture_output=True, text=True,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else "(no output)"
    return module.name, proc.returncode, summary, proc.stdout + proc.stderr, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--jobs", type=int, default=2, help="modules run at once (default 2)")
    args, extra = parser.parse_known_args(argv)
    # Biggest first, so the long modules do not start last and leave a core idle.
    modules = sorted(TESTS.glob("test_*.py"), key=lambda p: p.stat().st_size, reverse=True)
    start = time.perf_counter()
    failed = []
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_module, module, extra) for module in modules]
        for future in as_completed(futures):
            name, code, summary, output, seconds = future.result()
            ok = code in (0, 5)  # 5: nothing collected (e.g. every test deselected)
            print(f"{'ok  ' if ok else 'FAIL'} {name:40s} {seconds:6.1f} s  {summary}", flush=True)
            if not ok:
                failed.append((name, code, output))
    for name, code, output in failed:
        print(f"\n{'=' * 30} {name} (exit code {code}) {'=' * 30}\n{output}")
    verdict = f"{len(failed)} of {len(modules)} modules failed" if failed else f"all {len(modules)} modules passed"
    print(f"\n{verdict} in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
