"""Docs generated from the generated templates: the console launch kit (quick-create links,
capabilities, parameter reference) and the architecture picture (Mermaid). Pure: documents and
the manifest in, Markdown out. Where the templates live in S3 is the deployer's business; it
passes the URL of each file in.

Everything here reads the templates themselves (their Parameters, their
AWS::CloudFormation::Interface metadata, their Refs and GetAtts), so the docs show exactly what
the console will show and the picture changes when the templates do.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from resource_semantics import required_capabilities

CONSTRAINT_KEYS = ("AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MinLength", "MaxLength")


# ------------------------------------------------------------------ quick-create links


def console_url(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"


def quick_create_url(region: str, template_url: str, stack_name: str, parameters: dict[str, str]) -> str:
    """The console's quick-create link: template, stack name and every parameter filled in
    (empty values too, so the form shows exactly the environment's values)."""
    query = {"templateURL": template_url, "stackName": stack_name} | {
        f"param_{k}": v for k, v in sorted(parameters.items())
    }
    return f"{console_url(region)}#/stacks/quickcreate?" + urlencode(query, quote_via=quote, safe="")


def default_values(document: dict) -> dict[str, str] | None:
    """Every parameter's default as the console takes it (lists comma-joined); None when a
    parameter has no default, so the template cannot be launched with the params' values alone."""
    values = {}
    for name, spec in sorted(document.get("Parameters", {}).items()):
        if "Default" not in spec:
            return None
        default = spec["Default"]
        values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
    return values


# ------------------------------------------------------------------ capabilities


# ------------------------------------------------------------------ parameter reference


@dataclass(frozen=True)
class ParameterDoc:
    group: str
    name: str
    label: str
    description: str
    type: str
    default: str | None  # None: no default
    constraints: str
    source: str  # the params-file key, or the layer output the root fills it from


def _constraints(spec: dict) -> str:
    parts = []
    if "AllowedValues" in spec:
        parts.append("one of " + ", ".join(f"`{v}`" for v in spec["AllowedValues"]))
    if "AllowedPattern" in spec:
        parts.append(f"pattern `{spec['AllowedPattern']}`")
    for key, word in (
        ("MinValue", "min"),
        ("MaxValue", "max"),
        ("MinLength", "min length"),
        ("MaxLength", "max length"),
    ):
        if key in spec:
            parts.append(f"{word} {spec[key]}")
    return "; ".join(parts)


def parameter_docs(document: dict, sources: dict[str, str]) -> list[ParameterDoc]:
    """Every parameter of the template, in its interface group order (the console's order); the
    ones in no group last, by name."""
    parameters = document.get("Parameters", {})
    interface = document.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    labels = {name: value.get("default", name) for name, value in interface.get("ParameterLabels", {}).items()}
    ordered: list[tuple[str, str]] = []
    for group in interface.get("ParameterGroups", []):
        ordered += [(group["Label"]["default"], name) for name in group["Parameters"] if name in parameters]
    seen = {name for _, name in ordered}
    ordered += [("Other parameters", name) for name in sorted(parameters) if name not in seen]
    docs = []
    for group, name in ordered:
        spec = parameters[name]
        default = spec.get("Default")
        docs.append(
            ParameterDoc(
                group,
                name,
                labels.get(name, name),
                spec.get("Description", ""),
                spec.get("Type", "String"),
                None
                if default is None
                else (",".join(map(str, default)) if isinstance(default, list) else str(default)),
                _constraints(spec),
                sources.get(name, "-"),
            )
        )
    return docs


def parameter_sources(manifest: dict, layer: str) -> dict[str, str]:
    """Parameter -> where its value comes from: `params: key` for a knob whose key the layer
    recorded, `layer.Output` for an input the root wires."""
    stacks = manifest["stacks"]
    sources: dict[str, str] = {}
    for stack in stacks:
        if layer in ("root", stack["layer"]):
            for name, key in stack.get("knob_keys", {}).items():
                sources.setdefault(name, f"params: `{key}`")
            for name in stack.get("knobs", []):
                sources.setdefault(name, "template default (not in the params file)")
    if layer != "root":
        stack = next(s for s in stacks if s["layer"] == layer)
        for name, wire in stack.get("inputs", {}).items():
            sources[name] = f"output `{wire.split('.', 1)[1]}` of the {wire.split('.', 1)[0]} layer (the root wires it)"
    return sources


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") if text not in (None, "") else "-"


def _code(text: str | None) -> str:
    if text is None:
        return "*(none: required)*"
    if text == "":
        return "*(empty)*"
    return f"`{text}`"


def parameter_reference_markdown(file: str, docs: list[ParameterDoc]) -> list[str]:
    lines = [f"### {file}", ""]
    if not docs:
        return lines + ["No parameters.", ""]
    group = None
    for doc in docs:
        if doc.group != group:
            group = doc.group
            lines += [
                f"**{group}**",
                "",
                "| parameter | label | description | type | default | allowed | from |",
                "|---|---|---|---|---|---|---|",
            ]
        cells = [
            f"`{doc.name}`",
            _cell(doc.label),
            _cell(doc.description),
            _cell(doc.type),
            _code(doc.default),
            _cell(doc.constraints),
            _cell(doc.source),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if doc is docs[-1] or docs[docs.index(doc) + 1].group != group:
            lines.append("")
    return lines


# ------------------------------------------------------------------ launch kit


@dataclass(frozen=True)
class Launch:
    file: str
    layer: str
    stack_name: str
    url: str | None  # None: the template needs values only another layer has
    missing: tuple[str, ...] = ()


def launches(manifest: dict, documents: dict[str, dict], template_urls: dict[str, str]) -> list[Launch]:
    """The root and every layer template: a quick-create link when every parameter has a value
    from the params (a default), else what is missing."""
    region = manifest["region"]
    result = []
    entries = [("root", manifest["root"])] + [
        (s["layer"], s["file"]) for s in manifest["stacks"] if s.get("scope", "nested") == "nested"
    ]
    for layer, file in entries:
        stack_name = manifest["stack_name"] if layer == "root" else f"{manifest['stack_name']}-{layer}"
        values = default_values(documents[file])
        if values is None:
            missing = tuple(
                sorted(n for n, spec in documents[file].get("Parameters", {}).items() if "Default" not in spec)
            )
            result.append(Launch(file, layer, stack_name, None, missing))
        else:
            result.append(
                Launch(file, layer, stack_name, quick_create_url(region, template_urls[file], stack_name, values))
            )
    return result


def launch_markdown(manifest: dict, documents: dict[str, dict], template_urls: dict[str, str], *, url_note: str) -> str:
    """LAUNCH.md: links, capabilities, parameter reference. `url_note` says where the template
    URLs point (uploaded, or where `upload` would put them)."""
    app, env, region = manifest["application"], manifest["environment"], manifest["region"]
    lines = [
        f"# Launch kit: {app} / {env}",
        "",
        f"Generated by cfn-strata from `params/{app}/` ({env}); region **{region}**; root stack "
        f"**{manifest['stack_name']}**. "
        "Do not edit: run `cfn-strata docs` (or `cfn-strata upload`) again.",
        "",
        f"> {url_note}",
        "",
        "## Launch from the console",
        "",
        "Each link opens CloudFormation's quick-create page with the stack name and every parameter filled in with "
        "this environment's values. "
        "The root creates every layer as a nested stack; a layer can be launched alone only when none of its "
        "parameters needs another layer's outputs.",
        "",
        "| template | stack name | launch |",
        "|---|---|---|",
    ]
    for launch in launches(manifest, documents, template_urls):
        link = (
            f"[quick-create]({launch.url})"
            if launch.url
            else "not alone: needs " + ", ".join(f"`{m}`" for m in launch.missing) + " (launch the root)"
        )
        lines.append(f"| {launch.file} | `{launch.stack_name}` | {link} |")
    lines += [
        "",
        "## Capabilities to acknowledge",
        "",
        "Tick these boxes at the bottom of the quick-create page (launching the root needs all of them):",
        "",
    ]
    for capability, reasons in required_capabilities(documents).items():
        lines.append(f"- **{capability}**")
        lines += [f"  - {reason}" for reason in reasons]
    lines += [
        "",
        "## Parameter reference",
        "",
        "In the console's order (the templates' interface groups). *from* is the params-file key whose value is "
        "the default, or the layer output the root passes in.",
        "",
    ]
    for file in [manifest["root"]] + [s["file"] for s in manifest["stacks"] if s.get("scope", "nested") == "nested"]:
        layer = (
            "root" if file == manifest["root"] else next(s["layer"] for s in manifest["stacks"] if s["file"] == file)
        )
        lines += parameter_reference_markdown(file, parameter_docs(documents[file], parameter_sources(manifest, layer)))
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------ architecture (Mermaid)

# Resource types on the request path, with their picture: (label, shape, rank). Rank orders
# traffic: an arrow goes from the lower rank to the higher one.
NODE_TYPES: dict[str, tuple[str, str, float]] = {
    "AWS::CloudFront::Distribution": ("CloudFront", "round", 1),
    "AWS::ApiGatewayV2::Api": ("API Gateway", "round", 2),
    "AWS::ApiGateway::RestApi": ("API Gateway", "round", 2),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("Load balancer", "round", 3),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Target group", "box", 4),
    "AWS::ECS::Service": ("ECS service", "box", 5),
    "AWS::AutoScaling::AutoScalingGroup": ("Auto Scaling group", "box", 5),
    "AWS::Lambda::Function": ("Lambda", "box", 5),
    "AWS::RDS::DBInstance": ("RDS", "db", 6),
    "AWS::RDS::DBCluster": ("Aurora", "db", 6),
    "AWS::ElastiCache::ReplicationGroup": ("ElastiCache", "db", 6),
    "AWS::ElastiCache::ServerlessCache": ("ElastiCache", "db", 6),
    "AWS::EFS::FileSystem": ("EFS", "db", 6),
    "AWS::DynamoDB::Table": ("DynamoDB", "db", 6),
    "AWS::SQS::Queue": ("SQS", "db", 6),
    "AWS::S3::Bucket": ("S3", "db", 6),
    "AWS::CodePipeline::Pipeline": ("CodePipeline", "box", 4.5),  # deploys to the services and buckets it references
    "AWS::EC2::VPC": ("VPC", "box", 0),
}
# Shown beside the path with a dotted line: they guard or authenticate, they carry no traffic.
GUARD_TYPES: dict[str, str] = {"AWS::WAFv2::WebACL": "WAF", "AWS::Cognito::UserPool": "Cognito"}
# Only shown when something on the path uses them (an S3 bucket behind CloudFront, not a log bucket).
LINKED_ONLY = {"AWS::S3::Bucket", "AWS::Lambda::Function"}
# Resources that join two path resources without being on the picture themselves.
CONNECTOR_TYPES = {
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::VpcLink",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGateway::Method",
    "AWS::ECS::TaskDefinition",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Permission",
}
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
LISTENER, LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::LoadBalancer"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
# Properties whose references are not traffic (access logs go to a bucket; nobody calls it).
NOT_TRAFFIC = {
    "Logging",
    "LoadBalancerAttributes",
    "LoggingConfiguration",
    "LogDestinationConfigs",
    "AccessLogSettings",
    "Tags",
}
SHAPES = {
    "round": ('("', '")'),
    "box": ('["', '"]'),
    "db": ('[("', '")]'),
    "guard": ('{{"', '"}}'),
    "stack": ('[["', '"]]'),
    "user": ('(["', '"])'),
}


def _refs(value: Any) -> Iterator[str]:
    """Every logical name a piece of template refers to (Ref, GetAtt, ${Name} in Sub)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in NOT_TRAFFIC:
                continue
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                yield target
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                yield from (m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", str(text)))
                if isinstance(inner, list):
                    yield from _refs(inner[1:])
            else:
                yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def _node_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)


class _Graph:
    """Resources of every layer as `layer:LogicalId`, references resolved across layers through
    the root's wiring (a layer's input parameter -> the other layer's output value)."""

    def __init__(self, manifest: dict, documents: dict[str, dict]):
        self.stacks = [s for s in manifest["stacks"] if s.get("scope", "nested") == "nested"]
        self.documents = {s["layer"]: documents[s["file"]] for s in self.stacks}
        self.types = {
            f"{layer}:{lid}": r.get("Type", "")
            for layer, doc in self.documents.items()
            for lid, r in doc.get("Resources", {}).items()
        }
        self.inputs = {s["layer"]: s.get("inputs", {}) for s in self.stacks}
        self.references: dict[str, set[str]] = {
            node: set(self._resolve(node.split(":", 1)[0], self.resource(node))) for node in self.types
        }

    def resource(self, node: str) -> dict:
        layer, lid = node.split(":", 1)
        return self.documents[layer]["Resources"][lid]

    def _resolve(self, layer: str, value: Any, depth: int = 0) -> Iterator[str]:
        resources = self.documents[layer].get("Resources", {})
        for name in _refs(
            value.get("Properties", {}) if depth == 0 and isinstance(value, dict) and "Type" in value else value
        ):
            if name in resources:
                yield f"{layer}:{name}"
            elif name in self.inputs[layer] and depth < 8:
                source_layer, output = self.inputs[layer][name].split(".", 1)
                if source_layer in self.documents:
                    out = self.documents[source_layer].get("Outputs", {}).get(output, {})
                    yield from self._resolve(source_layer, out.get("Value"), depth + 1)

    def neighbours(self, node: str) -> set[str]:
        return self.references[node] | {other for other, refs in self.references.items() if node in refs}


def _is_node(kind: str) -> bool:
    return kind in NODE_TYPES or kind in GUARD_TYPES


def _traffic(graph: _Graph) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(arrows, dotted guard links) between path resources."""
    arrows: set[tuple[str, str]] = set()
    guards: set[tuple[str, str]] = set()

    def link(a: str, b: str) -> None:
        ka, kb = graph.types[a], graph.types[b]
        if ka in GUARD_TYPES or kb in GUARD_TYPES:
            if not (ka in GUARD_TYPES and kb in GUARD_TYPES):
                guards.add((a, b) if ka in GUARD_TYPES else (b, a))
            return
        ra, rb = NODE_TYPES[ka][2], NODE_TYPES[kb][2]
        if ra and rb and ra != rb:
            arrows.add((a, b) if ra < rb else (b, a))

    # 1. References, directly or through connectors (listeners, rules, associations, task definitions).
    for start, kind in graph.types.items():
        if not _is_node(kind):
            continue
        seen, queue = {start}, deque([start])
        while queue:
            for other in graph.neighbours(queue.popleft()):
                if other in seen:
                    continue
                seen.add(other)
                if _is_node(graph.types[other]):
                    link(start, other)
                elif graph.types[other] in CONNECTOR_TYPES and (
                    graph.types[other] != LISTENER or graph.types[start] == LOAD_BALANCER
                ):
                    # a listener joins its load balancer to every rule: walked through from any other
                    # resource it would link each target group to every service behind the listener
                    queue.append(other)

    # 2. Security group rules: who may open connections to whom.
    holders: dict[str, set[str]] = {}
    for node, refs in graph.references.items():
        if _is_node(graph.types[node]):
            for group in refs:
                if graph.types[group] == SECURITY_GROUP:
                    holders.setdefault(group, set()).add(node)
    for node, kind in graph.types.items():
        rules: list[tuple[Any, Any]] = []
        properties = graph.resource(node).get("Properties", {})
        layer = node.split(":", 1)[0]
        if kind == "AWS::EC2::SecurityGroupIngress":
            rules.append((properties.get("GroupId"), properties.get("SourceSecurityGroupId")))
        elif kind == SECURITY_GROUP:
            rules += [
                ({"Ref": node.split(":", 1)[1]}, rule.get("SourceSecurityGroupId"))
                for rule in properties.get("SecurityGroupIngress", [])
                if isinstance(rule, dict)
            ]
        for target, source in rules:
            if source is None:
                continue
            for target_group in graph._resolve(layer, target, 1):
                for source_group in graph._resolve(layer, source, 1):
                    for a in holders.get(source_group, ()):
                        for b in holders.get(target_group, ()):
                            if a != b and graph.types[a] in NODE_TYPES and graph.types[b] in NODE_TYPES:
                                arrows.add((a, b))
    return arrows, guards


def _cluster_member(graph: _Graph, node: str) -> bool:
    """An Aurora writer or reader: the cluster stands for it in the picture."""
    return graph.types[node] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in graph.resource(node).get(
        "Properties", {}
    )


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _node(node_id: str, label: str, shape: str) -> str:
    opening, closing = SHAPES[shape]
    return f"{node_id}{opening}{_label(label)}{closing}"


def node_label(title: str, logical_id: str) -> str:
    """ "Load balancer" for LoadBalancer, "ECS service<br/>Api" for ServiceApiService: the kind, then
    what the logical id adds to it (its words the kind does not already say), never a repeat."""
    said = {w.lower() for w in title.split()}
    rest = [w for w in _words(logical_id).split() if w.lower() not in said]
    name = " ".join(rest)
    return f"{title}<br/>{name}" if name else title


def _entries(graph: _Graph, arrows: set[tuple[str, str]], nodes) -> list[str]:
    """Where users come in: the front doors (CloudFront, APIs, load balancers) no arrow leads to."""
    return sorted(
        n
        for n in nodes
        if graph.types[n] in NODE_TYPES
        and 0 < NODE_TYPES[graph.types[n]][2] <= 3
        and not any(b == n for _, b in arrows)
    )


def _path(graph: _Graph) -> tuple[list[str], set[tuple[str, str]], set[tuple[str, str]]]:
    """(the resources on the request path, traffic arrows, guard links): what a request from the
    users reaches through the front doors and the traffic arrows, and the guards in front of it.
    Nothing else: not the VPC (no traffic arrow), not the pipeline and its artifact bucket (no
    request reaches them). An Aurora writer or reader is drawn as its cluster."""
    arrows, guards = _traffic(graph)
    arrows = {(a, b) for a, b in arrows if not (_cluster_member(graph, a) or _cluster_member(graph, b))}
    reached = set(_entries(graph, arrows, {n for pair in arrows for n in pair} | set(graph.types)))
    queue = deque(sorted(reached))
    while queue:
        node = queue.popleft()
        for a, b in sorted(arrows):
            if a == node and b not in reached:
                reached.add(b)
                queue.append(b)
    path_guards = {(g, n) for g, n in guards if n in reached}
    shown = sorted(reached | {g for g, _ in path_guards})
    on_path = {(a, b) for a, b in arrows if a in reached and b in reached}
    # load balancer -> service beside load balancer -> target group -> service says it twice: keep the hop
    hops = {(a, c) for a, b in on_path for b2, c in on_path if b == b2 and graph.types[b] == TARGET_GROUP}
    return shown, on_path - hops, path_guards


def mermaid(manifest: dict, documents: dict[str, dict]) -> str:
    """The request path: users, then every resource traffic passes through, grouped by the layer
    (nested stack) that owns it; solid arrows are traffic (references, listener rules, security
    group rules), dotted lines are guards (WAF, Cognito). The wiring between the stacks is the
    second view (wiring_mermaid)."""
    graph = _Graph(manifest, documents)
    shown, arrows, guards = _path(graph)
    ids = {n: _node_id(*n.split(":", 1)) for n in shown}
    lines = ["flowchart LR", '  users(["Users"])']
    for stack in graph.stacks:
        layer = stack["layer"]
        members = [n for n in shown if n.startswith(layer + ":")]
        if not members:
            continue
        lines.append(f'  subgraph layer_{_node_id(layer)}["{_label(layer + " layer")}"]')
        for node in members:
            kind = graph.types[node]
            name = node.split(":", 1)[1]
            if kind in GUARD_TYPES:
                lines.append("    " + _node(ids[node], node_label(GUARD_TYPES[kind], name), "guard"))
            else:
                title, shape, _ = NODE_TYPES[kind]
                lines.append("    " + _node(ids[node], node_label(title, name), shape))
        lines.append("  end")
    lines += [f"  users --> {ids[n]}" for n in _entries(graph, arrows, shown)]
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in sorted(arrows)]
    lines += [f"  {ids[a]} -.- {ids[b]}" for a, b in sorted(guards)]
    return "\n".join(lines) + "\n"


def wiring_mermaid(manifest: dict, documents: dict[str, dict]) -> str:
    """The root's wiring: one node per nested stack, a dotted arrow per (source, consumer) pair
    labelled with the outputs passed into the consumer's parameters."""
    graph = _Graph(manifest, documents)
    lines = ["flowchart LR"]
    for stack in graph.stacks:
        layer = stack["layer"]
        lines.append(
            "  "
            + _node(
                _node_id(layer, "stack"),
                f"{layer}: {stack['logical_id']}<br/>{len(graph.documents[layer].get('Resources', {}))} resources",
                "stack",
            )
        )
    wiring: dict[tuple[str, str], set[str]] = {}
    for stack in graph.stacks:
        for wire in stack.get("inputs", {}).values():
            source, output = wire.split(".", 1)
            if source in graph.documents:
                wiring.setdefault((source, stack["layer"]), set()).add(output)
    for (source, target), outputs in sorted(wiring.items()):
        lines.append(
            f'  {_node_id(source, "stack")} -.->|"{_label(", ".join(sorted(outputs)))}"| {_node_id(target, "stack")}'
        )
    return "\n".join(lines) + "\n"


def layers_table(manifest: dict, documents: dict[str, dict]) -> list[str]:
    """Every layer in deployment order: its stack, how many resources, which of them are on the
    request path, and which layers it feeds."""
    graph = _Graph(manifest, documents)
    shown, _, _ = _path(graph)
    feeds: dict[str, set[str]] = {}
    for stack in graph.stacks:
        for wire in stack.get("inputs", {}).values():
            source = wire.split(".", 1)[0]
            if source in graph.documents:
                feeds.setdefault(source, set()).add(stack["layer"])
    rows = ["| layer | nested stack | resources | on the request path | feeds |", "|---|---|---|---|---|"]
    for stack in graph.stacks:
        layer = stack["layer"]
        on_path = [
            node_label(GUARD_TYPES.get(graph.types[n]) or NODE_TYPES[graph.types[n]][0], n.split(":", 1)[1]).replace(
                "<br/>", " "
            )
            for n in shown
            if n.startswith(layer + ":")
        ]
        rows.append(
            f"| {layer} | `{stack['logical_id']}` | {len(graph.documents[layer].get('Resources', {}))} | "
            f"{', '.join(on_path) or '-'} | {', '.join(sorted(feeds.get(layer, ()))) or '-'} |"
        )
    return rows


def architecture_markdown(manifest: dict, documents: dict[str, dict]) -> str:
    app, env = manifest["application"], manifest["environment"]
    return "\n".join(
        [
            f"# Architecture: {app} / {env}",
            "",
            f"Derived by cfn-strata from the generated templates of `{app}` ({env}, {manifest['region']}); do not "
            "edit, run `cfn-strata docs` again.",
            "",
            "## Request path",
            "",
            "Groups are layers (nested stacks); solid arrows are traffic (references, listener rules and security "
            "group rules); "
            "dotted lines are guards (WAF, Cognito).",
            "",
            "```mermaid",
            mermaid(manifest, documents).rstrip(),
            "```",
            "",
            "## Layers",
            "",
            *layers_table(manifest, documents),
            "",
            "<details><summary>Wiring between the nested stacks (which outputs the root passes into which layer's "
            "parameters)</summary>",
            "",
            "```mermaid",
            wiring_mermaid(manifest, documents).rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
    )


def docs_files(
    manifest: dict, documents: dict[str, dict], template_urls: dict[str, str], *, url_note: str
) -> dict[str, bytes]:
    """The files of dist/<app>/<env>/docs/."""
    return {
        "LAUNCH.md": launch_markdown(manifest, documents, template_urls, url_note=url_note).encode(),
        "architecture.md": architecture_markdown(manifest, documents).encode(),
    }
