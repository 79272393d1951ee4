#!/usr/bin/env python3
"""Checks that infra/cloudformation.yaml creates exactly the table the code expects (the CreateTable
request printed by `dynauth table definition`, plus TTL on `ttl`), and that the IAM policies are
well formed and scoped to the table and its indexes.

    python3 tests/infra_check.py target/debug/dynauth
"""
import json
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


CfnLoader.add_multi_constructor("!", _tag)


def main(cli):
    failures = []
    template = yaml.load((ROOT / "infra/cloudformation.yaml").read_text(), Loader=CfnLoader)
    props = template["Resources"]["DynauthTable"]["Properties"]
    default_name = template["Parameters"]["TableName"]["Default"]
    expected = json.loads(
        subprocess.run([cli, "table", "definition", "--table", default_name], check=True,
                       capture_output=True, text=True).stdout
    )
    for key in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"]:
        if props.get(key) != expected[key]:
            failures.append(f"cloudformation {key}: {props.get(key)!r} != code's {expected[key]!r}")
    if props.get("TimeToLiveSpecification") != {"AttributeName": "ttl", "Enabled": True}:
        failures.append(f"cloudformation TimeToLiveSpecification: {props.get('TimeToLiveSpecification')!r}")

    table_arn = f"arn:aws:dynamodb:REGION:ACCOUNT_ID:table/{default_name}"
    for name in ["iam-policy.json", "iam-policy-operator.json"]:
        policy = json.loads((ROOT / "infra" / name).read_text())
        for st in policy["Statement"]:
            actions = st["Action"]
            if st["Effect"] != "Allow" or any("*" in a for a in actions):
                failures.append(f"{name}: statement {st.get('Sid')} must allow named actions only")
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for r in resources:
                if r not in (table_arn, table_arn + "/index/*"):
                    failures.append(f"{name}: resource {r} is not the table or its indexes")
            if "dynamodb:Query" in actions and resources != [table_arn + "/index/*"]:
                failures.append(f"{name}: Query should be allowed on the indexes only")

    for f in failures:
        print("infra check:", f, file=sys.stderr)
    if not failures:
        print("infra check: cloudformation table matches the code; IAM policies scoped to the table")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
