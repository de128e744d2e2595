"""SWE-bench round trip without Docker: the official `swebench` package loads our dataset,
builds each instance's test spec and grades the logs of OUR eval_script, run here.

What the harness's container would be is built here the way its image would be: the
repository at base_commit in /testbed (a bubblewrap bind mount, the path eval_script uses)
with our `setup_script` run there. Then, per instance, as `run_instance` does: copy the
prepared tree, apply the prediction's patch with `git apply --verbose` (none for the empty
prediction), run `test_spec.eval_script` with bash, and grade the output with
`swebench.harness.grading.get_eval_report`.

usage: round_trip.py DATASET_JSONL CLONE_URLS_JSON WORKDIR  → prints a JSON report on stdout
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from swebench.harness.grading import get_eval_report
from swebench.harness.utils import load_swebench_dataset, make_test_spec


def in_testbed(tree: Path, script: Path, log: Path) -> int:
    """bash SCRIPT with TREE mounted at /testbed (the rest of the machine as it is)."""
    with log.open("w") as out:
        return subprocess.run(
            ["bwrap", "--dev-bind", "/", "/", "--bind", str(tree), "/testbed",
             "--chdir", "/testbed", "--die-with-parent", "bash", str(script)],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        ).returncode


def main() -> None:
    dataset_path, clone_urls, workdir = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    report = {}
    for instance in load_swebench_dataset(dataset_path):
        iid = instance["instance_id"]
        spec = make_test_spec(instance)
        base = workdir / iid / "prepared"
        subprocess.run(["git", "clone", "-q", clone_urls[iid], str(base)], check=True)
        subprocess.run(["git", "-C", str(base), "checkout", "-q", instance["base_commit"]], check=True)
        setup = workdir / iid / "setup.sh"
        setup.write_text(instance["setup_script"])
        if in_testbed(base, setup, workdir / iid / "setup.log") != 0:
            raise SystemExit(f"{iid}: setup failed:\n{(workdir / iid / 'setup.log').read_text()}")
        eval_sh = workdir / iid / "eval.sh"
        eval_sh.write_text(spec.eval_script)
        report[iid] = {"log_parser": spec.log_parser, "FAIL_TO_PASS": spec.FAIL_TO_PASS}
        for name, patch in (("gold", instance["patch"]), ("empty", "")):
            tree = workdir / iid / name
            shutil.copytree(base, tree, symlinks=True)
            if patch:
                patch_file = workdir / iid / f"{name}.diff"
                patch_file.write_text(patch)
                subprocess.run(["git", "apply", "--verbose", str(patch_file)], cwd=tree, check=True,
                               capture_output=True)
            log = workdir / iid / f"{name}.log"
            in_testbed(tree, eval_sh, log)
            pred = {"instance_id": iid, "model_name_or_path": "scaleswe-round-trip", "model_patch": patch}
            graded = get_eval_report(spec, pred, str(log), include_tests_status=True)[iid]
            report[iid][name] = {"resolved": graded["resolved"], "tests_status": graded.get("tests_status"),
                                 "log": str(log)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
