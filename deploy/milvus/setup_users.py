"""Production compose profile, run once in the aegis image: replace Milvus's default root password and
create the sync user with only the privileges the sink and the reconciler use. Idempotent."""

from __future__ import annotations

import os
import sys

from pymilvus import MilvusClient

URI = os.environ.get("MILVUS_URI", "http://milvus:19530")
ROOT_PASSWORD = os.environ["MILVUS_ROOT_PASSWORD"]
USER, _, PASSWORD = os.environ["MILVUS_TOKEN"].partition(":")
ROLE = "aegis_sync"
GLOBAL = ["CreateCollection", "DropCollection", "DescribeCollection", "ShowCollections", "CreateAlias",
          "DropAlias", "DescribeAlias", "ListAliases", "RenameCollection"]
COLLECTION = ["Insert", "Delete", "Upsert", "Query", "Search", "Load", "Release", "CreateIndex", "IndexDetail",
              "GetLoadState", "GetLoadingProgress", "GetStatistics", "Flush", "Compaction"]


def main() -> int:
    try:
        client = MilvusClient(uri=URI, token=f"root:{ROOT_PASSWORD}")
        client.list_users()
    except Exception:  # noqa: BLE001 - first run: the root password is still Milvus's default
        client = MilvusClient(uri=URI, token="root:Milvus")
        client.update_password("root", "Milvus", ROOT_PASSWORD)
        client = MilvusClient(uri=URI, token=f"root:{ROOT_PASSWORD}")
    if USER not in client.list_users():
        client.create_user(USER, PASSWORD)
    if ROLE not in client.list_roles():
        client.create_role(ROLE)
    for privilege in GLOBAL:
        client.grant_privilege(ROLE, "Global", privilege, "*")
    for privilege in COLLECTION:
        client.grant_privilege(ROLE, "Collection", privilege, "*")
    client.grant_role(USER, ROLE)
    print(f"milvus: root password set, user {USER} has role {ROLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
