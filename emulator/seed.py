"""Load the seed's world into a running emulator.

Usage: python seed.py ENDPOINT [--data-dir DIR] [--taskdef FILE]
Prints one JSON document describing the world (names, subnets, the SQLite file) on stdout.

The world: cluster `ass-staging`, a VPC with two private subnets for the service and two more
for the blue/green task set, a security group, the SSM parameters the task definition's
secrets name, one RDS-managed Secrets Manager secret (read by JSON key, as
`…:secret:rds!db-…:password::` references are), the nginx image's `stg` tag in ECR, the log
group, the seed task definition (images pointed at the emulator's image directories), service
`ass-staging` (ECS controller) and service `ass-staging-bg` (CODE_DEPLOY controller whose PRIMARY
task set uses other subnets and has a load balancer), and service `ass-staging-native` (ECS
controller, BLUE_GREEN strategy, a PAUSE hook at PRE_SCALE_UP that times out in 30 minutes with
ROLLBACK).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3

DEFAULT_REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
CLUSTER = "ass-staging"
SERVICE = "ass-staging"
SERVICE_BG = "ass-staging-bg"
SERVICE_NATIVE = "ass-staging-native"
RDS_SECRET = "rds!db-0f3c9a27-4b1e-4d2a-9c85-3e7f1a2b6c4d"
REPO = Path(__file__).resolve().parents[1]
DESCRIBE_ONLY = {
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt",
}


def client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def image(name: str, region: str, tag: str = "stg") -> str:
    return f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{name}:{tag}"


def task_definition_input(path: Path, region: str) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    doc = doc.get("taskDefinition", doc)
    td = {k: v for k, v in doc.items() if k not in DESCRIBE_ONLY}
    images = {"rails": image("rails", region), "nginx": image("nginx", region)}
    for container in td["containerDefinitions"]:
        container["image"] = images.get(container["name"], container["image"])
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if "awslogs-region" in options:
            options["awslogs-region"] = region
    td["taskRoleArn"] = f"arn:aws:iam::{ACCOUNT}:role/ass-ecs-task-execution"
    td["executionRoleArn"] = f"arn:aws:iam::{ACCOUNT}:role/ass-ecs-task-execution"
    if not td.get("tags"):
        td.pop("tags", None)
    return td


def seed(endpoint: str, data_dir: Path, taskdef: Path, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """Each region of the emulator holds an independent world (tests use one region each)."""
    ec2, ecs, ssm, logs, sm = (
        client(s, endpoint, region) for s in ("ec2", "ecs", "ssm", "logs", "secretsmanager")
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / "staging.sqlite3"

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = {}
    for name, cidr, az in [
        ("private-a", "10.20.1.0/24", zones[0]),
        ("private-c", "10.20.2.0/24", zones[-1]),
        ("bg-a", "10.20.11.0/24", zones[0]),
        ("bg-c", "10.20.12.0/24", zones[-1]),
    ]:
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)
        subnets[name] = sub["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[subnets[name]], Tags=[{"Key": "Name", "Value": name}])
    sg = ec2.create_security_group(GroupName="ass-staging-app", Description="app", VpcId=vpc)[
        "GroupId"
    ]
    sg_bg = ec2.create_security_group(GroupName="ass-staging-bg", Description="bg", VpcId=vpc)[
        "GroupId"
    ]

    params = {
        "/ass-staging/db/host": ("String", "db.staging.internal"),
        "/ass-staging/db/password": ("SecureString", "s3cr3t-staging-password"),
        "/ass-staging/db/username": ("String", "ass"),
        "/ass-staging/rails-master-key": ("SecureString", "0123456789abcdef0123456789abcdef"),
        "/ass-staging/db/endpoint": ("String", "db.staging.internal:5432"),
        "/ass-staging/db/name": ("String", str(db_path)),
    }
    for name, (kind, value) in params.items():
        ssm.put_parameter(Name=name, Type=kind, Value=value, Overwrite=True)

    rds_secret = sm.create_secret(
        Name=RDS_SECRET,
        SecretString=json.dumps({"username": "ass", "password": "rds-managed-staging-password"}),
    )["ARN"]

    # The nginx sidecar's :stg tag exists in ECR, so `render --pin-images` can resolve it.
    ecr = client("ecr", endpoint, region)
    ecr.create_repository(repositoryName="nginx")
    nginx_manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": "sha256:" + "c" * 64},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3623807, "digest": "sha256:" + "d" * 64}],
    })
    nginx_digest = ecr.put_image(repositoryName="nginx", imageManifest=nginx_manifest,
                                 imageTag="stg")["image"]["imageId"]["imageDigest"]

    logs.create_log_group(logGroupName="/ecs/ass-staging")
    ecs.create_cluster(clusterName=CLUSTER)
    td_input = task_definition_input(taskdef, region)
    for container in td_input["containerDefinitions"]:
        if container["name"] == "rails":
            container.setdefault("secrets", []).append(
                {"name": "RDS_DB_PASSWORD", "valueFrom": f"{rds_secret}:password::"}
            )
    td = ecs.register_task_definition(**td_input)["taskDefinition"]
    td_arn = td["taskDefinitionArn"]

    network = {
        "awsvpcConfiguration": {
            "subnets": [subnets["private-a"], subnets["private-c"]],
            "securityGroups": [sg],
            "assignPublicIp": "DISABLED",
        }
    }
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=td_arn,
        desiredCount=1,
        launchType="FARGATE",
        platformVersion="1.4.0",
        networkConfiguration=network,
    )
    target_group = (
        f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:targetgroup/ass-staging-blue/0123456789abcdef"
    )
    lb = [{"targetGroupArn": target_group, "containerName": "nginx", "containerPort": 80}]
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE_BG,
        taskDefinition=td_arn,
        desiredCount=1,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        networkConfiguration=network,
        loadBalancers=lb,
    )
    # ECS native blue/green: the ECS controller, BLUE_GREEN strategy and a PAUSE hook before the
    # green tasks start (PRE_SCALE_UP), where `ecs-migrate gate` runs the migration.
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE_NATIVE,
        taskDefinition=td_arn,
        desiredCount=1,
        launchType="FARGATE",
        platformVersion="1.4.0",
        networkConfiguration=network,
        deploymentController={"type": "ECS"},
        deploymentConfiguration={
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 0,
            "lifecycleHooks": [{
                "targetType": "PAUSE",
                "lifecycleStages": ["PRE_SCALE_UP"],
                "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"},
            }],
        },
        loadBalancers=lb,
    )
    bg_network = {
        "awsvpcConfiguration": {
            "subnets": [subnets["bg-a"], subnets["bg-c"]],
            "securityGroups": [sg_bg],
            "assignPublicIp": "DISABLED",
        }
    }
    task_set = ecs.create_task_set(
        cluster=CLUSTER,
        service=SERVICE_BG,
        taskDefinition=td_arn,
        networkConfiguration=bg_network,
        loadBalancers=lb,
        launchType="FARGATE",
        platformVersion="1.4.0",
    )["taskSet"]["taskSetArn"]
    ecs.update_service_primary_task_set(cluster=CLUSTER, service=SERVICE_BG, primaryTaskSet=task_set)

    return {
        "endpoint": endpoint,
        "region": region,
        "account": ACCOUNT,
        "cluster": CLUSTER,
        "service": SERVICE,
        "service_bg": SERVICE_BG,
        "service_native": SERVICE_NATIVE,
        "task_definition_arn": td_arn,
        "family": td["family"],
        "vpc": vpc,
        "subnets": subnets,
        "security_group": sg,
        "security_group_bg": sg_bg,
        "log_group": "/ecs/ass-staging",
        "rds_secret_arn": rds_secret,
        "nginx_digest": nginx_digest,
        "db_path": str(db_path),
        "image": image("rails", region, "v2"),
        "image_broken": image("rails-broken", region, "v3"),
        "image_next": image("rails-next", region, "v4"),
        "image_missing": image("rails-does-not-exist", region, "v2"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Load the seed's world into a running emulator.")
    parser.add_argument("endpoint", nargs="?", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--taskdef", type=Path, default=REPO / "tests/fixtures/taskdef-staging.json")
    args = parser.parse_args()
    if not args.endpoint:
        parser.error("give the emulator endpoint (or set AWS_ENDPOINT_URL)")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ecs-migrate-world-"))
    print(json.dumps(seed(args.endpoint, data_dir, args.taskdef, args.region), indent=2))


if __name__ == "__main__":
    main()
