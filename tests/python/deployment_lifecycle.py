"""Drive a Tugboat cluster with the official Kubernetes Python client.

Creates, lists, patches, watches and deletes a Deployment and its pods
through `kubernetes` (https://github.com/kubernetes-client/python) exactly
as a user's program would, asserting what the client hands back at each
step. Prints `ok: <step>` after every step that passed (the Rust test
checks that all of them did); any failed assertion or API error exits
non-zero with the traceback.

Usage: deployment_lifecycle.py KUBECONFIG NAMESPACE NAME
"""

import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

DEADLINE_SECONDS = 90


def step(name):
    print(f"ok: {name}", flush=True)


def deployment(name, replicas):
    """A typed Deployment of `replicas` pods labelled app=<name>."""
    labels = {"app": name}
    container = client.V1Container(
        name="app",
        image="busybox:1.36",
        command=["sh", "-c", "sleep 3600"],
        ports=[client.V1ContainerPort(name="http", container_port=8080)],
    )
    return client.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def running_ready(pod):
    if pod.status.phase != "Running" or pod.metadata.deletion_timestamp:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def watch_pods_until(core, namespace, selector, done, what):
    """Watch pods matching `selector` (list, then watch from its
    resourceVersion, as the client's Watch does) until `done(pods)` holds
    for the pods seen so far; returns the event types received."""
    pods = {}
    seen_types = []
    listed = core.list_namespaced_pod(namespace, label_selector=selector)
    for p in listed.items:
        pods[p.metadata.name] = p
    if done(pods):
        return seen_types
    deadline = time.monotonic() + DEADLINE_SECONDS
    rv = listed.metadata.resource_version
    w = watch.Watch()
    while time.monotonic() < deadline:
        for ev in w.stream(
            core.list_namespaced_pod,
            namespace,
            label_selector=selector,
            resource_version=rv,
            timeout_seconds=max(1, int(deadline - time.monotonic())),
        ):
            pod = ev["object"]
            assert isinstance(pod, client.V1Pod), f"watch decoded {type(pod)}"
            seen_types.append(ev["type"])
            rv = pod.metadata.resource_version
            if ev["type"] == "DELETED":
                pods.pop(pod.metadata.name, None)
            else:
                pods[pod.metadata.name] = pod
            if done(pods):
                w.stop()
                return seen_types
    raise AssertionError(f"timed out watching pods for: {what}; have {sorted(pods)}")


def wait_gone(read, what):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            read()
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.2)
    raise AssertionError(f"{what} still exists after {DEADLINE_SECONDS}s")


def main():
    kubeconfig, namespace, name = sys.argv[1:4]
    config.load_kube_config(config_file=kubeconfig)
    apps = client.AppsV1Api()
    core = client.CoreV1Api()
    selector = f"app={name}"

    version = client.VersionApi().get_code()
    assert version.git_version, version
    step(f"version {version.git_version}")

    created = apps.create_namespaced_deployment(namespace, deployment(name, 3))
    assert created.metadata.uid, "the server assigns a uid"
    assert created.metadata.generation == 1, created.metadata.generation
    assert created.spec.strategy.type == "RollingUpdate", "defaults are applied"
    step("create deployment")

    listed = apps.list_namespaced_deployment(namespace, label_selector=selector)
    assert [d.metadata.name for d in listed.items] == [name], listed.items
    assert listed.metadata.resource_version, "a list carries its resourceVersion"
    step("list deployments")

    types = watch_pods_until(
        core, namespace, selector,
        lambda pods: sum(running_ready(p) for p in pods.values()) == 3,
        "3 running ready pods",
    )
    step(f"watch pods until 3 ready ({len(types)} events)")

    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    assert len(pods) == 3, [p.metadata.name for p in pods]
    for p in pods:
        owner = p.metadata.owner_references[0]
        assert owner.kind == "ReplicaSet" and owner.controller, owner
        assert p.spec.node_name, f"{p.metadata.name} is scheduled"
    step("list pods")

    before = apps.read_namespaced_deployment(name, namespace).metadata.generation
    # A dict body: the client sends a strategic merge patch.
    patched = apps.patch_namespaced_deployment(
        name, namespace, {"spec": {"replicas": 1}, "metadata": {"labels": {"tier": "py"}}}
    )
    assert patched.spec.replicas == 1, patched.spec.replicas
    assert patched.metadata.labels == {"app": name, "tier": "py"}, patched.metadata.labels
    assert patched.metadata.generation == before + 1, (before, patched.metadata.generation)
    step("strategic merge patch deployment")

    types = watch_pods_until(
        core, namespace, selector,
        lambda pods: len(pods) == 1 and all(running_ready(p) for p in pods.values()),
        "scaled down to 1 pod",
    )
    assert "DELETED" in types, f"the watch reports the removed pods: {types}"
    step("watch pods scale down")

    # A list body: the client sends a JSON patch.
    patched = apps.patch_namespaced_deployment(
        name, namespace,
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
          "value": "busybox:1.37"}],
    )
    assert patched.spec.template.spec.containers[0].image == "busybox:1.37"
    step("json patch deployment")

    deadline = time.monotonic() + DEADLINE_SECONDS
    w = watch.Watch()
    rolled = False
    for ev in w.stream(
        apps.list_namespaced_deployment, namespace,
        field_selector=f"metadata.name={name}", timeout_seconds=DEADLINE_SECONDS,
    ):
        d = ev["object"]
        s = d.status
        if (s.observed_generation or 0) >= d.metadata.generation and \
                s.updated_replicas == 1 and s.replicas == 1 and s.available_replicas == 1:
            rolled = True
            w.stop()
        elif time.monotonic() > deadline:
            w.stop()
    assert rolled, "the deployment rolled out the new image"
    step("watch deployment rollout")

    pod = core.list_namespaced_pod(namespace, label_selector=selector).items
    pod = [p for p in pod if running_ready(p)][0]
    assert pod.spec.containers[0].image == "busybox:1.37", pod.spec.containers[0].image
    core.delete_namespaced_pod(pod.metadata.name, namespace,
                               body=client.V1DeleteOptions(grace_period_seconds=0))
    wait_gone(lambda: core.read_namespaced_pod(pod.metadata.name, namespace),
              f"pod {pod.metadata.name}")
    watch_pods_until(
        core, namespace, selector,
        lambda pods: len(pods) == 1 and pod.metadata.name not in pods
        and all(running_ready(p) for p in pods.values()),
        "a replacement pod",
    )
    step("delete pod (replaced by its ReplicaSet)")

    status = apps.delete_namespaced_deployment(
        name, namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    assert status is not None
    wait_gone(lambda: apps.read_namespaced_deployment(name, namespace), f"deployment {name}")
    watch_pods_until(core, namespace, selector, lambda pods: not pods, "no pods left")
    assert not apps.list_namespaced_replica_set(namespace, label_selector=selector).items
    step("delete deployment and its pods")


if __name__ == "__main__":
    main()
