"""An independent verifier of dynauth's JWTs: PyJWT with `cryptography` (not dynauth's code).

Reads JSON from stdin: {"jwks_url", "host", "issuer", "cases": [{"token", "audience", "at"?}]}.
Fetches the JWKS from the Worker (with `host` as the Host header: the test servers listen on
127.0.0.1), then verifies each token with the key its `kid` names: EdDSA only, `iss`, `aud`,
`exp` and `iat` checked, every claim dynauth promises required. `at` (epoch seconds) sets the
verifier's clock for that case. Prints one JSON list: {"ok": claims} or {"error": exception
class name} per case.
"""

import datetime as dt
import json
import sys
import urllib.request

import jwt
import jwt.api_jwt


class Clock(dt.datetime):
    """`datetime` whose `now` is the case's `at`, when it has one."""

    at = None

    @classmethod
    def now(cls, tz=None):
        if cls.at is None:
            return dt.datetime.now(tz)
        return dt.datetime.fromtimestamp(cls.at, tz)


jwt.api_jwt.datetime = Clock


def main():
    spec = json.load(sys.stdin)
    request = urllib.request.Request(spec["jwks_url"], headers={"Host": spec["host"]})
    with urllib.request.urlopen(request, timeout=10) as answer:
        keys = jwt.PyJWKSet.from_dict(json.load(answer))
    results = []
    for case in spec["cases"]:
        Clock.at = case.get("at")
        try:
            kid = jwt.get_unverified_header(case["token"]).get("kid")
            key = next((k for k in keys.keys if k.key_id == kid), None)
            if key is None:
                raise jwt.PyJWKSetError(f"no key with kid {kid}")
            claims = jwt.decode(
                case["token"],
                key.key,
                algorithms=["EdDSA"],
                audience=case["audience"],
                issuer=spec["issuer"],
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti", "sid", "tid"]},
            )
            results.append({"ok": claims})
        except Exception as e:  # noqa: BLE001 -- the class name is the answer
            results.append({"error": type(e).__name__})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
