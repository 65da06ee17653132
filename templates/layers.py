"""The layer registry: which layer modules exist, in deployment order.

A layer module exposes `build(cfg) -> Layer | list[Layer] | None`: None when the profile does
not need the layer, a list when the layer is split (per service, or a global us-east-1 part).
"""

from __future__ import annotations

from templates import audit, auth, backup, cicd, compute, data, edge, network, observability, security
from templates.common import Layer
from templates.config import AppConfig

# Deployment order: a layer's inputs come from layers before it.
LAYER_MODULES = (network, security, data, auth, edge, compute, observability, cicd, backup, audit)


def build_all(cfg: AppConfig) -> list[Layer]:
    built: list[Layer] = []
    for module in LAYER_MODULES:
        result = module.build(cfg)
        if result is None:
            continue
        built.extend(result if isinstance(result, list) else [result])
    names = [layer.name for layer in built]
    if len(set(names)) != len(names):
        raise ValueError(f"two layers share a name: {names}")
    return built
