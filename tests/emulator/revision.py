"""What CodePipeline's ECS deploy action does, for tests and the demo: register a new revision of
a task definition with other images (and, for tests, one secret replaced), and optionally deploy
it with UpdateService.

Usage: python revision.py ENDPOINT --region R --task-definition ARN --image rails=URI
           [--secret rails:NAME=VALUE_FROM] [--deploy CLUSTER/SERVICE]
Prints the new task definition's ARN.
"""

from __future__ import annotations

import argparse
from typing import Any

from seed import DESCRIBE_ONLY, client


def register(ecs: Any, task_definition: str, images: dict[str, str],
             secret: tuple[str, str, str] | None = None) -> str:
    """`images`: container → image; `secret`: (container, name, valueFrom) replacing that name."""
    td = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    td = {k: v for k, v in td.items() if k not in DESCRIBE_ONLY}
    for c in td["containerDefinitions"]:
        c["image"] = images.get(c["name"], c["image"])
        if secret and c["name"] == secret[0]:
            c["secrets"] = [s for s in c.get("secrets", []) if s["name"] != secret[1]]
            c["secrets"].append({"name": secret[1], "valueFrom": secret[2]})
    return ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]


def deploy(ecs: Any, cluster: str, service: str, task_definition: str,
           images: dict[str, str]) -> str:
    arn = register(ecs, task_definition, images)
    ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
    return arn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint")
    parser.add_argument("--region", required=True)
    parser.add_argument("--task-definition", required=True)
    parser.add_argument("--image", action="append", default=[], help="CONTAINER=URI")
    parser.add_argument("--secret", help="CONTAINER:NAME=VALUE_FROM")
    parser.add_argument("--deploy", help="CLUSTER/SERVICE")
    args = parser.parse_args()
    ecs = client("ecs", args.endpoint, args.region)
    images = dict(i.split("=", 1) for i in args.image)
    secret = None
    if args.secret:
        container, rest = args.secret.split(":", 1)
        name, value_from = rest.split("=", 1)
        secret = (container, name, value_from)
    arn = register(ecs, args.task_definition, images, secret)
    if args.deploy:
        cluster, service = args.deploy.split("/", 1)
        ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
    print(arn)


if __name__ == "__main__":
    main()
