#!/usr/bin/env python3
"""Checks that infra/cloudformation.yaml creates exactly the table the code expects (the CreateTable
request printed by `dynauth table definition`, plus TTL on `ttl`), that the IAM policies are
well formed and scoped to the table and its indexes, and that infra/cloudformation-global.yaml
makes the same table a global table (a stream, every replica safe) with the same grants in every
one of its regions.

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

    if props.get("DeletionProtectionEnabled") is not True:
        failures.append("cloudformation: DeletionProtectionEnabled must be true")
    if props.get("PointInTimeRecoverySpecification") != {"PointInTimeRecoveryEnabled": True}:
        failures.append("cloudformation: point-in-time recovery must be enabled")
    table = template["Resources"]["DynauthTable"]
    if table.get("DeletionPolicy") != "Retain" or table.get("UpdateReplacePolicy") != "Retain":
        failures.append("cloudformation: the table must be retained (DeletionPolicy, UpdateReplacePolicy)")

    # The JSON policies name the table TABLE (a placeholder, like REGION and ACCOUNT_ID); the
    # template's managed policies must grant exactly the same, for its TableName parameter.
    table_arn = "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/TABLE"
    gsi1 = table_arn + "/index/GSI1"
    cfn_arn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}"
    for name, resource in [("iam-policy.json", "DynauthWorkerPolicy"), ("iam-policy-operator.json", "DynauthOperatorPolicy")]:
        policy = json.loads((ROOT / "infra" / name).read_text())
        for st in policy["Statement"]:
            actions = st["Action"]
            if st["Effect"] != "Allow" or any("*" in a for a in actions):
                failures.append(f"{name}: statement {st.get('Sid')} must allow named actions only")
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for r in resources:
                if r not in (table_arn, gsi1):
                    failures.append(f"{name}: resource {r} is not the table or GSI1 (GSI2 is never queried)")
            if "dynamodb:Query" in actions and resources != [gsi1]:
                failures.append(f"{name}: Query should be allowed on GSI1 only")
        cfn = template["Resources"][resource]["Properties"]["PolicyDocument"]["Statement"]
        as_json = [
            {**st, "Resource": st["Resource"]["Sub"].replace(cfn_arn, table_arn)} for st in cfn
        ]
        if as_json != policy["Statement"]:
            failures.append(f"cloudformation {resource} differs from infra/{name}")

    # The global table: the same table, replicated (home plus the replica parameters), each
    # replica safe, and the same grants as the JSON policies on the table in every region.
    glob = yaml.load((ROOT / "infra/cloudformation-global.yaml").read_text(), Loader=CfnLoader)
    gtable = glob["Resources"]["DynauthTable"]
    gprops = gtable["Properties"]
    if gtable.get("Type") != "AWS::DynamoDB::GlobalTable":
        failures.append("cloudformation-global: DynauthTable must be an AWS::DynamoDB::GlobalTable")
    for key in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"]:
        if gprops.get(key) != expected[key]:
            failures.append(f"cloudformation-global {key}: {gprops.get(key)!r} != code's {expected[key]!r}")
    if gprops.get("TimeToLiveSpecification") != {"AttributeName": "ttl", "Enabled": True}:
        failures.append("cloudformation-global: time to live on ttl")
    if gprops.get("StreamSpecification") != {"StreamViewType": "NEW_AND_OLD_IMAGES"}:
        failures.append("cloudformation-global: global tables need a NEW_AND_OLD_IMAGES stream")
    if gtable.get("DeletionPolicy") != "Retain" or gtable.get("UpdateReplacePolicy") != "Retain":
        failures.append("cloudformation-global: the table must be retained")
    replica_params = [k for k in glob["Parameters"] if k.startswith("ReplicaRegion")]
    regions = ["AWS::Region"] + replica_params
    replicas = gprops.get("Replicas", [])
    if [r["Region"].get("Ref") for r in replicas] != regions:
        failures.append(f"cloudformation-global: Replicas must be the stack's region and {replica_params}")
    for r in replicas:
        if r.get("DeletionProtectionEnabled") is not True or r.get("PointInTimeRecoverySpecification") != {"PointInTimeRecoveryEnabled": True}:
            failures.append(f"cloudformation-global: replica {r['Region']} needs deletion protection and PITR")
    region_vars = ["${AWS::Region}"] + ["${" + p + "}" for p in replica_params]
    for name, resource in [("iam-policy.json", "DynauthWorkerPolicy"), ("iam-policy-operator.json", "DynauthOperatorPolicy")]:
        policy = json.loads((ROOT / "infra" / name).read_text())
        statements = glob["Resources"][resource]["Properties"]["PolicyDocument"]["Statement"]
        for st, want in zip(statements, policy["Statement"]):
            arns = [r["Sub"] for r in st["Resource"]]
            expect = [want["Resource"].replace("arn:aws:dynamodb:REGION:ACCOUNT_ID:table/TABLE", cfn_arn.replace("${AWS::Region}", region)) for region in region_vars]
            if arns != expect or {**st, "Resource": None} != {**want, "Resource": None}:
                failures.append(f"cloudformation-global {resource} statement {want['Sid']}: not {name} in every region")
        if len(statements) != len(policy["Statement"]):
            failures.append(f"cloudformation-global {resource}: not the statements of {name}")

    # The grants follow the code: every DynamoDB operation the Worker sends is allowed (the
    # item actions of a transaction's parts included), and nothing it never sends.
    worker = json.loads((ROOT / "infra/iam-policy.json").read_text())
    granted = {a.split(":")[1] for st in worker["Statement"] for a in st["Action"]}
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.rs"))
    needed = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable", "DescribeTimeToLive"}
    if "TransactItem::ConditionCheck" in source:
        needed.add("ConditionCheckItem")
    if granted != needed:
        failures.append(f"iam-policy.json grants {sorted(granted)}, the Worker needs {sorted(needed)}")

    failures += authjs_failures(source)

    for f in failures:
        print("infra check:", f, file=sys.stderr)
    if not failures:
        print("infra check: both cloudformation tables (single-region and global) match the code; "
              "IAM policies scoped to the table in each region")
    return 1 if failures else 0


def authjs_failures(source):
    """The grants on a foreign Auth.js table: what src/domain/sessions/authjs.rs (and the check
    when a tenant's setting is saved) sends, read-only but for the logout's DeleteItem, which the
    template grants only with Logout=true; the template the same as the JSON policy."""
    failures = []
    policy = json.loads((ROOT / "infra/iam-policy-authjs.json").read_text())
    table_arn = "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/AUTHJS_TABLE"
    index_arn = table_arn + "/index/GSI1"
    by_sid = {st["Sid"]: st for st in policy["Statement"]}
    want = {
        "AuthjsSessionReads": (["dynamodb:GetItem", "dynamodb:DescribeTable"], table_arn),
        "AuthjsSessionIndex": (["dynamodb:Query"], index_arn),
        "AuthjsLogout": (["dynamodb:DeleteItem"], table_arn),
    }
    for sid, (actions, resource) in want.items():
        st = by_sid.get(sid)
        if st is None or st["Effect"] != "Allow" or st["Action"] != actions or st["Resource"] != resource:
            failures.append(f"iam-policy-authjs.json {sid}: must allow {actions} on {resource} only, is {st!r}")
    if set(by_sid) != set(want):
        failures.append(f"iam-policy-authjs.json: statements {sorted(by_sid)}, not {sorted(want)}")
    # What the code sends to the Auth.js table, and no write but the logout's delete.
    authjs = (ROOT / "src/domain/sessions/authjs.rs").read_text()
    calls = [("Query", ".query("), ("GetItem", ".get_item("), ("DeleteItem", ".delete_item("),
             ("DescribeTable", ".describe_table("), ("PutItem", ".put_item("), ("UpdateItem", ".update_item("),
             ("BatchWriteItem", ".batch_write("), ("Transact", ".transact")]
    sent = {op for op, call in calls if call in authjs}
    if sent != {"Query", "GetItem", "DeleteItem", "DescribeTable"}:
        failures.append(f"src/domain/sessions/authjs.rs sends {sorted(sent)} to an Auth.js table")

    template = yaml.load((ROOT / "infra/cloudformation-authjs.yaml").read_text(), Loader=CfnLoader)
    statements = template["Resources"]["DynauthAuthjsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    cfn_table = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AuthjsTableName}"
    cfn_index = cfn_table + "/index/${IndexName}"

    def as_json(st):
        arn = st["Resource"]["Sub"].replace(cfn_index, index_arn).replace(cfn_table, table_arn)
        return {**st, "Resource": arn}

    plain = [as_json(st) for st in statements if "If" not in st]
    conditional = [st["If"] for st in statements if "If" in st]
    if plain != policy["Statement"][:2]:
        failures.append("cloudformation-authjs: the read statements differ from infra/iam-policy-authjs.json")
    if len(conditional) != 1 or conditional[0][0] != "AllowLogout" or as_json(conditional[0][1]) != by_sid.get("AuthjsLogout") \
            or conditional[0][2] != {"Ref": "AWS::NoValue"}:
        failures.append("cloudformation-authjs: DeleteItem must be granted only under the AllowLogout condition")
    if template.get("Conditions", {}).get("AllowLogout") != {"Equals": [{"Ref": "Logout"}, "true"]}:
        failures.append("cloudformation-authjs: AllowLogout must be Logout == true")
    return failures


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
