"""The launch kit and the architecture picture, for every profile and environment: quick-create
links decode back to exactly the template URL, stack name and parameter values; the parameter
reference lists every parameter of every template with the params-file key of each knob; the
Mermaid flowchart passes a small grammar check and shows every layer and the request path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import generate
from deployer.bundle import Bundle
from deployer.store import TemplateStore, planned_urls
from resource_semantics import required_capabilities
from templates import docs
from tests.conftest import ALL_TARGETS, rendered

BUCKET = "my-templates"
LINK = re.compile(r"\[quick-create\]\(([^)]+)\)")


def bundle(app: str, env: str) -> Bundle:
    r = rendered(app, env)
    return Bundle(Path("unused"), r.manifest, {f: b for f, b in r.files.items() if f != "manifest.json"})


# What `upload` reads from the us-east-1 global stack (product-catalog's CloudFront web ACL) and
# writes into the links, as generate._write_docs does.
GLOBAL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/waf-cloudfront/0a1b2c3d"


def documents(b: Bundle) -> dict[str, dict]:
    found = {file: b.document(file) for file in b.files}
    for name, value in b.global_values.items():
        found[b.root_file]["Parameters"][name]["Default"] = value
    return found


def kit(app: str, env: str, bucket: str = BUCKET) -> tuple[Bundle, dict[str, str], str]:
    b = bundle(app, env)
    b = b.with_global_values({name: GLOBAL_ARN for name in b.global_inputs})
    urls = planned_urls(b, TemplateStore(bucket, "cfn", b.region))
    return b, urls, docs.launch_markdown(b.manifest, documents(b), urls, url_note="test")


def decode(link: str) -> tuple[str, dict[str, str]]:
    """(host, query) of a console quick-create link; the query sits in the fragment."""
    parts = urlsplit(link)
    assert parts.scheme == "https" and parts.path == "/cloudformation/home"
    route, _, query = parts.fragment.partition("?")
    assert route == "/stacks/quickcreate"
    values = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in values.values()), "a parameter appears twice"
    return parts.netloc, {k: v[0] for k, v in values.items()}


@pytest.mark.parametrize("app,env", ALL_TARGETS)
def test_quick_create_links_decode_to_the_template_url_stack_name_and_values(app, env):
    b, urls, markdown = kit(app, env)
    links = LINK.findall(markdown)
    launched = [la for la in docs.launches(b.manifest, documents(b), urls) if la.url]
    assert links == [la.url for la in launched]
    assert (
        launched[0].file == b.root_file
    )  # the root can always be launched: every root parameter has the params' value
    for launch, link in zip(launched, links, strict=True):
        host, query = decode(link)
        assert host == f"{b.region}.console.aws.amazon.com"
        assert query.pop("templateURL") == urls[launch.file]
        assert query.pop("stackName") == launch.stack_name
        parameters = documents(b)[launch.file].get("Parameters", {})
        expected = {
            f"param_{k}": ",".join(map(str, v["Default"])) if isinstance(v["Default"], list) else str(v["Default"])
            for k, v in parameters.items()
        }
        assert query == expected
    # the root link carries exactly what the deployer passes as parameters (the params' values)
    _, root_query = decode(links[0])
    assert {k.removeprefix("param_"): v for k, v in root_query.items() if k.startswith("param_")} == b.parameters()
    assert root_query["stackName"] == b.stack_name


def test_the_product_catalog_prod_root_link_carries_the_seed_values():
    b, urls, markdown = kit("product-catalog", "prod")
    _, query = decode(LINK.findall(markdown)[0])
    assert query["templateURL"].startswith(
        f"https://{BUCKET}.s3.eu-north-1.amazonaws.com/cfn/product-catalog/prod/root."
    )
    assert query["stackName"] == "product-catalog-catalog-prod"
    assert (
        query["param_ServiceApiDesiredCount"],
        query["param_ServiceApiMinCount"],
        query["param_ServiceApiMaxCount"],
    ) == ("2", "2", "10")
    assert query["param_PriceClass"] == "PriceClass_100"


def test_layers_needing_other_layers_say_what_they_need():
    b, urls, markdown = kit("product-catalog", "prod")
    by_layer = {la.layer: la for la in docs.launches(b.manifest, documents(b), urls)}
    assert by_layer["network"].url is not None  # needs nothing from another layer
    # the VPC, and the permissions boundary every role carries (network's PermissionsBoundaryArn)
    assert by_layer["security"].url is None and by_layer["security"].missing == ("PermissionsBoundaryArn", "VpcId")
    assert (
        "| security.json | `product-catalog-catalog-prod-security` | not alone: needs `PermissionsBoundaryArn`, "
        "`VpcId` (launch the root) |" in markdown
    )


def test_template_urls_are_the_ones_upload_produces():
    """planned_urls is what upload_bundle puts: children by their bytes, the root after rewiring."""
    b = bundle("product-catalog", "dev")
    urls = planned_urls(b, TemplateStore(BUCKET, "", "eu-north-1"))
    for stack in b.nested_stacks:
        assert (
            urls[stack["file"]]
            == f"https://{BUCKET}.s3.eu-north-1.amazonaws.com/product-catalog/dev/{stack['file'][:-5]}.{b.sha256(stack['file'])}.json"
        )
    root = json.loads(
        __import__("deployer.store", fromlist=["root_with_urls"]).root_with_urls(
            b, {s["file"]: urls[s["file"]] for s in b.nested_stacks}
        )
    )
    assert {
        r["Properties"]["TemplateURL"] for r in root["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"
    } == {urls[s["file"]] for s in b.nested_stacks}


def reference_rows(markdown: str) -> dict[str, dict[str, list[str]]]:
    """file -> parameter -> cells, from the parameter reference tables."""
    tables: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in markdown.split("## Parameter reference", 1)[1].splitlines():
        if line.startswith("### "):
            current = tables.setdefault(line[4:], {})
        elif line.startswith("| `") and current is not None:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            current[cells[0].strip("`")] = cells
    return tables


@pytest.mark.parametrize("app,env", ALL_TARGETS)
def test_parameter_reference_lists_every_parameter_of_every_template_in_console_order(app, env):
    b, _, markdown = kit(app, env)
    tables = reference_rows(markdown)
    nested = [s["file"] for s in b.nested_stacks]
    assert list(tables) == [b.root_file, *nested]
    for file, rows in tables.items():
        document = documents(b)[file]
        assert set(rows) == set(document.get("Parameters", {})), file
        groups = document.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
        grouped = [p for g in groups for p in g["Parameters"]]
        assert list(rows)[: len(grouped)] == grouped, f"{file}: not in interface group order"
        for name, cells in rows.items():
            spec = document["Parameters"][name]
            assert cells[3] == spec.get("Type", "String")
            if "Default" not in spec:
                assert cells[4] == "*(none: required)*"
    # every knob names the params-file key it comes from (or says it is not in the params file)
    for stack in b.manifest["stacks"]:
        for knob in stack.get("knobs", []):
            cells = tables[stack["file"]][knob] if stack["file"] in tables else None
            if cells is None:
                continue
            key = stack.get("knob_keys", {}).get(knob)
            assert cells[6] == (f"params: `{key}`" if key else "template default (not in the params file)")


def test_knob_keys_point_at_real_params_values():
    """The recorded key resolves in the params model to the knob's default."""
    from templates.params import REPO_PARAMS, load_config

    for app, env in ALL_TARGETS:
        b = bundle(app, env)
        cfg = load_config(app, env, REPO_PARAMS).model_dump(by_alias=False)
        for stack in b.manifest["stacks"]:
            parameters = b.document(stack["file"]).get("Parameters", {})
            for knob, key in stack.get("knob_keys", {}).items():
                value = cfg
                for part in key.split("."):
                    value = value[part]
                default = parameters[knob]["Default"]
                if knob == "AlbCallbackUrls" and key == "edge.domain.name":
                    assert value in str(default)  # built from the domain: https://<domain>/oauth2/idpresponse
                    continue
                shown = ",".join(value) if isinstance(value, list) else value
                assert str(shown) == str(default), f"{app}/{env} {knob} <- {key}"


def test_product_catalog_reference_names_seed_keys_and_values():
    _, _, markdown = kit("product-catalog", "prod")
    rows = reference_rows(markdown)["compute.json"]
    assert (
        rows["ServiceApiMaxCount"][4] == "`10`" and rows["ServiceApiMaxCount"][6] == "params: `services.api.max_count`"
    )
    assert rows["ServiceApiMaxCount"][5] == "min 1; max 1000"
    assert rows["ServiceApiTargetGroupArn"][6].startswith("output `ServiceApiTargetGroupArn` of the edge layer")
    assert (
        reference_rows(markdown)["edge.json"]["PriceClass"][5]
        == "one of `PriceClass_100`, `PriceClass_200`, `PriceClass_All`"
    )


def test_capabilities_and_why():
    b = bundle("product-catalog", "prod")
    reasons = required_capabilities(documents(b))
    assert set(reasons) == {"CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}
    assert any(r.startswith("root.json: nested stacks (`BackupStack`") for r in reasons["CAPABILITY_AUTO_EXPAND"])
    assert any(r.startswith("security.json: IAM resources with fixed names") for r in reasons["CAPABILITY_NAMED_IAM"])


@pytest.mark.parametrize(("app", "env"), ALL_TARGETS)
def test_the_pipeline_acknowledges_every_capability_the_templates_need(app, env):
    """The pipeline's change-set action declares CAPABILITIES; what each profile's templates need
    (the deployer sends exactly that) is within it, NAMED_IAM included wherever a role is named."""
    from resource_semantics import CAPABILITIES

    docs_ = {name: json.loads(body) for name, body in rendered(app, env).files.items() if name != "manifest.json"}
    needed = set(required_capabilities(docs_))
    assert needed <= set(CAPABILITIES) and "CAPABILITY_AUTO_EXPAND" in needed
    named = any(
        r["Type"] == "AWS::IAM::Role" and "RoleName" in r.get("Properties", {})
        for d in docs_.values()
        for r in d.get("Resources", {}).values()
    )
    assert ("CAPABILITY_NAMED_IAM" in needed) == named
    actions = [
        a
        for d in docs_.values()
        for r in d.get("Resources", {}).values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
        for stage in r["Properties"]["Stages"]
        for a in stage["Actions"]
        if a["ActionTypeId"]["Provider"] == "CloudFormation"
    ]
    proposing = [
        a
        for a in actions
        if a["Configuration"]["ActionMode"] in ("CHANGE_SET_REPLACE", "CREATE_UPDATE", "REPLACE_ON_FAILURE")
    ]
    assert len(proposing) == sum(
        a["Configuration"]["ActionMode"] == "CHANGE_SET_EXECUTE" for a in actions
    )  # one per execute
    for action in proposing:
        assert action["Configuration"]["Capabilities"] == "CAPABILITY_IAM,CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND"


# ------------------------------------------------------------------ Mermaid

NODE = r"[A-Za-z_][A-Za-z0-9_]*"
LABEL = r'"[^"]*"'
SHAPED = rf"{NODE}(?:\[\[{LABEL}\]\]|\[\({LABEL}\)\]|\(\[{LABEL}\]\)|\[{LABEL}\]|\({LABEL}\)|\{{\{{{LABEL}\}}\}})"
STATEMENTS = {
    "header": re.compile(r"flowchart (LR|TD|TB|RL|BT)"),
    "subgraph": re.compile(rf"subgraph ({NODE})\[{LABEL}\]"),
    "end": re.compile(r"end"),
    "node": re.compile(rf"({SHAPED})"),
    "edge": re.compile(rf"({NODE}) (-->|-\.-|-\.->)(?:\|{LABEL}\|)? ({NODE})"),
    "classDef": re.compile(r"classDef [a-z]+ [a-z-]+:[#a-z0-9]+(,[a-z-]+:[#a-z0-9]+)*"),
    "class": re.compile(rf"class {NODE}(,{NODE})* [a-z]+"),
}


def check_mermaid(text: str) -> tuple[set[str], list[tuple[str, str, str]], list[str]]:
    """Every line is a known statement, ids are defined before use, subgraphs balance.
    Returns (node ids, edges, subgraph ids)."""
    lines = text.rstrip("\n").split("\n")
    assert STATEMENTS["header"].fullmatch(lines[0])
    defined: set[str] = set()
    edges, subgraphs, depth = [], [], 0
    for number, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        kind = next((k for k, pattern in STATEMENTS.items() if k != "header" and pattern.fullmatch(line)), None)
        assert kind, f"line {number} is no known statement: {raw!r}"
        if kind == "subgraph":
            depth += 1
            subgraphs.append(STATEMENTS["subgraph"].fullmatch(line).group(1))
        elif kind == "end":
            depth -= 1
            assert depth >= 0, f"line {number}: end without subgraph"
        elif kind == "node":
            node_id = re.match(NODE, line).group(0)
            assert node_id not in defined, f"line {number}: {node_id} defined twice"
            defined.add(node_id)
        elif kind == "edge":
            a, arrow, b = STATEMENTS["edge"].fullmatch(line).groups()
            assert a in defined and b in defined, f"line {number}: edge before its nodes: {line}"
            edges.append((a, arrow, b))
        elif kind == "class":
            assert set(line.split()[1].split(",")) <= defined
    assert depth == 0, "subgraph/end unbalanced"
    return defined, edges, subgraphs


# The request path each profile's picture must show: (node ids, traffic arrows).
REQUEST_PATHS = {
    "product-catalog": (
        ["edge_Distribution", "edge_LoadBalancer", "compute_ServiceApiService", "data_DatabaseCluster"],
        [
            ("users", "edge_Distribution"),
            ("edge_Distribution", "edge_LoadBalancer"),
            ("edge_LoadBalancer", "edge_ServiceApiTargetGroup"),
            ("edge_ServiceApiTargetGroup", "compute_ServiceApiService"),
            ("compute_ServiceApiService", "data_DatabaseCluster"),
        ],
    ),
    "ecs-ec2-api": (
        ["edge_LoadBalancer", "compute_ServiceApiService", "data_Database"],
        [
            ("users", "edge_LoadBalancer"),
            ("edge_LoadBalancer", "edge_ServiceApiTargetGroup"),
            ("edge_ServiceApiTargetGroup", "compute_ServiceApiService"),
            ("compute_ServiceApiService", "data_Database"),
        ],
    ),
    "mycandidate": (
        [
            "edge_Distribution",
            "edge_LoadBalancer",
            "compute_ServiceWebService",
            "data_CacheReplicationGroup",
            "data_FileSystem",
            "edge_CloudFrontWebAcl",
        ],
        [
            ("users", "edge_Distribution"),
            ("edge_Distribution", "edge_LoadBalancer"),
            ("edge_LoadBalancer", "edge_ServiceWebTargetGroup"),
            ("edge_ServiceWebTargetGroup", "compute_ServiceWebService"),
            ("compute_ServiceWebService", "data_FileSystem"),
        ],
    ),
    "product-management": (
        [
            "edge_Distribution",
            "edge_HttpApi",
            "edge_LoadBalancer",
            "compute_ServiceBackendService",
            "data_Database",
            "edge_SpaBucket",
        ],
        [
            ("users", "edge_Distribution"),
            ("users", "edge_HttpApi"),
            ("edge_HttpApi", "edge_LoadBalancer"),
            ("edge_Distribution", "edge_SpaBucket"),
            ("compute_ServiceBackendService", "data_Database"),
        ],
    ),
    "smart-task": (
        [
            "edge_Distribution",
            "edge_LoadBalancer",
            "compute_ServiceBackendService",
            "compute_ServiceFrontendService",
            "data_Database",
        ],
        [
            ("users", "edge_Distribution"),
            ("edge_LoadBalancer", "edge_ServiceBackendTargetGroup"),
            ("edge_ServiceBackendTargetGroup", "compute_ServiceBackendService"),
            ("compute_ServiceBackendService", "data_Database"),
        ],
    ),
}


@pytest.mark.parametrize("app,env", ALL_TARGETS)
def test_mermaid_request_path_first_and_the_wiring_in_a_second_view(app, env):
    b = bundle(app, env)
    text = docs.mermaid(b.manifest, documents(b))
    assert text == docs.mermaid(b.manifest, documents(b))  # deterministic
    defined, edges, subgraphs = check_mermaid(text)
    layers = [s["layer"] for s in b.nested_stacks]
    # the request path: layer groups in deployment order, only the layers it passes through
    assert (
        subgraphs
        == [f"layer_{docs._node_id(layer)}" for layer in layers if f"layer_{docs._node_id(layer)}" in subgraphs]
        and subgraphs
    )
    assert {arrow for _, arrow, _ in edges} <= {"-->", "-.-"}  # no wiring here
    touched = {n for a, _, b_ in edges for n in (a, b_)}
    assert defined == touched  # no floating node (the VPC was one)
    assert not any(n.endswith("_Vpc") or n.endswith("_stack") for n in defined)
    for label in re.findall(r'"([^"]*)"', text):  # no "Load balancer<br/>Load Balancer"
        title, _, name = label.partition("<br/>")
        assert not {w.lower() for w in name.split()} & {w.lower() for w in title.split()}, label
    # the second view: every layer's stack, one dotted arrow per (source layer, consuming layer)
    wiring = docs.wiring_mermaid(b.manifest, documents(b))
    defined, edges, subgraphs = check_mermaid(wiring)
    assert defined == {f"{docs._node_id(layer)}_stack" for layer in layers} and subgraphs == []
    wired = {(a, b_) for a, arrow, b_ in edges if arrow == "-.->"}
    expected = {
        (f"{docs._node_id(w.split('.')[0])}_stack", f"{docs._node_id(s['layer'])}_stack")
        for s in b.nested_stacks
        for w in s.get("inputs", {}).values()
        if w.split(".")[0] in layers
    }
    assert wired == expected and len(edges) == len(expected)
    # architecture.md: the path, the layers table (every layer), then the wiring inside <details>
    page = docs.architecture_markdown(b.manifest, documents(b))
    assert (
        page.index("## Request path")
        < page.index("## Layers")
        < page.index("<details><summary>Wiring between the nested stacks")
        < page.index(wiring.splitlines()[1])
    )
    assert all(
        f"| {layer} | `{s['logical_id']}` | {len(documents(b)[s['file']]['Resources'])} |" in page
        for layer, s in zip(layers, b.nested_stacks, strict=True)
    )


def test_labels_say_the_kind_then_what_the_logical_id_adds():
    assert docs.node_label("Load balancer", "LoadBalancer") == "Load balancer"
    assert docs.node_label("ECS service", "ServiceApiService") == "ECS service<br/>Api"
    assert docs.node_label("Target group", "ServiceApiTargetGroup") == "Target group<br/>Service Api"
    assert docs.node_label("Aurora", "DatabaseCluster") == "Aurora<br/>Database Cluster"


def test_the_pipeline_and_the_vpc_are_not_on_the_request_path():
    b = bundle("product-catalog", "prod")
    defined, edges, _ = check_mermaid(docs.mermaid(b.manifest, documents(b)))
    assert not {"cicd_PipelineBackend", "cicd_ArtifactBucket", "network_Vpc"} & defined
    # the hop through the target group, not a second direct arrow beside it
    assert ("edge_LoadBalancer", "-->", "edge_ServiceApiTargetGroup") in edges and (
        "edge_ServiceApiTargetGroup",
        "-->",
        "compute_ServiceApiService",
    ) in edges
    assert ("edge_LoadBalancer", "-->", "compute_ServiceApiService") not in edges
    smart = bundle("smart-task", "prod")
    _, edges, _ = check_mermaid(docs.mermaid(smart.manifest, documents(smart)))
    into = {(a, b_) for a, _, b_ in edges if a.endswith("TargetGroup")}
    assert into == {
        ("edge_ServiceBackendTargetGroup", "compute_ServiceBackendService"),
        ("edge_ServiceBackendGreenTargetGroup", "compute_ServiceBackendService"),
        ("edge_ServiceFrontendTargetGroup", "compute_ServiceFrontendService"),
        ("edge_ServiceFrontendGreenTargetGroup", "compute_ServiceFrontendService"),
    }


@pytest.mark.parametrize("app,env", [t for t in ALL_TARGETS if t[0] in REQUEST_PATHS])
def test_mermaid_shows_the_request_path_of_each_profile(app, env):
    b = bundle(app, env)
    defined, edges, _ = check_mermaid(docs.mermaid(b.manifest, documents(b)))
    nodes, arrows = REQUEST_PATHS[app]
    assert set(nodes) <= defined
    traffic = {(a, b_) for a, arrow, b_ in edges if arrow == "-->"}
    assert set(arrows) <= traffic


def test_mermaid_grammar_check_rejects_broken_diagrams():
    good = 'flowchart LR\n  a["A"]\n  subgraph g["G"]\n    b[("B")]\n  end\n  a --> b\n'
    check_mermaid(good)
    for broken in (
        good.replace("  end\n", ""),
        good.replace("a --> b", "a --> c"),
        good + "  what is this\n",
        good.replace('  a["A"]\n', ""),
    ):
        with pytest.raises(AssertionError):
            check_mermaid(broken)


# ------------------------------------------------------------------ the command


def test_docs_command_writes_launch_kit_and_picture(tmp_path):
    result = CliRunner().invoke(
        generate.cli, ["docs", "product-catalog", "--env", "prod", "--out", str(tmp_path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "product-catalog" / "prod" / "docs"
    assert sorted(p.name for p in folder.iterdir()) == ["LAUNCH.md", "architecture.md"]
    launch = (folder / "LAUNCH.md").read_text()
    assert f"placeholder bucket `{generate.PLACEHOLDER_BUCKET}`" in launch
    # without AWS the root has no link: its CloudFrontWebAclArn is the us-east-1 global stack's output
    # (`upload` reads it and links the root); the layers that need nothing else are linked
    _, query = decode(LINK.findall(launch)[0])
    assert query["templateURL"].startswith(
        f"https://{generate.PLACEHOLDER_BUCKET}.s3.eu-north-1.amazonaws.com/product-catalog/prod/network."
    )
    assert "/product-catalog/prod/root." not in " ".join(LINK.findall(launch)) and "CloudFrontWebAclArn" in launch
    architecture = (folder / "architecture.md").read_text()
    body = architecture.split("```mermaid\n", 1)[1].split("```", 1)[0]
    check_mermaid(body)
    # with a bucket, the links point at the URLs upload will produce, byte for byte
    result = CliRunner().invoke(
        generate.cli,
        ["docs", "product-catalog", "--env", "prod", "--out", str(tmp_path), "--bucket", BUCKET],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    b = bundle("product-catalog", "prod")
    urls = planned_urls(b, TemplateStore(BUCKET, "", "eu-north-1"))
    assert decode(LINK.findall((folder / "LAUNCH.md").read_text())[0])[1]["templateURL"] == urls["network.json"]
    assert not list(folder.parent.glob(".docs.*")), "temporary folders left behind"
