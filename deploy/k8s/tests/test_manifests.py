"""Checks of deploy/k8s: the kustomize base, its components and the dev and prod overlays.

Two ways to get the manifests an overlay produces, both checked by the same rules:

- `lite`: pure Python (PyYAML). Reads every file the kustomizations name and applies the subset of
  kustomize these manifests use (namespace, images, replicas, strategic-merge patches merged by
  `name`, `$patch: delete`, JSON 6902 patches, label-selected targets, secretGenerator from env
  files). Always runs.
- `kustomize`: the real build, with `kustomize build` or `kubectl kustomize`, when either is on PATH;
  skipped otherwise. The lite render is also compared with it, so the lite renderer cannot drift
  into checking something kustomize would not produce.

Run: cd /work/main && uv run pytest deploy/k8s/tests -q
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from servicekit.sealed import ClaimKeys

K8S = Path(__file__).resolve().parents[1]
BASE = K8S / "base"
OVERLAYS = ("dev", "prod")

SERVICES = ("identity", "vehicle", "license", "plate-pool", "violation", "notify")
PLATFORM_IMAGES = (*SERVICES, "gateway")
# AUTH__CLAIM_KEYS: the keys of the tokens' sealed claims, the same in every service (ADR 0082).
# CRYPTO__*_KEYS: each service's own keys for personal data at rest (ADR 0095).
SERVICE_SECRET_KEYS = (
    "DATABASE__URL",
    "BROKER__URL",
    "REDIS__URL",
    "SECRET_KEY",
    "AUTH__CLAIM_KEYS",
    "CRYPTO__DATA_KEYS",
    "CRYPTO__INDEX_KEYS",
)

# <optional registry/path/>tms/<component>[:tag]: one pattern for every image the platform builds.
IMAGE_RE = re.compile(
    r"^(?:(?P<registry>[a-z0-9.-]+(?::\d+)?(?:/[a-z0-9._-]+)*)/)?tms/(?P<component>[a-z][a-z-]*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$"
)
# A URL carrying a password (scheme://user:password@host): never in base or prod.
URL_WITH_PASSWORD_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.IGNORECASE)
# Env names whose value is a credential: they must come from a Secret, not from `value:`.
SECRET_ENV_NAME_RE = re.compile(
    r"(SECRET|PASSWORD|PASS|TOKEN|PRIVATE_KEY|API_KEY|SECRET_KEY|CLAIM_KEYS|DATA_KEYS|INDEX_KEYS|DATABASE__URL|BROKER__URL|REDIS__URL"
    r"|ADMIN_URL)$"
)


Doc = dict[str, Any]


def prefix(service: str) -> str:
    return "TMS_" + service.upper().replace("-", "_") + "__"


def package(service: str) -> str:
    return service.replace("-", "_") + "_service"


# ------------------------------------------------------------------------------------------------
# Loading


def load_docs(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def load_kustomization(directory: Path) -> Doc:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            (doc,) = load_docs(directory / name)
            return doc
    raise FileNotFoundError(f"no kustomization in {directory}")


def parse_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {raw!r}"
        out[key] = value
    return out


def selector_matches(selector: Doc | None, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def label_selector_string_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


# ------------------------------------------------------------------------------------------------
# The pure-Python render: the subset of kustomize these manifests use.


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for these manifests: maps merge, `null` deletes a key,
    lists of maps with `name` merge by name (containers, env, volumes, ports), other lists replace."""
    if isinstance(target, dict) and isinstance(patch, dict):
        out = dict(target)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if (
        isinstance(target, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in target + patch)
    ):
        out_list = [dict(i) for i in target]
        for item in patch:
            for i, existing in enumerate(out_list):
                if existing["name"] == item["name"]:
                    out_list[i] = strategic_merge(existing, item)
                    break
            else:
                out_list.insert(0, copy.deepcopy(item))  # kustomize puts new items first
        return out_list
    return copy.deepcopy(patch)


def json_patch(doc: Doc, ops: list[Doc]) -> Doc:
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent: Any = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        key: Any = int(last) if isinstance(parent, list) and last != "-" else last
        if op["op"] in ("replace", "add"):
            if isinstance(parent, list) and op["op"] == "add":
                parent.insert(len(parent) if key == "-" else key, op["value"])
            else:
                parent[key] = op["value"]
        elif op["op"] == "remove":
            del parent[key]
        else:
            raise NotImplementedError(op["op"])
    return doc


def _targets(docs: list[Doc], target: Doc | None, patch_doc: Doc | None) -> list[int]:
    if target is None:
        assert patch_doc is not None
        want = (patch_doc["kind"], patch_doc["metadata"]["name"])
        hits = [i for i, d in enumerate(docs) if (d["kind"], d["metadata"]["name"]) == want]
        assert len(hits) == 1, f"patch for {want} matches {len(hits)} resources"
        return hits
    hits = []
    for i, d in enumerate(docs):
        if "kind" in target and d["kind"] != target["kind"]:
            continue
        if "name" in target and d["metadata"]["name"] != target["name"]:
            continue
        if "labelSelector" in target and not label_selector_string_matches(
            target["labelSelector"], d["metadata"].get("labels") or {}
        ):
            continue
        hits.append(i)
    assert hits, f"patch target {target} matches nothing"
    return hits


def apply_patches(directory: Path, docs: list[Doc], patches: list[Doc]) -> list[Doc]:
    for entry in patches:
        text = (directory / entry["path"]).read_text(encoding="utf-8") if "path" in entry else entry["patch"]
        parsed = [d for d in yaml.safe_load_all(text) if d is not None]
        if len(parsed) == 1 and isinstance(parsed[0], list):  # JSON 6902
            for i in _targets(docs, entry.get("target"), None):
                docs[i] = json_patch(docs[i], parsed[0])
            continue
        for patch_doc in parsed:
            hits = _targets(docs, entry.get("target"), patch_doc)
            if patch_doc.get("$patch") == "delete":
                docs = [d for i, d in enumerate(docs) if i not in hits]
                continue
            body = {k: v for k, v in patch_doc.items() if k not in ("apiVersion", "kind", "metadata")}
            for i in hits:
                docs[i] = strategic_merge(docs[i], body)
    return docs


def render_lite(directory: Path) -> list[Doc]:
    """The manifests a kustomization produces (without name-suffix hashes)."""
    kust = load_kustomization(directory)
    docs: list[Doc] = []
    for res in kust.get("resources", []):
        path = directory / res
        docs.extend(render_lite(path) if path.is_dir() else load_docs(path))
    for gen in kust.get("secretGenerator", []):
        data: dict[str, str] = {}
        for env_file in gen.get("envs", []):
            data.update(parse_env_file(directory / env_file))
        for literal in gen.get("literals", []):
            k, _, v = literal.partition("=")
            data[k] = v
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": gen["name"]},
                "type": "Opaque",
                "stringData": data,
            }
        )
    for comp in kust.get("components", []):
        comp_dir = directory / comp
        comp_kust = load_kustomization(comp_dir)
        assert comp_kust["kind"] == "Component", comp_dir
        for res in comp_kust.get("resources", []):
            docs.extend(load_docs(comp_dir / res))
        docs = apply_patches(comp_dir, docs, comp_kust.get("patches", []))
    docs = apply_patches(directory, docs, kust.get("patches", []))
    for label in kust.get("labels", []):
        for d in docs:
            d.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
            tmpl = (d.get("spec") or {}).get("template")
            if label.get("includeTemplates") and tmpl:
                tmpl.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    if "namespace" in kust:
        for d in docs:
            if d["kind"] != "Namespace":
                d["metadata"]["namespace"] = kust["namespace"]
    replicas = {r["name"]: r["count"] for r in kust.get("replicas", [])}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] in replicas:
            d["spec"]["replicas"] = replicas[d["metadata"]["name"]]
    images = {i["name"]: i for i in kust.get("images", [])}
    for c in all_containers(docs):
        name, _, tag = c["image"].partition(":")
        if name in images:
            rule = images[name]
            tag = str(rule.get("newTag", tag))
            c["image"] = rule.get("newName", name) + (f":{tag}" if tag else "")
    return docs


# ------------------------------------------------------------------------------------------------
# The real build


@cache
def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        probe = subprocess.run(["kubectl", "kustomize", "--help"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["kubectl", "kustomize"]
    return None


@cache
def _render_kustomize(directory: Path) -> str:
    cmd = kustomize_command()
    assert cmd is not None
    proc = subprocess.run([*cmd, str(directory)], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, f"{' '.join(cmd)} {directory} failed:\n{proc.stderr}"
    return proc.stdout


def render_kustomize(directory: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(_render_kustomize(directory)) if d]


RENDERERS: dict[str, Callable[[Path], list[Doc]]] = {"lite": render_lite, "kustomize": render_kustomize}


def render(how: str, directory: Path) -> list[Doc]:
    if how == "kustomize" and kustomize_command() is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    return copy.deepcopy(RENDERERS[how](directory))


# ------------------------------------------------------------------------------------------------
# Accessors


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(d: Doc) -> Doc:
    spec: Doc = d["spec"]["template"]["spec"]
    return spec


def containers_of(d: Doc, *, init: bool = True) -> list[Doc]:
    spec = pod_spec(d)
    return [*(spec.get("initContainers") or [] if init else []), *spec["containers"]]


def all_containers(docs: list[Doc]) -> Iterator[Doc]:
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            yield from containers_of(d)


def platform_workloads(docs: list[Doc]) -> list[Doc]:
    """The Deployments built from the platform's own image (not the dev servers or the collector)."""
    out = []
    for d in docs:
        if d["kind"] == "Deployment":
            images = {c["image"] for c in containers_of(d)}
            if any(IMAGE_RE.match(i) for i in images):
                out.append(d)
    return out


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env") or []}


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)


def quantity(value: str | int | float) -> float:
    s = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * factor
    return float(s)


def port_numbers(container: Doc) -> dict[str | int, int]:
    out: dict[str | int, int] = {}
    for p in container.get("ports") or []:
        out[p["containerPort"]] = p["containerPort"]
        if "name" in p:
            out[p["name"]] = p["containerPort"]
    return out


# ------------------------------------------------------------------------------------------------
# The rules. Each returns the problems it finds; the tests assert there are none, and the
# negative tests below assert that a broken manifest is caught.


def problems_services(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    pdbs, sas = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "ServiceAccount")
    for svc in SERVICES:
        api, worker = deployments.get(f"{svc}-api"), deployments.get(f"{svc}-worker")
        if api is None or worker is None:
            found.append(f"{svc}: api and worker Deployments required")
            continue
        api_c = {c["name"]: c for c in containers_of(api, init=False)}.get("api")
        worker_c = {c["name"]: c for c in containers_of(worker, init=False)}.get("worker")
        if api_c is None or worker_c is None:
            found.append(f"{svc}: containers `api` and `worker` required")
            continue
        if api_c.get("command") != [
            "uvicorn",
            "--factory",
            f"{package(svc)}.main:create_app",
            "--host",
            "0.0.0.0",  # noqa: S104 - the contract: the api listens on the pod's address
            "--port",
            "8000",
            "--no-proxy-headers",  # the client's address is servicekit's to decide (ADR 0083)
            "--http",  # one socket write per tick (ADR 0102)
            "servicekit.web.http:CoalescingHttpToolsProtocol",
        ]:
            found.append(f"{svc}-api: command is not the api contract: {api_c.get('command')}")
        if worker_c.get("command") != ["python", "-m", f"{package(svc)}.worker"]:
            found.append(f"{svc}-worker: command is not the worker contract: {worker_c.get('command')}")
        # servicekit.worker.WorkerHealth: the port setting and the liveness probe go together.
        health_port = (env_of(worker_c).get(f"{prefix(svc)}WORKER_HEALTH_PORT") or {}).get("value")
        liveness = (worker_c.get("livenessProbe") or {}).get("httpGet") or {}
        probe_port = port_numbers(worker_c).get(liveness.get("port", -1), liveness.get("port"))
        if health_port is None or liveness.get("path") != "/healthz" or str(probe_port) != str(health_port):
            found.append(f"{svc}-worker: needs {prefix(svc)}WORKER_HEALTH_PORT and a liveness probe on it")
        migrate = [
            c
            for c in pod_spec(api).get("initContainers") or []
            if c.get("command") == ["python", "-m", "servicekit.migrate", svc]
        ]
        if len(migrate) != 1:
            found.append(f"{svc}-api: one initContainer must run `python -m servicekit.migrate {svc}`")

        # Probes on the api, on a port the container declares.
        ports = port_numbers(api_c)
        for probe, path in (
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ):
            get = (api_c.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != path:
                found.append(f"{svc}-api: {probe} must GET {path}, has {get or None}")
            elif get.get("port") not in ports:
                found.append(f"{svc}-api: {probe} port {get.get('port')} is not a container port")

        # The Service reaches the api pods and only them.
        service = services.get(f"{svc}-api")
        api_labels = api["spec"]["template"]["metadata"]["labels"]
        worker_labels = worker["spec"]["template"]["metadata"]["labels"]
        if service is None:
            found.append(f"{svc}: Service {svc}-api required")
        else:
            sel = {"matchLabels": service["spec"]["selector"]}
            if not selector_matches(sel, api_labels) or selector_matches(sel, worker_labels):
                found.append(f"{svc}-api Service: selector must pick the api pods and not the worker's")
            for p in service["spec"]["ports"]:
                if p.get("targetPort", p["port"]) not in ports:
                    found.append(f"{svc}-api Service: targetPort {p.get('targetPort')} not on the api")

        # The PodDisruptionBudget covers the api.
        pdb = pdbs.get(f"{svc}-api")
        if pdb is None or not selector_matches(pdb["spec"]["selector"], api_labels):
            found.append(f"{svc}: a PodDisruptionBudget must select the api pods")

        # Own ServiceAccount without a token, own Secret, own settings prefix.
        for d in (api, worker):
            name = d["metadata"]["name"]
            spec = pod_spec(d)
            sa = sas.get(spec.get("serviceAccountName", ""))
            if sa is None or sa.get("automountServiceAccountToken") is not False:
                found.append(f"{name}: needs its own ServiceAccount with automountServiceAccountToken: false")
            if spec.get("automountServiceAccountToken") is not False:
                found.append(f"{name}: pod must not mount a service account token")
            for c in containers_of(d):
                refs = [e["secretRef"]["name"] for e in c.get("envFrom") or [] if "secretRef" in e]
                # kustomize's secretGenerator appends a hash of the content to the name.
                if not any(re.fullmatch(rf"{svc}-secrets(-[a-z0-9]{{10}})?", r) for r in refs):
                    found.append(f"{name}/{c['name']}: must read Secret {svc}-secrets with envFrom")
                for env_name in env_of(c):
                    if (
                        env_name.startswith("TMS_")
                        and env_name != "TMS_ENV"
                        and not env_name.startswith(prefix(svc))
                    ):
                        found.append(f"{name}/{c['name']}: {env_name} is not a {prefix(svc)} setting")
    return found


def problems_security(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    for d in platform_workloads(docs):
        name = d["metadata"]["name"]
        pod_sc = pod_spec(d).get("securityContext") or {}
        for c in containers_of(d):
            sc = {**{k: v for k, v in pod_sc.items() if k != "fsGroup"}, **(c.get("securityContext") or {})}
            where = f"{name}/{c['name']}"
            if sc.get("runAsNonRoot") is not True:
                found.append(f"{where}: runAsNonRoot must be true")
            if sc.get("runAsUser", 0) == 0:
                found.append(f"{where}: must run as a non-zero uid")
            if sc.get("readOnlyRootFilesystem") is not True:
                found.append(f"{where}: readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                found.append(f"{where}: capabilities must drop ALL")
            if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                found.append(f"{where}: seccompProfile must be RuntimeDefault")
            if sc.get("privileged"):
                found.append(f"{where}: privileged")
    return found


def problems_resources(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in containers_of(d):
            where = f"{d['metadata']['name']}/{c['name']}"
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            for r in ("cpu", "memory"):
                if r not in req or r not in lim:
                    found.append(f"{where}: requests and limits for {r} required")
                elif quantity(lim[r]) < quantity(req[r]):
                    found.append(f"{where}: {r} limit below its request")
    return found


def problems_workload_shape(docs: list[Doc]) -> list[str]:
    """Selectors pick their own template, probes use declared ports, volumes exist."""
    found: list[str] = []
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = d["metadata"]["name"]
        if not selector_matches(d["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]):
            found.append(f"{name}: selector does not match its pod template")
        volumes = {v["name"] for v in pod_spec(d).get("volumes") or []}
        claims = {t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates") or []}
        for c in containers_of(d):
            for m in c.get("volumeMounts") or []:
                if m["name"] not in volumes | claims:
                    found.append(f"{name}/{c['name']}: mounts unknown volume {m['name']}")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                p = c.get(probe) or {}
                port = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                if port is not None and port not in port_numbers(c):
                    found.append(f"{name}/{c['name']}: {probe} port {port} not declared")
    return found


def problems_plate_pool(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    api = by_kind(docs, "Deployment").get("plate-pool-api")
    if api is None:
        return ["plate-pool-api Deployment missing"]
    replicas = api["spec"].get("replicas", 1)
    if replicas < 2:
        found.append(f"plate-pool-api: replicas {replicas} < 2")
    labels = api["spec"]["template"]["metadata"]["labels"]
    pdbs = [
        p
        for p in by_kind(docs, "PodDisruptionBudget").values()
        if selector_matches(p["spec"]["selector"], labels)
    ]
    if len(pdbs) != 1:
        found.append(f"plate-pool-api: exactly one PDB must cover it, found {len(pdbs)}")
    else:
        min_available = pdbs[0]["spec"].get("minAvailable")
        if not isinstance(min_available, int) or min_available < 2:
            found.append("plate-pool-api PDB: minAvailable must be at least 2")
        elif min_available >= replicas:
            found.append("plate-pool-api PDB: minAvailable >= replicas would block every drain")
    hpas = [
        h
        for h in by_kind(docs, "HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "plate-pool-api"}
    ]
    if len(hpas) != 1:
        found.append("plate-pool-api: one HorizontalPodAutoscaler must target it")
    else:
        spec = hpas[0]["spec"]
        if spec["minReplicas"] < 2 or spec["maxReplicas"] <= spec["minReplicas"]:
            found.append("plate-pool-api HPA: needs minReplicas >= 2 and room above it")
        if spec["minReplicas"] != replicas:
            found.append("plate-pool-api: Deployment replicas must equal the HPA's minReplicas")
        if not any(m.get("resource", {}).get("name") == "cpu" for m in spec.get("metrics", [])):
            found.append("plate-pool-api HPA: must scale on CPU")
    return found


def problems_images(docs: list[Doc], *, tagged: bool) -> list[str]:
    """One naming pattern for every platform image; in an overlay one registry and one tag."""
    found: list[str] = []
    registries, tags = set(), set()
    for d in platform_workloads(docs):
        expected = (
            "gateway" if d["metadata"]["name"] == "gateway" else d["metadata"]["name"].rsplit("-", 1)[0]
        )
        for c in containers_of(d):
            m = IMAGE_RE.match(c["image"])
            if m is None:
                where = f"{d['metadata']['name']}/{c['name']}"
                found.append(f"{where}: image {c['image']} is not <registry/>tms/<name>:<tag>")
                continue
            if m["component"] != expected:
                found.append(f"{d['metadata']['name']}/{c['name']}: runs image of {m['component']}")
            registries.add(m["registry"])
            tags.add(m["tag"])
            if tagged and (not m["tag"] or m["tag"] == "latest"):
                found.append(f"{d['metadata']['name']}/{c['name']}: needs a release tag, has {m['tag']}")
    if len(registries) > 1 or len(tags) > 1:
        found.append(f"platform images differ in registry {registries} or tag {tags}")
    for c in all_containers(docs):
        if not IMAGE_RE.match(c["image"]) and (":" not in c["image"] or c["image"].endswith(":latest")):
            found.append(f"third-party image {c['image']} must be pinned to a version")
    return found


def problems_gateway(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    gw = by_kind(docs, "Deployment").get("gateway")
    if gw is None:
        return ["gateway Deployment missing"]
    containers = {c["name"]: c for c in containers_of(gw, init=False)}
    nginx, app = containers.get("nginx"), containers.get("app")
    if nginx is None or app is None:
        return [f"gateway: containers nginx and app required, has {sorted(containers)}"]
    init = [
        c
        for c in pod_spec(gw).get("initContainers") or []
        if (c.get("command") or [])[:3] == ["python", "-m", "gateway_service.nginx"]
    ]
    if len(init) != 1:
        return [*found, "gateway: an init container must render nginx.conf with gateway_service.nginx"]
    args = init[0].get("args") or []
    out = args[args.index("--out") + 1] if "--out" in args else ""
    if out != "/etc/nginx/nginx.conf" or "--env" not in args:
        found.append(f"gateway: renderer must write /etc/nginx/nginx.conf for an --env, args {args}")
    command = nginx.get("command") or []
    if command[:3] != ["nginx", "-c", out]:
        found.append(f"gateway/nginx: must run nginx -c {out}, runs {command}")
    if any("daemon" in part for part in command):
        found.append("gateway/nginx: the rendered file sets `daemon off`; nginx refuses it twice")
    if "gateway_service.app:create_app" not in (app.get("command") or []) or "8001" not in app["command"]:
        found.append("gateway/app: must run gateway_service.app:create_app on 8001")
    # nginx reads the file the init container wrote, and writes its pid and temp files beside it
    # (the renderer's prefix is the file's directory): one emptyDir at the same path in both.
    volumes = {v["name"]: v for v in pod_spec(gw).get("volumes") or []}
    written = {m["mountPath"]: m["name"] for m in init[0].get("volumeMounts") or []}
    read = {m["mountPath"]: m for m in nginx.get("volumeMounts") or []}
    conf_dir = str(Path(out).parent)
    if conf_dir not in written or conf_dir not in read or read[conf_dir]["name"] != written[conf_dir]:
        found.append(f"gateway: nginx and the renderer must share one volume at {conf_dir}")
    elif "emptyDir" not in volumes.get(written[conf_dir], {}):
        found.append("gateway: nginx.conf must live in an emptyDir")
    elif read[conf_dir].get("readOnly"):
        found.append("gateway: nginx writes its pid and temp files there; it cannot be read-only")
    # The Service sends to nginx, the Ingress to the Service.
    svc = by_kind(docs, "Service").get("gateway")
    if svc is None or svc["spec"]["ports"][0]["targetPort"] not in port_numbers(nginx):
        found.append("gateway Service must target nginx's port")
    ingress = by_kind(docs, "Ingress").get("gateway")
    backends = [
        p["backend"]["service"]["name"]
        for r in (ingress or {}).get("spec", {}).get("rules", [])
        for p in r["http"]["paths"]
    ]
    if backends != ["gateway"]:
        found.append(f"Ingress must route to the gateway Service only, routes to {backends}")
    return found


def problems_no_plaintext_secrets(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Secret" and (d.get("data") or d.get("stringData")):
            found.append(f"{name}: a Secret with values")
        for s in walk_strings(d):
            if URL_WITH_PASSWORD_RE.search(s):
                found.append(f"{name}: a URL with a password: {s}")
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in containers_of(d):
                for env_name, e in env_of(c).items():
                    if SECRET_ENV_NAME_RE.search(env_name) and "value" in e:
                        found.append(f"{name}/{c['name']}: {env_name} has a literal value")
    return found


def problems_network(docs: list[Doc]) -> list[str]:
    found: list[str] = []
    policies = list(by_kind(docs, "NetworkPolicy").values())
    if not any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        found.append("no default-deny NetworkPolicy for ingress and egress")
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in by_kind(docs, "Deployment").values()
    }
    gateway_labels = pods.get("gateway", {})

    def ingress_peers(labels: dict[str, str]) -> list[Doc]:
        peers: list[Doc] = []
        for p in policies:
            if "Ingress" in p["spec"].get("policyTypes", []) and selector_matches(
                p["spec"]["podSelector"], labels
            ):
                for rule in p["spec"].get("ingress") or []:
                    peers.extend(rule.get("from") or [{}])  # no `from` = from anywhere
        return peers

    def egress_ports(labels: dict[str, str]) -> set[int]:
        ports: set[int] = set()
        for p in policies:
            if "Egress" in p["spec"].get("policyTypes", []) and selector_matches(
                p["spec"]["podSelector"], labels
            ):
                for rule in p["spec"].get("egress") or []:
                    ports |= {q["port"] for q in rule.get("ports") or []}
        return ports

    for svc in SERVICES:
        api_labels, worker_labels = pods[f"{svc}-api"], pods[f"{svc}-worker"]
        for peer in ingress_peers(api_labels):
            from_gateway = set(peer) == {"podSelector"} and selector_matches(
                peer["podSelector"], gateway_labels
            )
            # identity also answers other api pods: they fetch its JWKS.
            from_api = (
                svc == "identity"
                and set(peer) == {"podSelector"}
                and selector_matches(peer["podSelector"], pods["vehicle-api"])
                and not selector_matches(peer["podSelector"], pods["vehicle-worker"])
            )
            if not (from_gateway or from_api):
                found.append(f"{svc}-api: reachable from {peer}, not only from the gateway")
        if not ingress_peers(api_labels):
            found.append(f"{svc}-api: the gateway cannot reach it")
        if ingress_peers(worker_labels):
            found.append(f"{svc}-worker: must accept no connections")
        for labels, what in ((api_labels, "api"), (worker_labels, "worker")):
            missing = {5432, 5672, 6379} - egress_ports(labels)
            if missing:
                found.append(f"{svc}-{what}: cannot reach PostgreSQL/RabbitMQ/Redis ports {sorted(missing)}")
    return found


def all_problems(docs: list[Doc], *, tagged: bool, ha: bool = True) -> list[str]:
    """Every rule; `ha=False` (dev) leaves out plate-pool's replicas, autoscaler and budget."""
    return [
        *problems_services(docs),
        *problems_security(docs),
        *problems_resources(docs),
        *problems_workload_shape(docs),
        *(problems_plate_pool(docs) if ha else []),
        *problems_images(docs, tagged=tagged),
        *problems_gateway(docs),
        *problems_network(docs),
    ]


# ------------------------------------------------------------------------------------------------
# Base


@pytest.fixture(scope="module")
def base_docs() -> list[Doc]:
    return render_lite(BASE)


def test_base_has_one_file_per_service_and_names_every_file() -> None:
    kust = load_kustomization(BASE)
    assert kust["namespace"] == "tms"
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kust["resources"]) == files, "every base file is a resource and every resource exists"
    for svc in (*SERVICES, "gateway"):
        assert f"{svc}.yaml" in files
        kinds = {d["kind"] for d in load_docs(BASE / f"{svc}.yaml")}
        assert {"ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"} <= kinds, svc
    assert {d["kind"] for d in load_docs(BASE / "networkpolicy.yaml")} == {"NetworkPolicy"}


def test_every_yaml_file_parses_into_kubernetes_objects() -> None:
    for path in sorted(K8S.rglob("*.yaml")):
        for d in load_docs(path):
            if isinstance(d, list):  # a JSON 6902 patch
                continue
            assert {"apiVersion", "kind"} <= set(d), f"{path}: {d}"


def test_base_passes_every_rule(base_docs: list[Doc]) -> None:
    assert all_problems(base_docs, tagged=False) == []


def test_base_namespace_enforces_restricted_pod_security(base_docs: list[Doc]) -> None:
    ns = by_kind(base_docs, "Namespace")["tms"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace") == "tms" for d in base_docs if d["kind"] != "Namespace")


def test_base_holds_no_secret(base_docs: list[Doc]) -> None:
    assert "secretGenerator" not in load_kustomization(BASE)
    assert by_kind(base_docs, "Secret") == {}
    assert problems_no_plaintext_secrets(base_docs) == []


def test_base_env_is_prod_so_a_forgotten_overlay_is_safe(base_docs: list[Doc]) -> None:
    for d in platform_workloads(base_docs):
        for c in containers_of(d):
            if c["name"] != "nginx":
                assert env_of(c)["TMS_ENV"]["value"] == "prod", f"{d['metadata']['name']}/{c['name']}"


def test_base_api_settings_point_at_identity_jwks(base_docs: list[Doc]) -> None:
    identity = by_kind(base_docs, "Service")["identity-api"]
    url = f"http://identity-api:{identity['spec']['ports'][0]['port']}/api/v1/auth/jwks.json"
    for svc in SERVICES:
        api = by_kind(base_docs, "Deployment")[f"{svc}-api"]
        (c,) = [c for c in containers_of(api, init=False) if c["name"] == "api"]
        assert env_of(c)[f"{prefix(svc)}AUTH__JWKS_URL"]["value"] == url


def test_base_apis_believe_forwarded_addresses_only_from_the_pod_network(base_docs: list[Doc]) -> None:
    """ADR 0083: a service believes the X-Forwarded-For of the gateway's pods alone, never of the internet."""
    for svc in SERVICES:
        api = by_kind(base_docs, "Deployment")[f"{svc}-api"]
        (c,) = [c for c in containers_of(api, init=False) if c["name"] == "api"]
        peers = [
            ipaddress.ip_network(n) for n in json.loads(env_of(c)[f"{prefix(svc)}GATEWAY_PEERS"]["value"])
        ]
        assert peers, svc
        assert all(net.is_private and net.prefixlen >= 8 for net in peers), (svc, peers)


def test_gateway_upstreams_are_the_services(base_docs: list[Doc]) -> None:
    services = by_kind(base_docs, "Service")
    gw = by_kind(base_docs, "Deployment")["gateway"]
    (app,) = [c for c in containers_of(gw, init=False) if c["name"] == "app"]
    env = env_of(app)
    for svc in SERVICES:
        port = services[f"{svc}-api"]["spec"]["ports"][0]["port"]
        key = "TMS_GATEWAY__UPSTREAMS__" + svc.upper().replace("-", "_")
        assert env[key]["value"] == f"{svc}-api:{port}"  # host:port, as gateway_service.routes parses it


# ------------------------------------------------------------------------------------------------
# The rules have teeth: a broken copy of the base is caught.


def _break(docs: list[Doc], edit: Callable[[list[Doc]], None]) -> list[Doc]:
    broken = copy.deepcopy(docs)
    edit(broken)
    return broken


def _container(docs: list[Doc], deployment: str, name: str) -> Doc:
    d = by_kind(docs, "Deployment")[deployment]
    return next(c for c in containers_of(d) if c["name"] == name)


BREAKAGES: dict[str, tuple[Callable[[list[Doc]], None], Callable[[list[Doc]], list[str]]]] = {
    "writable root": (
        lambda ds: _container(ds, "license-worker", "worker")["securityContext"].pop(
            "readOnlyRootFilesystem"
        ),
        problems_security,
    ),
    "root user": (
        lambda ds: pod_spec(by_kind(ds, "Deployment")["notify-api"])["securityContext"].update(runAsUser=0),
        problems_security,
    ),
    "no memory limit": (
        lambda ds: _container(ds, "vehicle-api", "migrate")["resources"]["limits"].pop("memory"),
        problems_resources,
    ),
    "readiness on /healthz": (
        lambda ds: _container(ds, "violation-api", "api")["readinessProbe"]["httpGet"].update(
            path="/healthz"
        ),
        problems_services,
    ),
    "worker without liveness": (
        lambda ds: _container(ds, "vehicle-worker", "worker").pop("livenessProbe"),
        problems_services,
    ),
    "worker missing": (
        lambda ds: ds.remove(by_kind(ds, "Deployment")["notify-worker"]),
        problems_services,
    ),
    "another service's setting": (
        lambda ds: _container(ds, "vehicle-api", "api")["env"].append(
            {"name": "TMS_LICENSE__AUTH__JWKS_URL", "value": "http://x"}
        ),
        problems_services,
    ),
    "plate-pool single replica": (
        lambda ds: by_kind(ds, "Deployment")["plate-pool-api"]["spec"].update(replicas=1),
        problems_plate_pool,
    ),
    "plate-pool without HPA": (
        lambda ds: ds.remove(by_kind(ds, "HorizontalPodAutoscaler")["plate-pool-api"]),
        problems_plate_pool,
    ),
    "password in a manifest": (
        lambda ds: _container(ds, "identity-worker", "worker")["env"].append(
            {"name": "TMS_IDENTITY__DATABASE__URL", "value": "postgresql://identity:hunter2@db/identity"}
        ),
        problems_no_plaintext_secrets,
    ),
    "odd image name": (
        lambda ds: _container(ds, "plate-pool-api", "api").update(image="ghcr.io/someone/plate-pool:1"),
        lambda ds: problems_images(ds, tagged=False),
    ),
    "nginx told daemon off twice": (
        lambda ds: _container(ds, "gateway", "nginx").update(command=["nginx", "-g", "daemon off;"]),
        problems_gateway,
    ),
    "gateway without nginx": (
        lambda ds: pod_spec(by_kind(ds, "Deployment")["gateway"])["containers"].pop(0),
        problems_gateway,
    ),
    "api open to everyone": (
        lambda ds: by_kind(ds, "NetworkPolicy")["api-ingress-from-gateway"]["spec"]["ingress"][0].pop("from"),
        problems_network,
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_rules_catch_a_broken_manifest(base_docs: list[Doc], breakage: str) -> None:
    edit, rule = BREAKAGES[breakage]
    assert rule(base_docs) == [], "the intact base passes"
    assert rule(_break(base_docs, edit)), f"{breakage} went unnoticed"


# ------------------------------------------------------------------------------------------------
# Overlays, rendered both ways


@pytest.mark.parametrize("how", sorted(RENDERERS))
def test_dev_overlay(how: str) -> None:
    docs = render(how, K8S / "overlays" / "dev")
    assert all_problems(docs, tagged=True, ha=False) == []
    deployments = by_kind(docs, "Deployment")
    for d in platform_workloads(docs):
        assert d["spec"]["replicas"] == 1, d["metadata"]["name"]
        for c in containers_of(d):
            if c["name"] != "nginx":
                assert env_of(c)["TMS_ENV"]["value"] == "dev", f"{d['metadata']['name']}/{c['name']}"
    # The dev servers are there, and every Secret a pod reads is generated with dev-only values.
    assert {"postgres", "rabbitmq"} <= set(by_kind(docs, "StatefulSet"))
    assert "redis" in deployments
    secrets = by_kind(docs, "Secret")
    for c in all_containers(docs):
        refs = [e["secretRef"]["name"] for e in c.get("envFrom") or [] if "secretRef" in e]
        refs += [
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in c.get("env") or []
            if "secretKeyRef" in e.get("valueFrom", {})
        ]
        for ref in refs:
            assert ref in secrets, f"{c['name']} reads Secret {ref}, which the overlay does not generate"
    for name, secret in secrets.items():
        values = secret.get("stringData") or {}
        if how == "kustomize":
            values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert values, name
        for key, value in values.items():
            if key != "RABBITMQ_DEFAULT_USER":
                assert "dev-only" in value, f"{name}.{key} does not look like a dev value"

    def keys_of(name: str) -> set[str]:
        (secret,) = [s for n, s in secrets.items() if re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?", n)]
        return set(secret.get("stringData") or secret.get("data") or {})

    for svc in SERVICES:
        # Plus, in dev only, the superuser URL servicekit.migrate uses to create a missing database.
        expected = {prefix(svc) + k for k in SERVICE_SECRET_KEYS} | {"TMS_PG_ADMIN_URL"}
        assert keys_of(f"{svc}-secrets") == expected, svc

    def value_of(name: str, key: str) -> str:
        (secret,) = [s for n, s in secrets.items() if re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?", n)]
        if "stringData" in secret:
            return str(secret["stringData"][key])
        return base64.b64decode(secret["data"][key]).decode()

    # ADR 0082: identity seals with the key every other service opens with.
    claim_keys = {value_of(f"{svc}-secrets", prefix(svc) + "AUTH__CLAIM_KEYS") for svc in SERVICES}
    assert len(claim_keys) == 1, "every service needs the same claim keys"
    ClaimKeys.parse(claim_keys.pop())
    assert keys_of("gateway-secrets") == {"TMS_GATEWAY__REDIS__URL"}
    # Plain HTTP on a local name. One plate-pool replica: no autoscaler to raise it, and a budget
    # that still lets a node drain.
    assert "tls" not in by_kind(docs, "Ingress")["gateway"]["spec"]
    assert by_kind(docs, "HorizontalPodAutoscaler") == {}
    pdb = by_kind(docs, "PodDisruptionBudget")["plate-pool-api"]["spec"]
    assert "minAvailable" not in pdb
    assert pdb["maxUnavailable"] >= 1


@pytest.mark.parametrize("how", sorted(RENDERERS))
def test_prod_overlay(how: str) -> None:
    directory = K8S / "overlays" / "prod"
    docs = render(how, directory)
    assert all_problems(docs, tagged=True) == []
    assert problems_no_plaintext_secrets(docs) == []
    assert by_kind(docs, "Secret") == {}
    kust = load_kustomization(directory)
    assert "secretGenerator" not in kust
    assert "../../components/infra-dev" not in kust.get("components", []), "prod uses managed servers"
    assert not {"postgres", "rabbitmq", "redis"} & (
        set(by_kind(docs, "StatefulSet")) | set(by_kind(docs, "Deployment"))
    )
    # Every platform process runs as prod; every service process exports traces.
    for d in platform_workloads(docs):
        assert d["spec"]["replicas"] >= 2, d["metadata"]["name"]
        for c in containers_of(d, init=False):
            if c["name"] == "nginx":
                continue
            env = env_of(c)
            assert env["TMS_ENV"]["value"] == "prod"
            if d["metadata"]["name"] == "gateway":
                continue  # the gateway app has no telemetry settings
            endpoint = [e for n, e in env.items() if n.endswith("__TELEMETRY__OTLP_ENDPOINT")]
            assert len(endpoint) == 1, c["name"]
            assert endpoint[0]["value"].startswith("http://otel-collector:"), c["name"]
    collector = by_kind(docs, "Service")["otel-collector"]
    assert any(p["port"] == 4318 for p in collector["spec"]["ports"])
    assert by_kind(docs, "HorizontalPodAutoscaler")["plate-pool-api"]["spec"]["minReplicas"] >= 2
    assert problems_ingress_tls(by_kind(docs, "Ingress")["gateway"]) == []


def problems_ingress_tls(ingress: Doc) -> list[str]:
    """ADR 0094: prod's Ingress serves the certificate Secret, redirects plain HTTP, and offers TLS 1.2
    only forward-secret AEAD suites (ECDHE with GCM or ChaCha20-Poly1305)."""
    found: list[str] = []
    tls = ingress["spec"].get("tls") or []
    hosts = [r["host"] for r in ingress["spec"]["rules"]]
    if [t.get("secretName") for t in tls] != ["tms-tls"] or tls[0].get("hosts") != hosts:
        found.append(f"Ingress must serve tms-tls for {hosts}, has {tls}")
    notes = ingress["metadata"].get("annotations") or {}
    if notes.get("nginx.ingress.kubernetes.io/ssl-redirect") != "true":
        found.append("Ingress must redirect plain HTTP to HTTPS")
    for suite in (notes.get("nginx.ingress.kubernetes.io/ssl-ciphers") or "").split(":"):
        aead = suite.endswith(("GCM-SHA256", "GCM-SHA384", "CHACHA20-POLY1305"))
        if not (suite.startswith("ECDHE-") and aead):
            found.append(f"Ingress offers a suite without forward secrecy or AEAD: {suite!r}")
    return found


@pytest.mark.parametrize("how", sorted(RENDERERS))
def test_prod_broker_is_a_three_node_cluster_with_tls_only(how: str) -> None:
    """ADR 0098: the Cluster Operator's RabbitmqCluster, three nodes (a quorum queue keeps its majority
    through one node's loss), drained one at a time, AMQPS only, reachable from the platform's pods."""
    docs = render(how, K8S / "overlays" / "prod")
    cluster = by_kind(docs, "RabbitmqCluster")["tms-rabbitmq"]
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["metadata"]["namespace"] == "tms"
    assert cluster["spec"]["replicas"] == 3
    assert cluster["spec"]["tls"]["disableNonTLSListeners"] is True
    assert "cluster_partition_handling = pause_minority" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    pdb = by_kind(docs, "PodDisruptionBudget")["tms-rabbitmq"]["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == {"app.kubernetes.io/name": "tms-rabbitmq"}
    policy = by_kind(docs, "NetworkPolicy")["rabbitmq-cluster"]["spec"]
    worker = by_kind(docs, "Deployment")["notify-worker"]["spec"]["template"]["metadata"]["labels"]
    gateway = by_kind(docs, "Deployment")["gateway"]["spec"]["template"]["metadata"]["labels"]
    amqps = [rule for rule in policy["ingress"] if {q["port"] for q in rule["ports"]} == {5671}]
    assert len(amqps) == 1
    assert selector_matches(amqps[0]["from"][0]["podSelector"], worker)
    assert not selector_matches(amqps[0]["from"][0]["podSelector"], gateway)
    assert by_kind(render(how, K8S / "overlays" / "dev"), "RabbitmqCluster") == {}  # dev: one node


def test_ingress_tls_rules_notice_a_weak_suite_or_no_redirect() -> None:
    ingress = by_kind(render("lite", K8S / "overlays" / "prod"), "Ingress")["gateway"]
    assert problems_ingress_tls(ingress) == []
    notes = ingress["metadata"]["annotations"]
    notes["nginx.ingress.kubernetes.io/ssl-ciphers"] += ":AES128-SHA"
    notes["nginx.ingress.kubernetes.io/ssl-redirect"] = "false"
    assert len(problems_ingress_tls(ingress)) == 2


def test_lite_render_agrees_with_kustomize() -> None:
    """What the pure-Python checks see is what kustomize builds (names, images, replicas, env)."""
    if kustomize_command() is None:
        pytest.skip("neither kustomize nor kubectl is installed")

    def summary(docs: list[Doc]) -> set[tuple[Any, ...]]:
        out: set[tuple[Any, ...]] = set()
        for d in docs:
            name = (
                re.sub(r"-[a-z0-9]{10}$", "", d["metadata"]["name"])
                if d["kind"] == "Secret"
                else d["metadata"]["name"]
            )
            out.add((d["kind"], name, d["metadata"].get("namespace")))
            if d["kind"] in ("Deployment", "StatefulSet"):
                out.add((name, "replicas", d["spec"].get("replicas")))
                for c in containers_of(d):
                    out.add((name, c["name"], c["image"]))
                    out |= {(name, c["name"], e["name"], e.get("value")) for e in c.get("env") or []}
        return out

    for target in (BASE, K8S / "overlays" / "dev", K8S / "overlays" / "prod"):
        assert summary(render_lite(target)) == summary(render_kustomize(target)), target
