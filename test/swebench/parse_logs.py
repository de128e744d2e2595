"""Runs swebench's own log parsers on console logs: argv[1] is a JSON list of
[parser_name, log_path]; prints {log_path: {test_key: status}}."""

import json
import sys

from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.types import TestSpec

spec = TestSpec(instance_id="x__y-1", image="", eval_script_list=[], repo="x/y", version="",
                FAIL_TO_PASS=[], PASS_TO_PASS=[])
print(json.dumps({path: PARSER_REGISTRY[name](open(path).read(), spec)
                  for name, path in json.loads(sys.argv[1])}))
