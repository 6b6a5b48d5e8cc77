#!/usr/bin/env python3
"""Validates deploy/k8s offline: every manifest of the base and of each overlay (rendered here:
resources, images, strategic-merge patches of whole objects and JSON patches) against
Kubernetes' schemas (kubernetes-validate, strict), the ScaledObject against KEDA's CRD schema
kept in deploy/k8s/schemas/, and the rules that tie the manifests to the code: probes on the
health endpoints, grace periods above the worker's drain, lagThreshold equal to the worker's
concurrency, secrets only from Secret objects."""
import copy
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent / "deploy" / "k8s"
K8S_VERSION = "1.30.0"
failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}")


def merge(base, patch):
    """Strategic merge for what our patches use: maps merge, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in base + patch):
        out = [dict(i) for i in base]
        for item in patch:
            match = next((i for i, b in enumerate(out) if b["name"] == item["name"]), None)
            if match is None:
                out.append(item)
            else:
                out[match] = merge(out[match], item)
        return out
    return patch


def json_patch(doc, ops):
    for op in ops:
        parts = [p for p in op["path"].split("/") if p]
        target = doc
        for p in parts[:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        last = parts[-1]
        if op["op"] in ("replace", "add"):
            if isinstance(target, list):
                target[int(last)] = op["value"]
            else:
                target[last] = op["value"]
        else:
            raise ValueError(f"unsupported JSON patch op {op['op']}")


def render(directory):
    """The objects a kustomization produces (the subset of kustomize our files use)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    objects = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects.extend(render(path))
        else:
            objects.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] != "Namespace":
            obj["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        for obj in objects:
            for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                if c["image"].split(":")[0] in (image["name"], image.get("newName")):
                    c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            p = yaml.safe_load((directory / patch["path"]).read_text())
            hits = [i for i, o in enumerate(objects) if o["kind"] == p["kind"] and o["metadata"]["name"] == p["metadata"]["name"]]
            if not hits:
                fail(f"{directory}: patch {patch['path']} matches no object")
            for i in hits:
                objects[i] = merge(objects[i], p)
        else:
            target = patch["target"]
            hits = [o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
            if not hits:
                fail(f"{directory}: a JSON patch matches no object")
            for o in hits:
                json_patch(o, yaml.safe_load(patch["patch"]))
    return objects


def keda_schema():
    crd = yaml.safe_load((ROOT / "schemas" / "keda.sh_scaledobjects.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return version["schema"]["openAPIV3Schema"]


def check(name, objects):
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    config = by_kind[("ConfigMap", "todo-chat")]["data"]
    for obj in objects:
        label = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("keda.sh/"):
            try:
                jsonschema.validate(obj, keda_schema())
                print(f"ok   {label} (KEDA CRD schema)")
            except jsonschema.ValidationError as e:
                fail(f"{label}: {e.message} at {list(e.absolute_path)}")
            continue
        try:
            kubernetes_validate.validate(copy.deepcopy(obj), K8S_VERSION, strict=True)
            print(f"ok   {label} (Kubernetes {K8S_VERSION})")
        except Exception as e:  # noqa: BLE001 - report every schema failure the same way
            fail(f"{label}: {e}")
    drain = int(config["WORKER_DRAIN_TIMEOUT_SECS"])
    worker = by_kind[("Deployment", "todo-chat-worker")]["spec"]["template"]["spec"]
    if worker["terminationGracePeriodSeconds"] <= drain + 5:
        fail(f"{name}: worker grace period must exceed WORKER_DRAIN_TIMEOUT_SECS + 5 s of hand-back")
    api = by_kind[("Deployment", "todo-chat-api")]["spec"]["template"]["spec"]
    if api["terminationGracePeriodSeconds"] <= int(config["SHUTDOWN_DELAY_SECS"]) + 10:
        fail(f"{name}: api grace period must exceed SHUTDOWN_DELAY_SECS plus a drain")
    for spec in (api, worker):
        for c in spec["containers"]:
            if c["readinessProbe"]["httpGet"]["path"] != "/health/ready" or c["livenessProbe"]["httpGet"]["path"] != "/health/live":
                fail(f"{name}: {c['name']} probes must use /health/ready and /health/live")
            for env in c.get("env", []):
                if any(word in env["name"] for word in ("SECRET", "PASSWORD", "DATABASE_URL", "KEY")) and "value" in env:
                    fail(f"{name}: {c['name']} sets {env['name']} inline: secrets come from Secret objects")
    scaled = by_kind[("ScaledObject", "todo-chat-worker")]
    trigger = scaled["spec"]["triggers"][0]["metadata"]
    if trigger["lagThreshold"] != config["WORKER_CONCURRENCY"]:
        fail(f"{name}: lagThreshold ({trigger['lagThreshold']}) should equal WORKER_CONCURRENCY ({config['WORKER_CONCURRENCY']})")


def main():
    check("base", render(ROOT / "base"))
    for overlay in sorted((ROOT / "overlays").iterdir()):
        check(f"overlay {overlay.name}", render(overlay))
    secret = list(yaml.safe_load_all((ROOT / "base" / "secret.example.yaml").read_text()))
    for obj in secret:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    if failures:
        print(f"{len(failures)} problem(s) in deploy/k8s")
        return 1
    print("deploy/k8s: every manifest is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
