"""An independent verifier of dynauth's x-dynauth-identity header (Python's hmac), used by the
Rust tests: reads {"header", "secrets", "method", "host", "path", "tenant", "now"} as JSON on
stdin; prints "ok <user> <session>" and exits 0, or prints "refused: <why>" and exits 1."""

import hashlib
import hmac
import json
import sys

MAX_AGE = 60


def verify(header, secrets, method, host, path, tenant, now):
    fields, sigs = {}, []
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "sig":
            sigs.append(value)
        elif key == "v1" and not value:
            fields["version"] = "v1"
        else:
            fields[key] = value
    if fields.get("version") != "v1":
        return "refused: not a v1 header"
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return "refused: no timestamp"
    if abs(now - t) > MAX_AGE:
        return "refused: too old"
    if fields.get("tenant") != tenant:
        return "refused: another tenant"
    canonical = "\n".join(
        ["v1", str(t), fields.get("tenant", ""), fields.get("user", ""), fields.get("session", ""), method, host, path]
    ).encode()
    for secret in secrets:
        expected = hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, sig) for sig in sigs):
            return f"ok {fields.get('user')} {fields.get('session')}"
    return "refused: bad signature"


if __name__ == "__main__":
    args = json.load(sys.stdin)
    result = verify(args["header"], args["secrets"], args["method"], args["host"], args["path"], args["tenant"], args["now"])
    print(result)
    sys.exit(0 if result.startswith("ok ") else 1)
