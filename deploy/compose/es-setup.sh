#!/bin/bash
# One-shot setup of the compose cluster, run by the `setup` service: the password of
# kibana_system, and a `phiwatch` user that may manage and write phiwatch-* only.
set -euo pipefail
ES=http://elasticsearch:9200
auth=(-u "elastic:${ELASTIC_PASSWORD}")

until curl -fsS "${auth[@]}" "$ES/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null; do
  echo "waiting for Elasticsearch"; sleep 5
done

curl -fsS "${auth[@]}" -X POST "$ES/_security/user/kibana_system/_password" \
  -H 'Content-Type: application/json' -d "{\"password\":\"${KIBANA_PASSWORD}\"}" >/dev/null

curl -fsS "${auth[@]}" -X PUT "$ES/_security/role/phiwatch_writer" \
  -H 'Content-Type: application/json' -d '{
    "cluster": ["monitor", "manage_index_templates", "manage_ilm"],
    "indices": [{"names": ["phiwatch-*"],
                 "privileges": ["create_index", "delete_index", "index", "read", "write",
                                "view_index_metadata", "manage"]}]
  }' >/dev/null

curl -fsS "${auth[@]}" -X PUT "$ES/_security/user/phiwatch" \
  -H 'Content-Type: application/json' \
  -d "{\"password\":\"${PHIWATCH_ES_PASSWORD}\",\"roles\":[\"phiwatch_writer\"]}" >/dev/null

echo "setup done"
