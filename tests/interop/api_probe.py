"""The Python side of the API comparison (tests/interop/README.md): reads
the cases file (one case a line, tab-separated hex-encoded UTF-8 fields:
op, then its arguments) and prints one JSON answer a line through the
public ``cloudbackup`` API: ``{"ok": true, "result": ...}`` or
``{"ok": false, "code": ..., "message": ..., "details": ...}``.

    python api_probe.py CASES > answers
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Dict, List

import cloudbackup as cb

def _response(a: List[str]) -> Any:
    headers = None if a[3] == "" else [(h[0], h[1]) for h in json.loads(a[3])]
    return cb.parse_response(a[0], int(a[2]), a[4], params=json.loads(a[1]), headers=headers)


OPS: Dict[str, Callable[[List[str]], Any]] = {
    "model": lambda a: cb.parse_model(a[0], a[1].encode()),
    "apply": lambda a: cb.apply_patch(a[0].encode(), a[1].encode()),
    "validate": lambda a: cb.validate_patch(a[0], a[1].encode(), a[2].encode(), a[3]),
    "transition": lambda a: cb.transition(a[0], a[1], a[2], a[3]),
    "actions": lambda a: cb.allowed_actions(a[0], a[1]),
    "targets": lambda a: cb.allowed_targets(a[0], a[1], a[2]),
    # The API fidelity table (tests/data/api-fidelity).
    "fid-request": lambda a: cb.build_request(
        a[0], json.loads(a[1]), token=a[2], tenant_id=a[3], agent_id=a[4] or None
    ),
    "fid-response": _response,
    "fid-decrypt": lambda a: cb.AgentKey.from_der(bytes.fromhex(a[0])).decrypt_password(a[1]),
    "fid-pubkey": lambda a: cb.AgentKey.from_der(bytes.fromhex(a[0])).public_key(),
    "fid-snapid": lambda a: cb.snapshot_id_for(a[0]),
    "fid-snapprefix": lambda a: cb.vault_snapshot_prefix(int(a[0])),
}


def main() -> int:
    with open(sys.argv[1], encoding="ascii") as f:
        for line in f:
            op, *args = [bytes.fromhex(x).decode("utf-8") for x in line.rstrip("\n").split("\t")]
            try:
                answer: Dict[str, Any] = {"ok": True, "result": OPS[op](args)}
            except cb.Error as e:
                answer = {"ok": False, "code": e.code, "message": e.message, "details": e.details}
            print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
