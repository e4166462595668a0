"""Calling the Cloud Backup API with :class:`cloudbackup.Client`.

Reads the credentials from the environment (``RAX_USERNAME`` and
``RAX_API_KEY``, optionally ``RAX_REGION``; see :mod:`cloudbackup.client`),
then:

- reads a v2 restore (the id given on the command line) and prints its state
  and, for a restore that is not finished, the actions a console may offer;
- lists the project's events page by page (PAGE_SIZE at a time, default
  100, the service's maximum), counting them by kind;
- shows how the service's errors arrive: a restore that does not exist is an
  :class:`cloudbackup.ApiError` with its status and message.

Usage: python api_client.py RESTORE_ID [PAGE_SIZE]
"""

from __future__ import annotations

import collections
import sys
from typing import Counter, List, Optional

import cloudbackup as cb


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or (len(args) == 2 and not args[1].isdigit()):
        print((__doc__ or "").strip().splitlines()[-1], file=sys.stderr)
        return 2
    restore_id = args[0]
    page_size = int(args[1]) if len(args) == 2 else 100
    try:
        client = cb.Client.from_env()
    except cb.InvalidArgument as e:
        print(f"api_client: {e}", file=sys.stderr)
        return 2
    with client:
        restore = client.call("v2.restores.get_restore", {"restore_id": restore_id})
        print(f"restore {restore['id']}: {restore['state']}")
        actions = cb.allowed_actions("restore", restore["state"])
        if actions:
            print(f"  a console may offer: {', '.join(actions)}")

        kinds: Counter[str] = collections.Counter()
        pages = 0
        for page in client.pages("v2.events.list_project_events", {"page": {"limit": page_size}}):
            pages += 1
            kinds.update(event["event"] for event in page["events"])
        print(f"events: {sum(kinds.values())} over {pages} page{'s' * (pages != 1)}")
        for kind, n in kinds.most_common():
            print(f"  {kind}: {n}")

        try:
            client.call("v2.restores.get_restore", {"restore_id": "00000000-0000-0000-0000-000000000000"})
        except cb.ApiError as e:
            print(f"a missing restore: HTTP {e.status} ({e.kind}): {e.details.get('message')}")
    session = client.session
    if session is not None:
        print(f"endpoint: {session.base_url} (region {session.region or 'none'}, tenant {session.tenant_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
