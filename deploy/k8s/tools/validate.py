"""Validate the rendered Kubernetes manifests offline, strictly, against the API's own schemas.

Built-in kinds are checked against the Kubernetes API's OpenAPI v3 spec (the version in
``versions.env``), custom resources against their CRDs' ``openAPIV3Schema`` (KEDA's, Strimzi's);
every object's metadata against ``ObjectMeta``. Strict, like ``kubectl apply --validate=strict``:
a field the schema does not know is an error (the API server would drop or refuse it), as is a
kind no schema describes. ``deploy/k8s/tools/fetch.sh`` fetches the schemas and kustomize first.

    python deploy/k8s/tools/validate.py                # every overlay
    python deploy/k8s/tools/validate.py production     # one
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

K8S_DIR = Path(__file__).resolve().parents[1]
REPO = K8S_DIR.parents[1]
OVERLAYS = K8S_DIR / "overlays"

# A quantity as the API parses it (resource.Quantity's grammar): 500m, 1.5, 512Mi, 1e3.
_QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[mkMGTPE]|[eE][+-]?[0-9]+)?$"


def cache_dir() -> Path:
    return Path(os.environ.get("AEGIS_K8S_CACHE", REPO / ".cache" / "k8s"))


class SchemasMissing(RuntimeError):
    pass


def _require(path: Path) -> Path:
    if not path.exists():
        raise SchemasMissing(f"{path} is missing: run `make k8s-tools` (deploy/k8s/tools/fetch.sh) once")
    return path


@dataclass
class Problem:
    source: str
    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}/{self.name}: {self.path or '(root)'}: {self.message}"


@dataclass
class Report:
    objects: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _strict(schema: Any, *, crd: bool = False) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object node that lists its properties and
    allows nothing else (CRDs: unless ``x-kubernetes-preserve-unknown-fields``), so unknown fields fail.
    Only structural nodes (``type: object``): a ``oneOf`` branch naming one property is a constraint."""
    if isinstance(schema, dict):
        out = {k: _strict(v, crd=crd) for k, v in schema.items()}
        if (out.get("type") == "object" and "properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        if crd and out.get("x-kubernetes-int-or-string") and "type" not in out:
            out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
        return out
    if isinstance(schema, list):
        return [_strict(v, crd=crd) for v in schema]
    return schema


@cache
def _openapi_file(group: str, version: str) -> dict:
    directory = _require(cache_dir() / "openapi")
    name = f"api__{version}_openapi.json" if group == "" else f"apis__{group}__{version}_openapi.json"
    path = directory / name
    if not path.exists():
        raise KeyError(f"the Kubernetes API has no group/version {group or 'core'}/{version}")
    spec = json.loads(path.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    quantity = schemas.get("io.k8s.apimachinery.pkg.api.resource.Quantity")
    if quantity:
        quantity["oneOf"] = [{"type": "string", "pattern": _QUANTITY}, {"type": "number"}]
    return {"components": {"schemas": _strict(schemas)}}


def _builtin_schema(group: str, version: str, kind: str) -> dict | None:
    spec = _openapi_file(group, version)
    for name, schema in spec["components"]["schemas"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group", "") == group and gvk["version"] == version and gvk["kind"] == kind:
                return {"$ref": f"#/components/schemas/{name}", **spec}
    return None


@cache
def _crd_schemas() -> dict[tuple[str, str, str], dict]:
    found: dict[tuple[str, str, str], dict] = {}
    for path in sorted(_require(cache_dir() / "crds").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                # metadata is checked against ObjectMeta for every object; the CRD only says "object"
                schema.get("properties", {}).pop("metadata", None)
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                found[(spec["group"], version["name"], spec["names"]["kind"])] = _strict(schema, crd=True)
    return found


def _crd_kinds() -> set[tuple[str, str]]:
    return {(group, kind) for group, _, kind in _crd_schemas()}


def _object_meta_schema() -> dict:
    spec = _openapi_file("", "v1")
    return {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", **spec}


def schema_for(api_version: str, kind: str) -> dict | None:
    group, _, version = api_version.rpartition("/")
    crd = _crd_schemas().get((group, version, kind))
    if crd is not None:
        return crd
    try:
        return _builtin_schema(group, version, kind)
    except KeyError:
        return None


def _errors(schema: dict, instance: Any) -> Iterator[tuple[str, str]]:
    validator = Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        # a oneOf/anyOf failure: its most specific reason
        best = error
        while best.context:
            best = min(best.context, key=lambda e: (len(e.absolute_path) * -1, str(e.message)))
        where = "/".join(str(p) for p in best.absolute_path) or "/".join(str(p) for p in error.absolute_path)
        yield where, best.message


def validate_objects(objects: list[dict], source: str) -> list[Problem]:
    problems: list[Problem] = []
    meta = _object_meta_schema()
    for obj in objects:
        kind, name = obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?")
        if not obj.get("apiVersion") or not obj.get("kind"):
            problems.append(Problem(source, kind, name, "", "apiVersion and kind are required"))
            continue
        schema = schema_for(obj["apiVersion"], obj["kind"])
        if schema is None:
            problems.append(Problem(source, kind, name, "", f"no schema for {obj['apiVersion']} {obj['kind']} "
                                                            "(neither the Kubernetes API nor a fetched CRD has it)"))
            continue
        for where, message in _errors(schema, obj):
            problems.append(Problem(source, kind, name, where, message))
        if "." in obj["apiVersion"].split("/")[0] and (obj["apiVersion"].split("/")[0], obj["kind"]) in _crd_kinds():
            for where, message in _errors(meta, obj.get("metadata") or {}):  # a CRD's schema says only "object"
                problems.append(Problem(source, kind, name, f"metadata/{where}", message))
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) or len(name) > 253:
            problems.append(Problem(source, kind, name, "metadata/name", "not a valid DNS subdomain name"))
    return problems


def kustomize() -> Path:
    return _require(cache_dir() / "bin" / "kustomize")


def render(overlay: Path) -> list[dict]:
    """``kustomize build`` of ``overlay``: its objects."""
    result = subprocess.run([str(kustomize()), "build", str(overlay)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlays() -> list[Path]:
    return sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())


def validate_overlay(overlay: Path) -> Report:
    objects = render(overlay)
    return Report(objects=objects, problems=validate_objects(objects, f"overlays/{overlay.name}"))


def main(argv: list[str]) -> int:
    chosen = [OVERLAYS / name for name in argv] or overlays()
    failed = False
    for overlay in chosen:
        report = validate_overlay(overlay)
        kinds = sorted({o["kind"] for o in report.objects})
        print(f"overlays/{overlay.name}: {len(report.objects)} objects ({', '.join(kinds)}): "
              f"{'valid' if not report.problems else f'{len(report.problems)} problem(s)'}")
        for problem in report.problems:
            print(f"  {problem}")
        failed |= bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
