"""Hooks for the schema-driven fuzz test (tests/e2e/schema-fuzz.test.mjs).

Schemathesis generates the requests docs/openapi.yaml allows and expects dynauth to take them.
A few rules dynauth enforces are not shapes, so no JSON Schema can say them; a 400 that is exactly
one of them is not held against the description, and nothing else is excused:
- an authorization request's `client_id` must be a client registered for the host's tenant, and
  its `redirect_uri` one that client registered (state: which clients exist; the answer is the
  HTML page that is never a redirect);
- a logout request's `id_token_hint` must be an ID token this tenant issued, its `client_id` a
  registered client (the hint's audience), and a `post_logout_redirect_uri` one that client
  registered, which needs a hint or `client_id` to name it (state, and one parameter depending on
  another, which query parameters cannot say);
- a login `binding` sent to keep an earlier code must be one dynauth returned for that email
  (state: which secrets were handed out);
- `session.idle_lifetime_secs` must not be longer than `session.lifetime_secs` (a comparison of
  two fields; the description says the one case it can, lifetime absent, with if/then).
- an `authjs` setting must name a table that is there, laid out as the setting says (state: which
  tables exist in the account; read from its DescribeTable when the tenant is saved).

The tenant that serves the Worker's own host (DYNAUTH_FUZZ_OWNER) is left alone: a request for
it goes to another id, so its host stays claimed and no generated origin or webhook URL (anyone's
host on the internet) is ever set on a tenant that serves requests.
"""
import json
import os

import schemathesis

OWNER = os.environ["DYNAUTH_FUZZ_OWNER"]
NOT_SHAPES = {
    "binding: must be the binding an earlier code was issued with",
    "binding: must be the binding a login start returned",
    "session.idle_lifetime_secs: must not be longer than session.lifetime_secs",
}
# The authjs setting checked against the table (src/domain/sessions/authjs.rs, check_table).
NOT_SHAPE_PREFIXES = (
    "authjs.table: no table named ",
    "authjs.table: dynauth may not read ",
    "authjs.partition_key: the table's partition key is ",
    "authjs.sort_key: the table's sort key is ",
    "authjs.index_name: the table has no index ",
    "authjs.index_partition_key: the index's partition key is ",
    "authjs.index_sort_key: the index's sort key is ",
)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if (case.path_parameters or {}).get("id") == OWNER:
        case.path_parameters["id"] = OWNER + "-not"


NOT_SHAPES_HTML = {
    "/v1/oauth/authorize": {
        '<p id="error">this application (client_id) is not registered here</p>',
        '<p id="error">the redirect_uri is not one this application registered</p>',
    },
    "/v1/oauth/logout": {
        '<p id="error">this application (client_id) is not registered here</p>',
        '<p id="error">the id_token_hint is not an ID token this provider issued</p>',
        '<p id="error">the post_logout_redirect_uri is not one this application registered</p>',
        '<p id="error">a post_logout_redirect_uri needs the id_token_hint or client_id it belongs to</p>',
    },
}


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if response is None or response.status_code != 400:
        return True
    if case.path in NOT_SHAPES_HTML:
        page = response.content.decode("utf-8", "replace")
        return not any(message in page for message in NOT_SHAPES_HTML[case.path])
    try:
        message = json.loads(response.content)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return True
    return message not in NOT_SHAPES and not (case.path == "/v1/admin/tenants/{id}" and message.startswith(NOT_SHAPE_PREFIXES))
