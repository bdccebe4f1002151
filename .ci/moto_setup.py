"""Prepares moto's server (started with INITIAL_NO_AUTH_ACTION_COUNT) for the
put-only credentials test: an admin, a bucket, and a user whose inline IAM
policy allows only s3:PutObject, s3:GetObject and s3:ListBucket on it.
Prints `export NAME=value` lines for .ci/run to eval."""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
bucket = "coffer-putonly"
cfg = Config(retries={"max_attempts": 1})


def client(kind, key="test", secret="test"):
    return boto3.client(kind, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


iam = client("iam")
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
ak = iam.create_access_key(UserName="admin")["AccessKey"]
admin = (ak["AccessKeyId"], ak["SecretAccessKey"])

# Use up the unauthenticated allowance until moto checks signatures.
for _ in range(100):
    try:
        client("s3", "nobody", "wrong").list_buckets()
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
            break
else:
    sys.exit("moto never started checking credentials")

client("s3", *admin).create_bucket(Bucket=bucket)
iam = client("iam", *admin)
iam.create_user(UserName="backup")
iam.put_user_policy(UserName="backup", PolicyName="put-get-list", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
    ]}))
bk = iam.create_access_key(UserName="backup")["AccessKey"]
print(f"export COFFER_TEST_MOTO_ENDPOINT={endpoint}")
print(f"export COFFER_TEST_MOTO_BUCKET={bucket}")
print(f"export COFFER_TEST_MOTO_ADMIN_KEY={admin[0]} COFFER_TEST_MOTO_ADMIN_SECRET={admin[1]}")
print(f"export COFFER_TEST_PUTONLY_KEY={bk['AccessKeyId']} COFFER_TEST_PUTONLY_SECRET={bk['SecretAccessKey']}")
