#!/usr/bin/env python3
"""Turns a fresh moto_server (started with INITIAL_NO_AUTH_ACTION_COUNT=3) into a server that
checks SigV4: creates an IAM user, an access key and an allow-all inline policy (the three
unauthenticated requests), then prints the key as shell assignments."""
import json
import sys

import boto3

endpoint = sys.argv[1]
iam = boto3.client(
    "iam",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
iam.create_user(UserName="dynauth-test")
key = iam.create_access_key(UserName="dynauth-test")["AccessKey"]
iam.put_user_policy(
    UserName="dynauth-test",
    PolicyName="allow-all",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ),
)
print(f"MOTO_ACCESS_KEY_ID={key['AccessKeyId']}")
print(f"MOTO_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
