"""The CloudFormation templates (the two pipelines and the Lambda hook), checked against the
APIs' own models.

cfn-lint checks a template against CloudFormation's resource schemas, which leave out most of
what the services themselves refuse (DisableStageTransition's `reason` pattern, for one), and the
emulator never creates these stacks. So this test does what CloudFormation does: it maps every
resource onto the API requests CloudFormation makes for it (CreatePipeline and one
DisableStageTransition per disabled transition, CreateProject, PutRule/PutTargets,
CreateLogGroup/PutRetentionPolicy, CreateRole/PutRolePolicy, CreateBucket/PutBucket*,
CreateFunction/PutFunctionConcurrency), resolves
the intrinsics with sample parameter values, and checks every value against botocore's service
model: required members, unknown members, enums, patterns, lengths, ranges. On top of the
model: the CodePipeline action configurations (whose values flow into other services' requests),
the IAM policy documents' structure (every action an operation of its service, every resource ARN
well formed), and the documented rules the models do not carry (S3 bucket names, log retention
values, IAM size quotas). Each such rule names its source.

Then checkov on the templates (its own virtualenv, .venv-checkov: scripts/setup-venv): clean,
or every skip justified inline in the template.
"""

import fnmatch
import itertools
import json
import os
import subprocess
import warnings
from pathlib import Path

import botocore.session
import pytest
import regex  # Java-style patterns (\p{L}) as the services read them; a cfn-lint dependency, pinned
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "docs/pipeline/pipeline.yml", ROOT / "docs/pipeline/pipeline-native.yml",
             ROOT / "docs/pipeline/hook.yml"]
SESSION = botocore.session.get_session()

# The sample account the templates are resolved in: pseudo parameters, and realistic values for
# the parameters that have no Default (a parameter with neither fails the test).
PSEUDO = {
    "AWS::Region": "ap-northeast-1",
    "AWS::AccountId": "730335441282",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "ass-staging-release-pipeline",
    "AWS::StackId": "arn:aws:cloudformation:ap-northeast-1:730335441282:stack/"
                    "ass-staging-release-pipeline/6f0e2a51-2f7c-4c0e-8f43-1f3b9a2d7c55",
}
PARAMETER_SAMPLES = {
    "TaskRoleArn": "arn:aws:iam::730335441282:role/ass-ecs-task",
    "ExecutionRoleArn": "arn:aws:iam::730335441282:role/ass-ecs-task-execution",
    "GateImage": "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ecs-migrate-build@sha256:"
                 "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "CodeDeployApplication": "AppECS-ass-staging-ass-staging",
    "CodeDeployDeploymentGroup": "DgpECS-ass-staging-ass-staging",
    "CodeS3Bucket": "ass-release-artifacts-ap-northeast-1",
}
# CloudFormation names a resource that has no name property `<stack>-<logical id>-<13 random>`,
# cut to the API's maximum (lower case for buckets); CodeBuild projects `<logical id>-<12 random>`.
RANDOM = "1QF3V7Z0K2M9X"
NAME_RULES = {  # type: (max length, lower case, with the stack name)
    "AWS::S3::Bucket": (63, True, True),
    "AWS::IAM::Role": (64, False, True),
    "AWS::Events::Rule": (64, False, True),
    "AWS::Logs::LogGroup": (512, False, True),
    "AWS::CodePipeline::Pipeline": (100, False, True),
    "AWS::CodeBuild::Project": (150, False, False),
    "AWS::Lambda::Function": (64, False, True),
}


# ---------------------------------------------------------------------------------------------
# Loading and resolving


class CfnLoader(yaml.SafeLoader):
    """CloudFormation short forms: `!Ref X` -> {"Ref": "X"}, `!Sub s` -> {"Fn::Sub": s}."""


def _cfn_tag(loader, suffix, node):
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=CfnLoader)


class NoValue:
    """AWS::NoValue: the property is removed."""


class Unresolved:
    """A value this test cannot work out; skipped (and counted, and printed), never guessed."""

    def __init__(self, why: str):
        self.why = why


INTRINSICS = {"Ref", "Condition", "Fn::Sub", "Fn::GetAtt", "Fn::Join", "Fn::If", "Fn::Select",
              "Fn::Split", "Fn::FindInMap", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or",
              "Fn::Base64", "Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Length",
              "Fn::ToJsonString", "Fn::Transform"}


class Stack:
    """One template with one set of parameter values, resolved the way CloudFormation would."""

    def __init__(self, template: dict, params: dict):
        self.t = template
        self.params = params
        self._names: dict = {}

    def name(self, logical: str):
        """A resource's physical name: its name property resolved, or the one CloudFormation makes."""
        if logical not in self._names:
            self._names[logical] = self._physical_name(logical, self.t["Resources"][logical])
        return self._names[logical]

    def _physical_name(self, logical: str, resource: dict):
        rtype = resource["Type"]
        props = resource.get("Properties", {})
        explicit = {"AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName",
                    "AWS::Events::Rule": "Name", "AWS::Logs::LogGroup": "LogGroupName",
                    "AWS::CodePipeline::Pipeline": "Name", "AWS::CodeBuild::Project": "Name",
                    "AWS::Lambda::Function": "FunctionName"}
        if explicit.get(rtype) in props:
            return self.resolve(props[explicit[rtype]])
        if rtype not in NAME_RULES:
            return Unresolved(f"the physical name of a {rtype}")
        limit, lower, with_stack = NAME_RULES[rtype]
        suffix = RANDOM if with_stack else RANDOM[:12]
        head = f"{PSEUDO['AWS::StackName']}-{logical}" if with_stack else logical
        name = f"{head[: limit - len(suffix) - 1]}-{suffix}"
        return name.lower() if lower else name

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.t["Conditions"][name]))

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return NoValue
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if name in self.t["Resources"]:
            return self.name(name)    # every resource type here: Ref is its name
        raise KeyError(f"Ref to an unknown name {name}")

    def get_att(self, logical: str, attr: str):
        rtype = self.t["Resources"][logical]["Type"]
        name = self.name(logical)
        if isinstance(name, Unresolved):
            return name
        p, r, a = PSEUDO["AWS::Partition"], PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        arns = {  # the Arn attribute as each resource type's CloudFormation docs give it
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::CodeBuild::Project": f"arn:{p}:codebuild:{r}:{a}:project/{name}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
        }
        if attr == "Arn" and rtype in arns:
            return arns[rtype]
        return Unresolved(f"!GetAtt {logical}.{attr}")

    def sub(self, text: str, extra: dict):
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            var = text[start + 2:end]
            i = end + 1
            if var.startswith("!"):
                out.append("${" + var[1:] + "}")
                continue
            if var in extra:
                value = self.resolve(extra[var])
            elif "." in var and var.split(".")[0] in self.t["Resources"]:
                value = self.get_att(*var.split(".", 1))
            else:
                value = self.ref(var)
            if isinstance(value, Unresolved):
                return value
            out.append(str(value))
        return "".join(out)

    def resolve(self, v):
        if isinstance(v, list):
            items = [self.resolve(x) for x in v]
            return [x for x in items if x is not NoValue]
        if not isinstance(v, dict):
            return v
        if len(v) == 1 and next(iter(v)) in INTRINSICS:
            fn, arg = next(iter(v.items()))
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else arg
                return self.sub(text, extra)
            if fn == "Fn::GetAtt":
                logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(logical, attr)
            if fn == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.resolve(arg[0])
            if fn == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if fn == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if fn == "Fn::Join":
                sep, items = arg[0], self.resolve(arg[1])
                bad = [x for x in items if isinstance(x, Unresolved)]
                return bad[0] if bad else sep.join(str(x) for x in items)
            if fn == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if fn == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if fn == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(x) for x in arg)
                return self.t["Mappings"][m][k1][k2]
            return Unresolved(f"{fn} {arg!r}")
        out = {}
        for k, x in v.items():
            x = self.resolve(x)
            if x is not NoValue:
                out[k] = x
        return out


def parameter_sets(template: dict):
    """Every combination of the parameters with AllowedValues; Defaults and samples otherwise."""
    base, choices = {}, {}
    for name, p in template.get("Parameters", {}).items():
        if "AllowedValues" in p:
            choices[name] = p["AllowedValues"]
        elif "Default" in p:
            base[name] = p["Default"]
        else:
            assert name in PARAMETER_SAMPLES, f"parameter {name} has no Default and no sample value"
            base[name] = PARAMETER_SAMPLES[name]
    for combo in itertools.product(*choices.values()) if choices else [()]:
        yield {**base, **dict(zip(choices, combo))}


# ---------------------------------------------------------------------------------------------
# CloudFormation properties -> API requests. A table maps a property to an API member; a tuple
# (member, table) maps a nested structure (or each item of a list of them) through `table`;
# (member, JSON) sends the value as a JSON string, as CloudFormation does for policy documents
# and event patterns. A name mapped to a plain string is passed on as it is (scalars, lists of
# scalars, and free-form maps such as an action's Configuration). A key missing from its table
# fails the test: a property nobody mapped is a property nobody checked.

JSON = "json"
INC_EXC = {"Includes": "includes", "Excludes": "excludes"}
TYPE_ID = {"Category": "category", "Owner": "owner", "Provider": "provider", "Version": "version"}
RULE = {"Name": "name", "RuleTypeId": ("ruleTypeId", TYPE_ID), "Configuration": "configuration",
        "InputArtifacts": ("inputArtifacts", {"Name": "name"}), "RoleArn": "roleArn",
        "Region": "region", "Commands": "commands"}
CONDITIONS = {"Result": "result", "Rules": ("rules", RULE)}
ACTION = {
    "Name": "name", "ActionTypeId": ("actionTypeId", TYPE_ID), "Configuration": "configuration",
    "InputArtifacts": ("inputArtifacts", {"Name": "name"}),
    "OutputArtifacts": ("outputArtifacts", {"Name": "name", "Files": "files"}),
    "Namespace": "namespace", "Region": "region", "RoleArn": "roleArn", "RunOrder": "runOrder",
    "TimeoutInMinutes": "timeoutInMinutes", "Commands": "commands",
    "OutputVariables": "outputVariables",
    "EnvironmentVariables": ("environmentVariables", {"Name": "name", "Value": "value", "Type": "type"}),
}
STAGE = {
    "Name": "name", "Actions": ("actions", ACTION),
    "Blockers": ("blockers", {"Name": "name", "Type": "type"}),
    "OnFailure": ("onFailure", {"Result": "result", "Conditions": ("conditions", CONDITIONS),
                                "RetryConfiguration": ("retryConfiguration", {"RetryMode": "retryMode"})}),
    "OnSuccess": ("onSuccess", {"Conditions": ("conditions", CONDITIONS)}),
    "BeforeEntry": ("beforeEntry", {"Conditions": ("conditions", CONDITIONS)}),
}
GIT_FILTERS = {"Branches": ("branches", INC_EXC), "FilePaths": ("filePaths", INC_EXC)}
TRIGGER = {"ProviderType": "providerType", "GitConfiguration": ("gitConfiguration", {
    "SourceActionName": "sourceActionName",
    "Push": ("push", {"Tags": ("tags", INC_EXC), **GIT_FILTERS}),
    "PullRequest": ("pullRequest", {"Events": "events", **GIT_FILTERS}),
})}
CB_SOURCE = {
    "Type": "type", "Location": "location", "BuildSpec": "buildspec", "GitCloneDepth": "gitCloneDepth",
    "GitSubmodulesConfig": ("gitSubmodulesConfig", {"FetchSubmodules": "fetchSubmodules"}),
    "Auth": ("auth", {"Type": "type", "Resource": "resource"}), "ReportBuildStatus": "reportBuildStatus",
    "BuildStatusConfig": ("buildStatusConfig", {"Context": "context", "TargetUrl": "targetUrl"}),
    "InsecureSsl": "insecureSsl", "SourceIdentifier": "sourceIdentifier",
}
CB_ARTIFACTS = {
    "Type": "type", "Location": "location", "Path": "path", "NamespaceType": "namespaceType",
    "Name": "name", "Packaging": "packaging", "OverrideArtifactName": "overrideArtifactName",
    "EncryptionDisabled": "encryptionDisabled", "ArtifactIdentifier": "artifactIdentifier",
}
TAGS = {"Key": "Key", "Value": "Value"}


class Each:
    """A list property of which each item becomes a request of its own."""

    def __init__(self, op: str, table: dict, fixed: dict | None = None):
        self.op, self.table, self.fixed = op, table, fixed or {}


class CfnOnly:
    """A property CloudFormation acts on itself, with no API member; says why."""

    def __init__(self, why: str):
        self.why = why


# Per resource type: (service, the operations always called with the name members they get,
# property -> (operation, member path[, table]) | Each | CfnOnly).
RESOURCE_TYPES = {
    "AWS::CodePipeline::Pipeline": ("codepipeline", {"CreatePipeline": {"pipeline.name": "NAME"}}, {
        "Name": ("CreatePipeline", "pipeline.name"),
        "RoleArn": ("CreatePipeline", "pipeline.roleArn"),
        "ArtifactStore": ("CreatePipeline", "pipeline.artifactStore", {
            "Type": "type", "Location": "location",
            "EncryptionKey": ("encryptionKey", {"Id": "id", "Type": "type"})}),
        "Stages": ("CreatePipeline", "pipeline.stages", STAGE),
        "ExecutionMode": ("CreatePipeline", "pipeline.executionMode"),
        "PipelineType": ("CreatePipeline", "pipeline.pipelineType"),
        "Variables": ("CreatePipeline", "pipeline.variables",
                      {"Name": "name", "DefaultValue": "defaultValue", "Description": "description"}),
        "Triggers": ("CreatePipeline", "pipeline.triggers", TRIGGER),
        "Tags": ("CreatePipeline", "tags", {"Key": "key", "Value": "value"}),
        "DisableInboundStageTransitions": Each(
            "DisableStageTransition", {"StageName": "stageName", "Reason": "reason"},
            {"pipelineName": "NAME", "transitionType": "Inbound"}),
        "RestartExecutionOnUpdate": CfnOnly("CloudFormation starts an execution after its own update"),
    }),
    "AWS::CodeBuild::Project": ("codebuild", {"CreateProject": {"name": "NAME"}}, {
        "Name": ("CreateProject", "name"),
        "Description": ("CreateProject", "description"),
        "Source": ("CreateProject", "source", CB_SOURCE),
        "SecondarySources": ("CreateProject", "secondarySources", CB_SOURCE),
        "SourceVersion": ("CreateProject", "sourceVersion"),
        "Artifacts": ("CreateProject", "artifacts", CB_ARTIFACTS),
        "SecondaryArtifacts": ("CreateProject", "secondaryArtifacts", CB_ARTIFACTS),
        "Cache": ("CreateProject", "cache", {"Type": "type", "Location": "location", "Modes": "modes"}),
        "Environment": ("CreateProject", "environment", {
            "Type": "type", "Image": "image", "ComputeType": "computeType",
            "EnvironmentVariables": ("environmentVariables", {"Name": "name", "Value": "value", "Type": "type"}),
            "PrivilegedMode": "privilegedMode", "Certificate": "certificate",
            "ImagePullCredentialsType": "imagePullCredentialsType",
            "RegistryCredential": ("registryCredential",
                                   {"Credential": "credential", "CredentialProvider": "credentialProvider"}),
            "Fleet": ("fleet", {"FleetArn": "fleetArn"})}),
        "ServiceRole": ("CreateProject", "serviceRole"),
        "TimeoutInMinutes": ("CreateProject", "timeoutInMinutes"),
        "QueuedTimeoutInMinutes": ("CreateProject", "queuedTimeoutInMinutes"),
        "EncryptionKey": ("CreateProject", "encryptionKey"),
        "Tags": ("CreateProject", "tags", {"Key": "key", "Value": "value"}),
        "VpcConfig": ("CreateProject", "vpcConfig",
                      {"VpcId": "vpcId", "Subnets": "subnets", "SecurityGroupIds": "securityGroupIds"}),
        "BadgeEnabled": ("CreateProject", "badgeEnabled"),
        "LogsConfig": ("CreateProject", "logsConfig", {
            "CloudWatchLogs": ("cloudWatchLogs", {"Status": "status", "GroupName": "groupName",
                                                  "StreamName": "streamName"}),
            "S3Logs": ("s3Logs", {"Status": "status", "Location": "location",
                                  "EncryptionDisabled": "encryptionDisabled"})}),
        "ConcurrentBuildLimit": ("CreateProject", "concurrentBuildLimit"),
        "AutoRetryLimit": ("CreateProject", "autoRetryLimit"),
    }),
    "AWS::Events::Rule": ("events", {"PutRule": {"Name": "NAME"}}, {
        "Name": ("PutRule", "Name"),
        "Description": ("PutRule", "Description"),
        "EventPattern": ("PutRule", "EventPattern", JSON),
        "ScheduleExpression": ("PutRule", "ScheduleExpression"),
        "State": ("PutRule", "State"),
        "RoleArn": ("PutRule", "RoleArn"),
        "EventBusName": ("PutRule", "EventBusName"),
        "Targets": ("PutTargets", "Targets", {
            "Id": "Id", "Arn": "Arn", "RoleArn": "RoleArn", "Input": "Input", "InputPath": "InputPath",
            "InputTransformer": ("InputTransformer", {"InputPathsMap": "InputPathsMap",
                                                      "InputTemplate": "InputTemplate"}),
            "RetryPolicy": ("RetryPolicy", {"MaximumRetryAttempts": "MaximumRetryAttempts",
                                            "MaximumEventAgeInSeconds": "MaximumEventAgeInSeconds"}),
            "DeadLetterConfig": ("DeadLetterConfig", {"Arn": "Arn"})}),
    }),
    "AWS::Logs::LogGroup": ("logs", {"CreateLogGroup": {"logGroupName": "NAME"}}, {
        "LogGroupName": ("CreateLogGroup", "logGroupName"),
        "KmsKeyId": ("CreateLogGroup", "kmsKeyId"),
        "LogGroupClass": ("CreateLogGroup", "logGroupClass"),
        "DeletionProtectionEnabled": ("CreateLogGroup", "deletionProtectionEnabled"),
        "RetentionInDays": ("PutRetentionPolicy", "retentionInDays"),
    }),
    "AWS::IAM::Role": ("iam", {"CreateRole": {"RoleName": "NAME"}}, {
        "RoleName": ("CreateRole", "RoleName"),
        "Path": ("CreateRole", "Path"),
        "Description": ("CreateRole", "Description"),
        "MaxSessionDuration": ("CreateRole", "MaxSessionDuration"),
        "PermissionsBoundary": ("CreateRole", "PermissionsBoundary"),
        "AssumeRolePolicyDocument": ("CreateRole", "AssumeRolePolicyDocument", JSON),
        "Tags": ("CreateRole", "Tags", TAGS),
        "Policies": Each("PutRolePolicy", {"PolicyName": "PolicyName",
                                           "PolicyDocument": ("PolicyDocument", JSON)},
                         {"RoleName": "NAME"}),
        "ManagedPolicyArns": Each("AttachRolePolicy", {}, {"RoleName": "NAME"}),  # items: PolicyArn
    }),
    "AWS::Lambda::Function": ("lambda", {"CreateFunction": {"FunctionName": "NAME"}}, {
        "FunctionName": ("CreateFunction", "FunctionName"),
        "Description": ("CreateFunction", "Description"),
        "Runtime": ("CreateFunction", "Runtime"),
        "Handler": ("CreateFunction", "Handler"),
        "Architectures": ("CreateFunction", "Architectures"),
        "PackageType": ("CreateFunction", "PackageType"),
        "Code": ("CreateFunction", "Code", {"S3Bucket": "S3Bucket", "S3Key": "S3Key",
                                            "S3ObjectVersion": "S3ObjectVersion", "ImageUri": "ImageUri"}),
        "Role": ("CreateFunction", "Role"),
        "Timeout": ("CreateFunction", "Timeout"),
        "MemorySize": ("CreateFunction", "MemorySize"),
        "EphemeralStorage": ("CreateFunction", "EphemeralStorage", {"Size": "Size"}),
        "Environment": ("CreateFunction", "Environment", {"Variables": "Variables"}),
        "KmsKeyArn": ("CreateFunction", "KMSKeyArn"),
        "TracingConfig": ("CreateFunction", "TracingConfig", {"Mode": "Mode"}),
        "LoggingConfig": ("CreateFunction", "LoggingConfig", {
            "LogFormat": "LogFormat", "ApplicationLogLevel": "ApplicationLogLevel",
            "SystemLogLevel": "SystemLogLevel", "LogGroup": "LogGroup"}),
        "DeadLetterConfig": ("CreateFunction", "DeadLetterConfig", {"TargetArn": "TargetArn"}),
        "VpcConfig": ("CreateFunction", "VpcConfig", {"SubnetIds": "SubnetIds",
                                                      "SecurityGroupIds": "SecurityGroupIds"}),
        "Layers": ("CreateFunction", "Layers"),
        "ReservedConcurrentExecutions": ("PutFunctionConcurrency", "ReservedConcurrentExecutions"),
    }),
    "AWS::S3::Bucket": ("s3", {"CreateBucket": {"Bucket": "NAME"}}, {
        "BucketName": ("CreateBucket", "Bucket"),
        "VersioningConfiguration": ("PutBucketVersioning", "VersioningConfiguration", {"Status": "Status"}),
        "BucketEncryption": ("PutBucketEncryption", "ServerSideEncryptionConfiguration", {
            "ServerSideEncryptionConfiguration": ("Rules", {
                "ServerSideEncryptionByDefault": ("ApplyServerSideEncryptionByDefault", {
                    "SSEAlgorithm": "SSEAlgorithm", "KMSMasterKeyID": "KMSMasterKeyID"}),
                "BucketKeyEnabled": "BucketKeyEnabled"})}),
        "PublicAccessBlockConfiguration": ("PutPublicAccessBlock", "PublicAccessBlockConfiguration", {
            "BlockPublicAcls": "BlockPublicAcls", "BlockPublicPolicy": "BlockPublicPolicy",
            "IgnorePublicAcls": "IgnorePublicAcls", "RestrictPublicBuckets": "RestrictPublicBuckets"}),
        "OwnershipControls": ("PutBucketOwnershipControls", "OwnershipControls",
                              {"Rules": ("Rules", {"ObjectOwnership": "ObjectOwnership"})}),
        "Tags": ("PutBucketTagging", "Tagging.TagSet", TAGS),
    }),
}
# Operations that name the resource besides the one that creates it.
NAME_MEMBER = {"PutRetentionPolicy": "logGroupName", "PutTargets": "Rule",
               "PutBucketVersioning": "Bucket", "PutBucketEncryption": "Bucket",
               "PutPublicAccessBlock": "Bucket", "PutBucketOwnershipControls": "Bucket",
               "PutBucketTagging": "Bucket", "PutFunctionConcurrency": "FunctionName"}
# Resource attributes that are not properties (not sent to any API).
RESOURCE_KEYS = {"Type", "Properties", "DeletionPolicy", "UpdateReplacePolicy", "DependsOn",
                 "Condition", "Metadata", "CreationPolicy", "UpdatePolicy"}


class Request:
    def __init__(self, service: str, op: str, where: str):
        self.service, self.op, self.where, self.params = service, op, where, {}

    def put(self, path: str, value):
        node = self.params
        *parents, last = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value


class Report:
    def __init__(self):
        self.findings: list[str] = []
        self.skipped: list[str] = []
        self.checked = 0

    def find(self, where: str, what: str):
        self.findings.append(f"{where}: {what}")


def translate(value, table, where: str, report: Report):
    if isinstance(value, Unresolved):
        return value
    if table == JSON:
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, list):
        return [translate(x, table, f"{where}[{i}]", report) for i, x in enumerate(value)]
    if not isinstance(value, dict):
        report.find(where, f"expected a structure, got {value!r}")
        return value
    out = {}
    for key, x in value.items():
        if key not in table:
            report.find(where, f"property {key} is not mapped onto the API (add it to the table)")
            continue
        spec = table[key]
        if isinstance(spec, str):
            out[spec] = x
        else:
            member, sub = spec
            out[member] = translate(x, sub, f"{where}.{key}", report)
    return out


def requests_for(stack: Stack, logical: str, resource: dict, where: str, report: Report) -> list[Request]:
    rtype = resource["Type"]
    for key in resource:
        if key not in RESOURCE_KEYS:
            report.find(where, f"unknown resource attribute {key}")
    if rtype not in RESOURCE_TYPES:
        report.find(where, f"resource type {rtype} is not mapped onto its API (add it)")
        return []
    service, always, table = RESOURCE_TYPES[rtype]
    name = stack.name(logical)
    props = stack.resolve(resource.get("Properties", {}))
    reqs: dict[str, Request] = {}

    def req(op: str) -> Request:
        if op not in reqs:
            reqs[op] = Request(service, op, where)
            if op in NAME_MEMBER:
                reqs[op].put(NAME_MEMBER[op], name)
        return reqs[op]

    for op, fixed in always.items():
        for path, value in fixed.items():
            req(op).put(path, name if value == "NAME" else value)
    if rtype == "AWS::S3::Bucket" and PSEUDO["AWS::Region"] != "us-east-1":
        req("CreateBucket").put("CreateBucketConfiguration.LocationConstraint", PSEUDO["AWS::Region"])
    extra: list[Request] = []
    for key, value in props.items():
        spec = table.get(key)
        if spec is None:
            report.find(f"{where}.{key}", "property is not mapped onto the API (add it to the table)")
        elif isinstance(spec, CfnOnly):
            continue
        elif isinstance(spec, Each):
            for i, item in enumerate(value):
                r = Request(service, spec.op, f"{where}.{key}[{i}]")
                for path, fixed in spec.fixed.items():
                    r.put(path, name if fixed == "NAME" else fixed)
                if spec.op == "AttachRolePolicy":
                    r.put("PolicyArn", item)
                else:
                    for member, x in translate(item, spec.table, r.where, report).items():
                        r.put(member, x)
                extra.append(r)
        else:
            op, path, *sub = spec
            req(op).put(path, translate(value, sub[0], f"{where}.{key}", report) if sub else value)
    return [*reqs.values(), *extra]


# ---------------------------------------------------------------------------------------------
# Checking a request against its operation's input shape


def full_match(pattern: str, value: str) -> bool:
    # The services match a member's pattern against the whole value, with Java's regex
    # semantics: \w, \d, \s are ASCII, \p{L} is a Unicode class.
    return regex.fullmatch(pattern, value, flags=regex.ASCII) is not None


def as_scalar(value, type_name: str):
    """CloudFormation converts scalars to the schema's type: 1 -> "1", false -> "false"."""
    if type_name == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if type_name == "string" and isinstance(value, (int, float)):
        return str(value)
    if type_name in ("integer", "long") and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if type_name == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def check_shape(value, shape, where: str, report: Report):
    if isinstance(value, Unresolved):
        report.skipped.append(f"{where}: {value.why}")
        return
    t, meta = shape.type_name, shape.metadata
    value = as_scalar(value, t)
    report.checked += 1
    if t == "structure" and meta.get("document"):
        # a free JSON document (ECS hookDetails): any JSON value the model does not constrain
        return
    if t == "structure":
        if not isinstance(value, dict):
            report.find(where, f"{shape.name} must be a structure, got {value!r}")
            return
        for member in shape.required_members:
            if member not in value:
                report.find(where, f"{shape.name}: required member {member} is missing")
        for member, x in value.items():
            if member not in shape.members:
                report.find(where, f"{shape.name} has no member {member}")
            else:
                check_shape(x, shape.members[member], f"{where}.{member}", report)
        return
    if t == "list":
        if not isinstance(value, list):
            report.find(where, f"{shape.name} must be a list, got {value!r}")
            return
        check_size(len(value), meta, where, shape.name, "items", report)
        for i, x in enumerate(value):
            check_shape(x, shape.member, f"{where}[{i}]", report)
        return
    if t == "map":
        if not isinstance(value, dict):
            report.find(where, f"{shape.name} must be a map, got {value!r}")
            return
        check_size(len(value), meta, where, shape.name, "entries", report)
        for k, x in value.items():
            check_shape(k, shape.key, f"{where} key {k!r}", report)
            check_shape(x, shape.value, f"{where}[{k!r}]", report)
        return
    if t == "string":
        if not isinstance(value, str):
            report.find(where, f"{shape.name} must be a string, got {value!r}")
            return
        enum = getattr(shape, "enum", None) or meta.get("enum")
        if enum and value not in enum:
            report.find(where, f"{value!r} is not one of {shape.name}'s values {enum}")
        check_size(len(value), meta, where, shape.name, "characters", report)
        if "pattern" in meta and not full_match(meta["pattern"], value):
            report.find(where, f"{value!r} does not match {shape.name}'s pattern {meta['pattern']}")
        return
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            report.find(where, f"{shape.name} must be an integer, got {value!r}")
            return
        check_size(value, meta, where, shape.name, "", report, is_value=True)
        return
    if t == "boolean":
        if not isinstance(value, bool):
            report.find(where, f"{shape.name} must be a boolean, got {value!r}")
        return
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            report.find(where, f"{shape.name} must be a number, got {value!r}")
        return
    report.find(where, f"{shape.name}: shape type {t} is not checked here (add it)")


def check_size(n: int, meta: dict, where: str, name: str, unit: str, report: Report, is_value=False):
    what = "" if is_value else f" ({n} {unit})"
    if "min" in meta and n < meta["min"]:
        report.find(where, f"{name}: {n if is_value else 'length'} below the minimum {meta['min']}{what}")
    if "max" in meta and n > meta["max"]:
        report.find(where, f"{name}: {n if is_value else 'length'} above the maximum {meta['max']}{what}")


def shape_named(service: str, name: str):
    return SESSION.get_service_model(service).shape_for(name)


# ---------------------------------------------------------------------------------------------
# Beyond the input shapes: documented rules the models leave out, each with its source.

# CloudWatch Logs PutRetentionPolicy: the values are listed in the model's own documentation of
# the Days shape ("Possible values are: 1, 3, 5, ..."), not as an enum.
def retention_days() -> set[int]:
    doc = shape_named("logs", "Days").documentation
    listed = doc.split("Possible values are:")[1].split(".")[0]
    return {int(x) for x in regex.findall(r"\d+", listed)}


def check_bucket_name(name, where: str, report: Report):
    """Amazon S3 User Guide, "General purpose bucket naming rules" (the s3 model has no pattern)."""
    if isinstance(name, Unresolved):
        report.skipped.append(f"{where}: {name.why}")
        return
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append("3 to 63 characters")
    if not full_match(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        problems.append("lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit")
    if ".." in name or full_match(r"\d+\.\d+\.\d+\.\d+", name):
        problems.append("no two adjacent dots, not an IP address")
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        problems.append("no reserved prefix or suffix")
    for p in problems:
        report.find(where, f"bucket name {name!r}: {p}")


# Each service's resource-ARN grammar (the Service Authorization Reference's resource types);
# a named group is checked against the model shape of that name.
ARN_RESOURCES = {
    "logs": [r"log-group:(?P<LogGroupName>[^:]+)", r"log-group:(?P<LogGroupName>[^:]+):\*",
             r"log-group:(?P<LogGroupName>[^:]+):log-stream:(?P<LogStreamName>[^:]*)"],
    "s3": [r"(?P<bucket>[^/]+)", r"(?P<bucket>[^/]+)/.+"],
    "ecs": [r"cluster/[^/]+", r"service/[^/]+/[^/]+", r"service-deployment/[^/]+/[^/]+/[^/]+",
            r"service-revision/[^/]+/[^/]+/[^/]+", r"task/[^/]+/[^/]+", r"task-definition/[^:/]+(:(\d+|\*))?"],
    "ecr": [r"repository/(?P<RepositoryName>.+)"],
    "codebuild": [r"project/(?P<ProjectName>[^/]+)"],
    "codepipeline": [r"(?P<PipelineName>[^/:]+)(/[^/]+(/[^/]+)?)?"],
    "codedeploy": [r"application:(?P<ApplicationName>[^/:]+)",
                   r"deploymentgroup:(?P<ApplicationName>[^/:]+)/(?P<DeploymentGroupName>[^/:]+)",
                   r"deploymentconfig:(?P<DeploymentConfigName>[^/:]+)"],
    "ssm": [r"parameter/.+"],
    "secretsmanager": [r"secret:.+"],
    "iam": [r"role/(.+/)?(?P<roleNameType>[^/]+)", r"policy/(.+/)?[^/]+"],
    "events": [r"rule/(?P<RuleName>[^/]+)", r"event-bus/.+"],
    "lambda": [r"function:(?P<FunctionName>[^:]+)(:[^:]+)?"],
}
ARN_SHAPES = {"LogGroupName": "logs", "LogStreamName": "logs", "RepositoryName": "ecr",
              "ProjectName": "codebuild", "PipelineName": "codepipeline", "RuleName": "events",
              "ApplicationName": "codedeploy", "DeploymentGroupName": "codedeploy",
              "DeploymentConfigName": "codedeploy", "roleNameType": "iam", "FunctionName": "lambda"}
GLOBAL_SERVICES = {"s3": ("", ""), "iam": ("", "account")}  # (region, account) they carry


def check_arn(arn: str, where: str, report: Report):
    m = regex.fullmatch(r"arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):"
                        r"(?P<account>[^:]*):(?P<resource>.+)", arn)
    if not m:
        report.find(where, f"{arn!r} is not an ARN")
        return
    svc = m["service"]
    if m["partition"] != PSEUDO["AWS::Partition"]:
        report.find(where, f"{arn!r}: partition {m['partition']}")
    region, account = GLOBAL_SERVICES.get(svc, ("region", "account"))
    want_region = PSEUDO["AWS::Region"] if region else ""
    want_account = PSEUDO["AWS::AccountId"] if account else ""
    if m["region"] not in (want_region, "*" if region else ""):
        report.find(where, f"{arn!r}: region {m['region']!r}, expected {want_region!r}")
    if m["account"] not in (want_account, "*" if account else ""):
        report.find(where, f"{arn!r}: account {m['account']!r}, expected {want_account!r}")
    if svc not in ARN_RESOURCES:
        report.find(where, f"{arn!r}: no resource grammar for service {svc} here (add it)")
        return
    for grammar in ARN_RESOURCES[svc]:
        r = regex.fullmatch(grammar, m["resource"])
        if r:
            for group, part in r.groupdict().items():
                if part is None or "*" in part or "?" in part:
                    continue   # a wildcard: the name is a pattern, not a name
                if group == "bucket":
                    check_bucket_name(part, f"{where} ({arn})", report)
                else:
                    check_shape(part, shape_named(ARN_SHAPES[group], group), f"{where} ({arn})", report)
            return
    report.find(where, f"{arn!r}: {svc} resource {m['resource']!r} matches none of {ARN_RESOURCES[svc]}")


def check_arns(value, where: str, report: Report):
    """Every string that is an ARN anywhere in a request (roles, targets, conditions)."""
    if isinstance(value, dict):
        for k, x in value.items():
            check_arns(x, f"{where}.{k}", report)
    elif isinstance(value, list):
        for i, x in enumerate(value):
            check_arns(x, f"{where}[{i}]", report)
    elif isinstance(value, str):
        if value.startswith("arn:"):
            check_arn(value, where, report)
        elif value.startswith(("{", "[")):
            try:
                check_arns(json.loads(value), where, report)
            except ValueError:
                pass


# IAM policy grammar (IAM User Guide, "IAM JSON policy element reference").
STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                  "NotResource", "Condition"}
CONDITION_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null"}
# The IAM prefix of each service whose actions the policies name -> botocore's service name.
IAM_SERVICES = {p: p for p in ("ecs", "ecr", "iam", "logs", "s3", "ssm", "secretsmanager", "sts",
                               "codebuild", "codepipeline", "codedeploy", "events", "lambda")}
# Permissions that are not an operation of the same name, each with the operation it guards.
PERMISSION_ONLY = {
    "s3:GetObjectVersion": "GetObject with a versionId (the S3 source action reads by version)",
    "iam:PassRole": "no API of its own: checked when a role is handed to a service (RunTask, "
                    "RegisterTaskDefinition, CreateDeployment)",
    "lambda:InvokeFunction": "the permission for Invoke (Lambda's API names the operation Invoke)",
}
# IAM quotas (IAM User Guide, "IAM and AWS STS quotas"): characters without whitespace.
TRUST_POLICY_MAX = 2048
INLINE_POLICIES_PER_ROLE_MAX = 10240


def as_list(x):
    return x if isinstance(x, list) else [x]


def check_policy(doc_json: str, where: str, report: Report, trust: bool):
    doc = json.loads(doc_json)
    if doc.get("Version") != "2012-10-17":
        report.find(where, f"policy Version {doc.get('Version')!r}, expected '2012-10-17'")
    unknown = set(doc) - {"Version", "Statement", "Id"}
    if unknown:
        report.find(where, f"policy has unknown keys {sorted(unknown)}")
    statements = as_list(doc.get("Statement", []))
    if not statements:
        report.find(where, "policy has no Statement")
    sids = [s["Sid"] for s in statements if "Sid" in s]
    if len(sids) != len(set(sids)):
        report.find(where, f"duplicate Sids {sids}")
    for i, s in enumerate(statements):
        at = f"{where}.Statement[{i}]"
        report.checked += 1
        if set(s) - STATEMENT_KEYS:
            report.find(at, f"unknown statement keys {sorted(set(s) - STATEMENT_KEYS)}")
        if "Sid" in s and not full_match(r"[A-Za-z0-9]*", s["Sid"]):
            report.find(at, f"Sid {s['Sid']!r}: IAM allows only letters and digits")
        if s.get("Effect") not in ("Allow", "Deny"):
            report.find(at, f"Effect {s.get('Effect')!r}")
        if ("Action" in s) == ("NotAction" in s):
            report.find(at, "exactly one of Action and NotAction")
        if trust:
            if "Principal" not in s or "Resource" in s:
                report.find(at, "a trust policy statement has a Principal and no Resource")
            principal = s.get("Principal", {})
            for kind, values in (principal.items() if isinstance(principal, dict) else []):
                for v in as_list(values):
                    if kind == "Service" and not full_match(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com", v):
                        report.find(at, f"service principal {v!r}")
        elif ("Resource" in s) == ("NotResource" in s) or "Principal" in s:
            report.find(at, "an identity policy statement has exactly one of Resource and NotResource, and no Principal")
        for action in as_list(s.get("Action", s.get("NotAction", []))):
            check_action(action, at, report)
        for cond_op, keys in s.get("Condition", {}).items():
            base = cond_op.split(":")[-1].removesuffix("IfExists")
            if base not in CONDITION_OPERATORS or (":" in cond_op and cond_op.split(":")[0] not in ("ForAllValues", "ForAnyValue")):
                report.find(at, f"condition operator {cond_op!r}")
            for key in keys:
                if not full_match(r"[a-z0-9-]+:[A-Za-z0-9/_.-]+", key):
                    report.find(at, f"condition key {key!r}")


def check_action(action: str, where: str, report: Report):
    if action == "*":
        report.find(where, "Action '*'")
        return
    m = regex.fullmatch(r"(?P<prefix>[a-z0-9-]+):(?P<name>[A-Za-z0-9*?]+)", action)
    if not m:
        report.find(where, f"action {action!r} is not service:Action")
        return
    if action in PERMISSION_ONLY:
        return
    service = IAM_SERVICES.get(m["prefix"])
    if service is None:
        report.find(where, f"action {action!r}: service prefix not known here (add it)")
        return
    operations = SESSION.get_service_model(service).operation_names
    if not any(fnmatch.fnmatchcase(op, m["name"]) for op in operations):
        report.find(where, f"action {action!r} is no operation of {service} in botocore's model")


def non_space_length(doc_json: str) -> int:
    return len("".join(json.dumps(json.loads(doc_json), separators=(",", ":")).split()))


# CodePipeline action configurations. The model types Configuration as a free map
# (keys 1-50, values 1-1000 characters); each value then goes into another service's request.
# Keys, whether required, and where each value goes, from the CodePipeline action reference:
# a (service, shape) the value must satisfy, "artifact" (one of the action's input
# artifacts), "bool", "codebuild-env" (StartBuild's environmentVariablesOverride, as JSON),
# ("minutes", lo, hi), or None (free text the model does not constrain).
ACTION_CONFIG = {
    ("AWS", "ECR"): {"RepositoryName": (True, ("ecr", "RepositoryName")),
                     "ImageTag": (False, ("ecr", "ImageTag"))},
    ("AWS", "S3"): {"S3Bucket": (True, "bucket"), "S3ObjectKey": (True, ("s3", "ObjectKey")),
                    "PollForSourceChanges": (False, "bool"),
                    "AllowOverrideForS3ObjectKey": (False, "bool")},
    ("AWS", "CodeBuild"): {"ProjectName": (True, ("codebuild", "ProjectName")),
                           "PrimarySource": (False, "artifact"),
                           "EnvironmentVariables": (False, "codebuild-env"),
                           "BatchEnabled": (False, "bool"), "CombineArtifacts": (False, "bool")},
    ("AWS", "CodeDeployToECS"): {
        "ApplicationName": (True, ("codedeploy", "ApplicationName")),
        "DeploymentGroupName": (True, ("codedeploy", "DeploymentGroupName")),
        "TaskDefinitionTemplateArtifact": (True, "artifact"),
        "AppSpecTemplateArtifact": (True, "artifact"),
        "TaskDefinitionTemplatePath": (False, None), "AppSpecTemplatePath": (False, None),
        **{f"Image{n}ArtifactName": (False, "artifact") for n in range(1, 5)},
        **{f"Image{n}ContainerName": (False, None) for n in range(1, 5)}},
    ("AWS", "ECS"): {"ClusterName": (True, None), "ServiceName": (True, None),
                     "FileName": (False, None), "DeploymentTimeout": (False, ("minutes", 1, 60))},
}


def check_action_configuration(action: dict, where: str, report: Report):
    type_id = action.get("actionTypeId", {})
    key = (type_id.get("owner"), type_id.get("provider"))
    config = action.get("configuration", {})
    if key not in ACTION_CONFIG:
        report.find(where, f"action type {key} has no configuration table here (add it)")
        return
    table = ACTION_CONFIG[key]
    inputs = {a.get("name") for a in action.get("inputArtifacts", [])}
    for name, (required, _) in table.items():
        if required and name not in config:
            report.find(where, f"{key[1]} action: configuration {name} is required")
    for name, value in config.items():
        at = f"{where}.configuration.{name}"
        if isinstance(value, Unresolved):
            report.skipped.append(f"{at}: {value.why}")
            continue
        if name not in table:
            report.find(at, f"{key[1]} action has no configuration key {name}")
            continue
        rule = table[name][1]
        value = as_scalar(value, "string")
        report.checked += 1
        if rule == "artifact" and value not in inputs:
            report.find(at, f"{value!r} is not one of the action's input artifacts {sorted(inputs)}")
        elif rule == "bool" and value not in ("true", "false"):
            report.find(at, f"{value!r} is not true or false")
        elif rule == "bucket":
            check_bucket_name(value, at, report)
        elif rule == "codebuild-env":
            shape = SESSION.get_service_model("codebuild").operation_model("StartBuild") \
                .input_shape.members["environmentVariablesOverride"]
            check_shape(json.loads(value), shape, at, report)
        elif isinstance(rule, tuple) and rule[0] == "minutes":
            if not value.isdigit() or not rule[1] <= int(value) <= rule[2]:
                report.find(at, f"{value!r} is not a whole number of minutes in {rule[1]}-{rule[2]}")
        elif isinstance(rule, tuple):
            check_shape(value, shape_named(*rule), at, report)


# ---------------------------------------------------------------------------------------------
# The whole check


def check_template(template: dict, name: str) -> Report:
    report = Report()
    for params in parameter_sets(template):
        stack = Stack(template, params)
        label = name + "".join(f" {k}={v}" for k, v in params.items()
                               if "AllowedValues" in template["Parameters"][k])
        for logical, resource in template["Resources"].items():
            if "Condition" in resource and not stack.condition(resource["Condition"]):
                continue
            where = f"{label}: {logical}"
            for r in requests_for(stack, logical, resource, where, report):
                shape = SESSION.get_service_model(r.service).operation_model(r.op).input_shape
                check_shape(r.params, shape, f"{r.where} -> {r.service}.{r.op}", report)
                check_arns(r.params, f"{r.where} -> {r.service}.{r.op}", report)
                check_semantics(r, report)
    return report


def check_semantics(r: Request, report: Report):
    at = f"{r.where} -> {r.service}.{r.op}"
    p = r.params
    if r.op == "CreatePipeline":
        for si, stage in enumerate(p["pipeline"].get("stages", [])):
            for ai, action in enumerate(stage.get("actions", [])):
                check_action_configuration(action, f"{at}.pipeline.stages[{si}].actions[{ai}]", report)
    elif r.op == "CreateBucket":
        check_bucket_name(p["Bucket"], f"{at}.Bucket", report)
    elif r.op == "PutRetentionPolicy":
        if p.get("retentionInDays") not in retention_days():
            report.find(f"{at}.retentionInDays",
                        f"{p.get('retentionInDays')!r} is not one of {sorted(retention_days())} (the Days shape's documentation)")
    elif r.op == "CreateRole" and isinstance(p.get("AssumeRolePolicyDocument"), str):
        doc = p["AssumeRolePolicyDocument"]
        check_policy(doc, f"{at}.AssumeRolePolicyDocument", report, trust=True)
        if non_space_length(doc) > TRUST_POLICY_MAX:
            report.find(at, f"trust policy {non_space_length(doc)} characters, quota {TRUST_POLICY_MAX}")
    elif r.op == "PutRolePolicy" and isinstance(p.get("PolicyDocument"), str):
        check_policy(p["PolicyDocument"], f"{at}.PolicyDocument", report, trust=False)
    elif r.op == "PutRule" and isinstance(p.get("EventPattern"), str):
        pattern = json.loads(p["EventPattern"])
        if not isinstance(pattern, dict) or not pattern:
            report.find(f"{at}.EventPattern", "an event pattern is a non-empty JSON object")


def check_inline_policy_sizes(template: dict, name: str, report: Report):
    """IAM's quota on a role's inline policies together (the model allows 131072 for one)."""
    for params in parameter_sets(template):
        stack = Stack(template, params)
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            docs = stack.resolve(resource["Properties"].get("Policies", []))
            total = sum(non_space_length(json.dumps(d["PolicyDocument"])) for d in docs
                        if not isinstance(d["PolicyDocument"], Unresolved))
            if total > INLINE_POLICIES_PER_ROLE_MAX:
                report.find(f"{name}: {logical}",
                            f"inline policies {total} characters, quota {INLINE_POLICIES_PER_ROLE_MAX}")


MIN_VALUES = {"pipeline.yml": 200, "pipeline-native.yml": 200, "hook.yml": 70}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_requests_satisfy_the_api_models(path):
    template = load(path)
    report = check_template(template, path.name)
    check_inline_policy_sizes(template, path.name, report)
    print(f"{path.name}: {report.checked} values checked against botocore's models, "
          f"{len(report.skipped)} skipped")
    for s in report.skipped:
        print(f"  skipped (cannot be resolved offline): {s}")
    if report.skipped:
        warnings.warn(f"{path.name}: {len(report.skipped)} values not checked: {report.skipped}")
    # the pipelines have hundreds of values, the hook's five resources about 80
    assert report.checked > MIN_VALUES[path.name], "the walk reached far too few values"
    assert not report.findings, "\n".join(["", *report.findings])


# The checker itself: each kind of defect it exists for is found in a mutated template.
def mutated(path: Path, change) -> dict:
    t = load(path)
    change(t)
    return t


def findings(t: dict) -> list[str]:
    return check_template(t, "mutated").findings


def pipeline_props(t):
    return t["Resources"]["Pipeline"]["Properties"]


def test_the_checker_finds_what_it_is_for():
    native = TEMPLATES[1]
    cases = {
        "pattern": (lambda t: pipeline_props(t)["DisableInboundStageTransitions"][0].update(
            Reason="see docs/pipeline.md"), "does not match DisabledReason's pattern"),
        "enum": (lambda t: t["Resources"]["GateProject"]["Properties"]["Environment"].update(
            ComputeType="BUILD_GENERAL1_TINY"), "is not one of ComputeType's values"),
        "range": (lambda t: t["Resources"]["GateProject"]["Properties"].update(
            TimeoutInMinutes=3000), "above the maximum 2160"),
        "required": (lambda t: t["Resources"]["GateProject"]["Properties"]["Environment"].pop("Image"),
                     "required member image is missing"),
        "unmapped property": (lambda t: t["Resources"]["GateLogGroup"]["Properties"].update(
            Retention=7), "property is not mapped"),
        "retention": (lambda t: t["Resources"]["GateLogGroup"]["Properties"].update(
            RetentionInDays=45), "is not one of [1, 3, 5"),
        "log group ARN": (lambda t: t["Resources"]["GateRole"]["Properties"]["Policies"][0]
                          ["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "logs:PutLogEvents",
             "Resource": {"Fn::Sub": "${GateLogGroup.Arn}:*"}}), "matches none of"),
        "action": (lambda t: t["Resources"]["GateRole"]["Properties"]["Policies"][0]
                   ["PolicyDocument"]["Statement"][0].update(Action="ecs:DescribeService"),
                   "is no operation of ecs"),
        "deploy timeout": (lambda t: [a for s in pipeline_props(t)["Stages"] for a in s["Actions"]
                                      if a["Name"] == "Deploy"][0]["Configuration"].update(
            DeploymentTimeout="90"), "minutes in 1-60"),
        "codebuild env": (lambda t: [a for s in pipeline_props(t)["Stages"] for a in s["Actions"]
                                     if a["Name"] == "Gate"][0]["Configuration"].update(
            EnvironmentVariables='[{"name":"X","value":"1","type":"PLAIN"}]'),
            "is not one of EnvironmentVariableType's values"),
        "sid": (lambda t: t["Resources"]["GateRole"]["Properties"]["Policies"][0]
                ["PolicyDocument"]["Statement"][0].update(Sid="read-the-service"), "only letters and digits"),
    }
    for case, (change, expected) in cases.items():
        found = findings(mutated(native, change))
        assert any(expected in f for f in found), (case, found)


def test_what_cannot_be_resolved_is_skipped_and_counted_not_guessed():
    def change(t):
        t["Resources"]["GateProject"]["Properties"]["Description"] = {"Fn::GetAtt": "ArtifactBucket.DomainName"}
        t["Resources"]["GateLogGroup"]["Properties"]["KmsKeyId"] = {"Fn::ImportValue": "shared-logs-key"}
    report = check_template(mutated(TEMPLATES[1], change), "mutated")
    assert not report.findings, report.findings
    assert len(report.skipped) == 2 and any("ArtifactBucket.DomainName" in s for s in report.skipped) \
        and any("Fn::ImportValue" in s for s in report.skipped), report.skipped


# ---------------------------------------------------------------------------------------------
# checkov

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_checkov_is_clean_or_every_skip_says_why():
    assert CHECKOV.exists(), "checkov is missing: run scripts/setup-venv (it makes .venv-checkov)"
    proc = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--output", "json",
         *[a for p in TEMPLATES for a in ("-f", str(p))]],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    assert proc.stdout.strip(), proc.stderr
    out = json.loads(proc.stdout)
    reports = out if isinstance(out, list) else [out]
    assert [r["check_type"] for r in reports] == ["cloudformation"], proc.stdout[:2000]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] >= 18, summary
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in reports[0]["results"]["failed_checks"]]
    assert not failed, failed
    skipped = reports[0]["results"].get("skipped_checks", [])
    assert len(skipped) == summary["skipped"], summary
    for c in skipped:
        reason = (c.get("check_result", {}).get("suppress_comment") or "").strip(" :")
        assert len(reason) >= 20, f"{c['check_id']} on {c['resource']}: skipped without a reason"
        print(f"checkov skip {c['check_id']} {c['resource']} ({Path(c['file_path']).name}): {reason}")
    assert summary["passed"] > 50, summary
