"""Write the Elasticsearch bodies phiwatch installs, as JSON files, from the code.

For a cluster phiwatch may not configure itself (the Department's shared cluster, a
security team that installs templates by hand): ``PUT _index_template/<name>`` with a
``*.index-template.json`` file, ``PUT _ilm/policy/<name>`` with the ``*.ilm-policy.json``
one. They are exactly what ``phiwatch es setup`` installs for the default prefix and
retention (``--prefix``, ``--retention-days`` for others), and a test checks that the
committed files still are:

    python deploy/elasticsearch/export.py            # rewrite the files
    python deploy/elasticsearch/export.py --check    # exit 1 if they differ from the code
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.incidents import incident_template_body, incident_template_name
from alerting.elasticsearch.retention import ilm_policy_body
from alerting.elasticsearch.template import ilm_policy_name, template_body, template_name

HERE = Path(__file__).resolve().parent


def bodies(config: ElasticsearchConfig) -> dict[str, dict[str, Any]]:
    """File name -> request body, for ``config``."""
    policy = ilm_policy_name(config)
    return {
        f"{template_name(config)}.index-template.json": template_body(config, policy),
        f"{incident_template_name(config)}.index-template.json": incident_template_body(config),
        f"{policy}.ilm-policy.json": {"policy": ilm_policy_body(config)},
    }


def render(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    parser.add_argument("--prefix", default="phiwatch")
    parser.add_argument("--retention-days", type=int, default=365)
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them")
    args = parser.parse_args(argv)
    config = ElasticsearchConfig(hosts=["http://localhost:9200"], index_prefix=args.prefix,
                                 retention_days=args.retention_days)
    stale = []
    for name, body in bodies(config).items():
        path = args.out / name
        text = render(body)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run {Path(__file__).name} without --check): {', '.join(stale)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
