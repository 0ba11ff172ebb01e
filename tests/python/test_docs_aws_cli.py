"""Every `aws ...` command the docs, the templates' outputs, the buildspec and the GitHub workflow
tell someone to run, checked against the AWS CLI's own command table (awscli 1.x, pinned with the
botocore it is built from): the service, the operation (or the CLI's own command, such as
`s3 cp` or `cloudformation deploy`), every flag, the required flags of a command given in full,
and each literal value against the member's shape in botocore's model (enums, patterns, lengths).
The commands are not run: the emulator does not serve CodePipeline or CloudFormation."""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from awscli.clidriver import create_clidriver

from test_template_models import TEMPLATES, Report, Stack, check_shape, load, parameter_sets

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GLOBAL_FLAGS = {"region", "profile", "output", "query", "endpoint-url", "no-cli-pager", "debug",
                "no-paginate", "no-verify-ssl", "cli-read-timeout", "cli-connect-timeout", "color"}
DRIVER = create_clidriver()
COMMANDS = DRIVER._get_command_table()


class Command:
    def __init__(self, text: str, where: str, complete: bool):
        self.text, self.where, self.complete = text, where, complete


def shell_commands(script: str) -> list[str]:
    """The `aws ...` commands in a shell snippet: continuations joined, each command cut at the
    first pipe, redirection, `;`, `&&`, `||` or closing `)` of a command substitution."""
    script = script.replace("\\\n", " ")
    found = []
    for m in re.finditer(r"(?<![\w/.-])aws\s+[a-z0-9-]+\s+[a-z0-9-]+", script):
        rest = script[m.start():].split("\n")[0]
        cut = re.search(r"\s(?:\|\|?|&&|;|\d*>)|\)(?![^'\"]*['\"])|\s#", rest)
        found.append(rest[:cut.start()] if cut else rest)
    return found


def from_markdown(path: Path) -> list[Command]:
    text = path.read_text()
    out = []
    for block in re.findall(r"^ *```(?:sh|bash|shell|console)?\n(.*?)^ *```", text, flags=re.S | re.M):
        out += [Command(c, f"{path.name} (code block)", True) for c in shell_commands(block)]
    prose = re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        out += [Command(c, f"{path.name} (inline)", False) for c in shell_commands(span)
                if "…" not in c]
    return out


def from_templates() -> list[Command]:
    """The stack outputs, resolved with the model test's sample stack (the pipeline's name...)."""
    out = []
    for path in TEMPLATES:
        template = load(path)
        stack = Stack(template, next(parameter_sets(template)))
        for name, output in template.get("Outputs", {}).items():
            value = stack.resolve(output["Value"])
            assert isinstance(value, str), (path.name, name, value)
            out += [Command(c, f"{path.name} output {name}", True) for c in shell_commands(value)]
    return out


def from_yaml_scripts() -> list[Command]:
    out = []
    spec = yaml.safe_load((ROOT / "buildspec-migrate.yml").read_text())
    for phase, body in spec["phases"].items():
        for cmd in body.get("commands", []):
            out += [Command(c, f"buildspec-migrate.yml {phase}", True) for c in shell_commands(cmd)]
    workflow = yaml.safe_load((ROOT / "docs/pipeline/github-actions.yml").read_text())
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for c in shell_commands(step.get("run", "")):
                out.append(Command(c, f"github-actions.yml step {step.get('name')!r}", True))
    return out


def all_commands() -> list[Command]:
    cmds = [c for doc in DOCS for c in from_markdown(doc)] + from_templates() + from_yaml_scripts()
    return cmds


def literal(value: str) -> bool:
    return not re.search(r"[$<>…{}*]", value)


def check(cmd: Command) -> list[str]:
    problems = []
    where = f"{cmd.where}: {cmd.text}"
    tokens = shlex.split(cmd.text)
    assert tokens[0] == "aws"
    args = tokens[1:]
    service, args = args[0], args[1:]
    if service not in COMMANDS:
        return [f"{where}: no service {service}"]
    table = COMMANDS[service]._get_command_table() if hasattr(COMMANDS[service], "_get_command_table") \
        else COMMANDS[service].subcommand_table
    op_name, args = args[0], args[1:]
    if op_name not in table:
        return [f"{where}: {service} has no command {op_name}"]
    op = table[op_name]
    if args and not args[0].startswith("--") and getattr(op, "subcommand_table", None):
        sub, args = args[0], args[1:]                 # `aws ecs wait tasks-stopped`
        if sub not in op.subcommand_table:
            return [f"{where}: {service} {op_name} has no {sub}"]
        op = op.subcommand_table[sub]
    arg_table = op.arg_table
    given: dict[str, list[str]] = {}
    flag = None
    for token in args:
        if token.startswith("--"):
            flag = token[2:].split("=", 1)[0]
            given.setdefault(flag, [])
            if "=" in token:
                given[flag].append(token.split("=", 1)[1])
        elif flag is not None:
            given[flag].append(token)
    for flag, values in given.items():
        if flag in GLOBAL_FLAGS:
            continue
        if flag not in arg_table:
            problems.append(f"{where}: {service} {op_name} has no flag --{flag}")
            continue
        model = getattr(arg_table[flag], "argument_model", None)
        if model is not None and model.type_name in ("string", "integer", "long") and len(values) == 1 \
                and literal(values[0]):
            report = Report()
            check_shape(values[0], model, f"--{flag}", report)
            problems += [f"{where}: {f}" for f in report.findings]
    if cmd.complete:
        for name, arg in arg_table.items():
            if getattr(arg, "required", False) and not getattr(arg, "positional_arg", False) \
                    and name not in given:
                problems.append(f"{where}: --{name} is required")
    return problems


def test_every_documented_aws_command_exists_with_its_flags():
    cmds = all_commands()
    wanted = {"enable-stage-transition", "start-pipeline-execution", "stop-pipeline-execution",
              "list-pipeline-executions", "get-pipeline-state", "deploy", "cp", "put-image"}
    seen = {shlex.split(c.text)[2] for c in cmds}
    assert wanted <= seen, f"the extractor missed commands: {wanted - seen}"
    problems = [p for c in cmds for p in check(c)]
    assert not problems, "\n".join(["", *problems])


@pytest.mark.parametrize("text,expected", [
    ("aws codepipeline enable-stage-transition --pipeline-name p --stage-name Release --transition-type inbound",
     "not one of StageTransitionType's values"),
    ("aws codepipeline enable-stage-transition --pipeline-name p --stage-name Release", "--transition-type is required"),
    ("aws codepipeline start-pipeline-execution --pipeline-name p", "has no flag --pipeline-name"),
    ("aws codepipeline enable-transition --pipeline-name p", "has no command enable-transition"),
    ("aws codepipeline stop-pipeline-execution --pipeline-name p --pipeline-execution-id "
     "6f0e2a51-2f7c-4c0e-8f43-1f3b9a2d7c55 --reason r/s", None),
    ("aws codepipeline get-pipeline-state --name a/b", "does not match PipelineName's pattern"),
])
def test_the_checker_finds_wrong_commands(text, expected):
    problems = check(Command(text, "sample", True))
    if expected is None:
        assert not problems, problems
    else:
        assert any(expected in p for p in problems), problems
