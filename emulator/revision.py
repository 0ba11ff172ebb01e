"""What CodePipeline's ECS deploy action does, for tests and the demo: register a new revision of
a task definition with other images (and, for tests, one secret replaced), and optionally deploy
it with UpdateService.

Usage: python revision.py ENDPOINT --region R --task-definition ARN --image rails=URI
           [--secret rails:NAME=VALUE_FROM] [--deploy CLUSTER/SERVICE]
           [--add-container JSON] [--depends-on rails:pgbouncer:HEALTHY] [--env rails:K=V]
Prints the new task definition's ARN.
"""

from __future__ import annotations

import argparse
from typing import Any

from seed import DESCRIBE_ONLY, client


def register(ecs: Any, task_definition: str, images: dict[str, str],
             secret: tuple[str, str, str] | None = None, added: list[dict[str, Any]] | None = None,
             depends: list[tuple[str, str, str]] | None = None,
             env: list[tuple[str, str, str]] | None = None) -> str:
    """`images`: container → image; `secret`: (container, name, valueFrom) replacing that name;
    `added`: more container definitions; `depends`: (container, dependency, condition);
    `env`: (container, name, value)."""
    td = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    td = {k: v for k, v in td.items() if k not in DESCRIBE_ONLY}
    td["containerDefinitions"].extend(added or [])
    for c in td["containerDefinitions"]:
        c["image"] = images.get(c["name"], c["image"])
        if secret and c["name"] == secret[0]:
            c["secrets"] = [s for s in c.get("secrets", []) if s["name"] != secret[1]]
            c["secrets"].append({"name": secret[1], "valueFrom": secret[2]})
        for container, dep, condition in depends or []:
            if c["name"] == container:
                c.setdefault("dependsOn", []).append({"containerName": dep, "condition": condition})
        for container, name, value in env or []:
            if c["name"] == container:
                c.setdefault("environment", []).append({"name": name, "value": value})
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
    parser.add_argument("--add-container", action="append", default=[], help="a container definition (JSON)")
    parser.add_argument("--depends-on", action="append", default=[], help="CONTAINER:DEPENDENCY:CONDITION")
    parser.add_argument("--env", action="append", default=[], help="CONTAINER:NAME=VALUE")
    args = parser.parse_args()
    ecs = client("ecs", args.endpoint, args.region)
    images = dict(i.split("=", 1) for i in args.image)
    secret = None
    if args.secret:
        container, rest = args.secret.split(":", 1)
        name, value_from = rest.split("=", 1)
        secret = (container, name, value_from)
    import json
    added = [json.loads(c) for c in args.add_container]
    depends = [tuple(d.split(":", 2)) for d in args.depends_on]
    env = []
    for e in args.env:
        container, rest = e.split(":", 1)
        name, value = rest.split("=", 1)
        env.append((container, name, value))
    arn = register(ecs, args.task_definition, images, secret, added, depends, env)
    if args.deploy:
        cluster, service = args.deploy.split("/", 1)
        ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
    print(arn)


if __name__ == "__main__":
    main()
