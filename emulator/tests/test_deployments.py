"""The emulator's native blue/green deployment APIs answer in the shapes of botocore's ECS model
(moto has none of them, so deployments.py is ours): every key a member of the output shape,
every enum value one the model lists, timestamps as numbers."""

import json
import time

import botocore.session

from revision import deploy

MODEL = botocore.session.get_session().get_service_model("ecs")


def conforms(value, shape, path="$"):
    kind = shape.type_name
    if shape.metadata.get("document"):
        return  # any JSON (hookDetails)
    if kind == "structure":
        assert isinstance(value, dict), path
        for key, v in value.items():
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            conforms(v, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, v in enumerate(value):
            conforms(v, shape.member, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), path
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path} = {value!r} not in {shape.enum}"
    elif kind == "timestamp":
        assert isinstance(value, (int, float)), f"{path} is not epoch seconds"
    elif kind in ("integer", "long"):
        assert isinstance(value, int), path
    elif kind in ("double", "float"):
        assert isinstance(value, (int, float)), path
    elif kind == "boolean":
        assert isinstance(value, bool), path


def test_deployment_answers_match_botocores_model(world):
    ecs = world.client("ecs")
    raw = {}

    def capture(http_response, model, **_):
        raw[model.name] = json.loads(http_response.content or b"{}")

    ecs.meta.events.register("after-call.ecs.*", capture)
    deploy(ecs, world["cluster"], world["service_native"], world["task_definition_arn"],
           {"rails": world["image"]})
    for _ in range(50):
        listed = ecs.list_service_deployments(cluster=world["cluster"], service=world["service_native"],
                                              status=["IN_PROGRESS"])["serviceDeployments"]
        d = ecs.describe_service_deployments(
            serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]])["serviceDeployments"][0] if listed else {}
        if d.get("lifecycleHookDetails"):
            break
        time.sleep(0.2)
    assert d["lifecycleStage"] == "PRE_SCALE_UP" and d["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"
    ecs.describe_service_revisions(serviceRevisionArns=[d["targetServiceRevision"]["arn"]])
    ecs.continue_service_deployment(serviceDeploymentArn=d["serviceDeploymentArn"],
                                    hookId=d["lifecycleHookDetails"][0]["hookId"], action="CONTINUE")
    ecs.describe_services(cluster=world["cluster"], services=[world["service_native"]])
    for op in ["ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
               "ContinueServiceDeployment", "UpdateService", "DescribeServices"]:
        assert op in raw, op
        conforms(raw[op], MODEL.operation_model(op).output_shape, op)
    # the answer to a hook that is no longer awaiting is an error ECS's model names
    try:
        ecs.continue_service_deployment(serviceDeploymentArn=d["serviceDeploymentArn"],
                                        hookId=d["lifecycleHookDetails"][0]["hookId"], action="CONTINUE")
        raise AssertionError("a second answer was accepted")
    except ecs.exceptions.InvalidParameterException:
        pass
