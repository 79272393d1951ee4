"""A confidential OpenID Connect client written with Authlib (nobody here wrote it), for
tests/e2e/oidc.test.mjs, in two steps around the browser:

  authlib_client.py authorize '{"issuer", "client_id", "client_secret", "redirect_uri"}'
      prints {"url", "state", "verifier", "nonce"}: the authorization URL the browser is sent to;
  authlib_client.py finish '{... the same, "state", "verifier", "nonce", "callback"}'
      redeems the code the browser came back with (client_secret_basic, PKCE S256), validates
      the ID token (signature by the JWKS, iss, aud, nonce, at_hash), refreshes, introspects,
      revokes, and prints what each step gave.

Run with AUTHLIB_INSECURE_TRANSPORT=1 (the provider is http://localhost in the tests).
"""
import json
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

SCOPE = "openid email offline_access"


def session(args, **extra):
    return OAuth2Session(
        args["client_id"],
        args["client_secret"],
        scope=SCOPE,
        redirect_uri=args["redirect_uri"],
        code_challenge_method="S256",
        **extra,
    )


def metadata(issuer):
    answer = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    answer.raise_for_status()
    meta = answer.json()
    assert meta["issuer"] == issuer, meta["issuer"]
    return meta


def authorize(args):
    meta = metadata(args["issuer"])
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session(args).create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    return {"url": url, "state": state, "verifier": verifier, "nonce": nonce}


def finish(args):
    meta = metadata(args["issuer"])
    client = session(args, state=args["state"])
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=args["callback"], code_verifier=args["verifier"]
    )
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": args["issuer"]}},
        claims_params={"nonce": args["nonce"], "client_id": args["client_id"], "access_token": token["access_token"]},
    )
    claims.validate()
    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    introspected = client.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    revoked = client.revoke_token(
        meta["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
    after = client.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    try:
        client.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
        refresh_after = {"error": None}
    except OAuthError as e:
        refresh_after = {"error": e.error}
    return {
        "claims": dict(claims),
        "token_type": token["token_type"],
        "refresh_token": token["refresh_token"],
        "refreshed_refresh_token": refreshed["refresh_token"],
        "introspected": introspected,
        "revoke_status": revoked.status_code,
        "after_revoke": after,
        "refresh_after_revoke": refresh_after,
    }


if __name__ == "__main__":
    step, raw = sys.argv[1], sys.argv[2]
    print(json.dumps({"authorize": authorize, "finish": finish}[step](json.loads(raw))))
