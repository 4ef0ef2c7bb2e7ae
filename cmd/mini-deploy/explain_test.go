package main

import (
	"strings"
	"testing"
)

// api-resources and explain, in kubectl's layout, from the kind registry
// and the types' own doc comments.
func TestAPIResourcesAndExplain(t *testing.T) {
	home := daemon(t, newFake())
	out, errOut, code := cli(t, home, "api-resources")
	if code != 0 {
		t.Fatalf("api-resources: exit %d: %s", code, errOut)
	}
	expect(t, "api-resources", out, `
NAME                     SHORTNAMES   APIVERSION          NAMESPACED   KIND
endpoints                ep           v1                  true         Endpoints
events                   ev           v1                  true         Event
pods                     po           v1                  true         Pod
replicationcontrollers   rc           v1                  true         ReplicationController
services                 svc          v1                  true         Service
deployments              deploy       apps/v1             true         Deployment
replicasets              rs           apps/v1             true         ReplicaSet
rollingupdates                        mini-deploy.io/v1   true         RollingUpdate
`)
	out, _, _ = cli(t, home, "api-resources", "-o", "name")
	if !strings.Contains(out, "\ndeployments.apps\n") || !strings.HasPrefix(out, "endpoints\n") {
		t.Errorf("api-resources -o name:\n%s", out)
	}

	out, errOut, code = cli(t, home, "explain", "deployment")
	if code != 0 || !strings.HasPrefix(out, "GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nDESCRIPTION:\n    Deployment rolls a pod template out through ReplicaSets.\n\nFIELDS:\n  apiVersion\t<string>\n") ||
		!strings.Contains(out, "\n  spec\t<DeploymentSpec>\n") {
		t.Errorf("explain deployment: exit %d %s\n%s", code, errOut, out)
	}
	out, _, _ = cli(t, home, "explain", "svc.spec.ports")
	if !strings.HasPrefix(out, "KIND:       Service\nVERSION:    v1\n\nFIELD: ports <[]ServicePort>\n\nDESCRIPTION:\n    ServicePort is one proxied port.\n\nFIELDS:\n  name\t<string>\n") ||
		!strings.Contains(out, "\n  targetPort\t<IntOrString>\n") {
		t.Errorf("explain svc.spec.ports:\n%s", out)
	}
	out, _, _ = cli(t, home, "explain", "deploy.spec.template.spec.containers.imagePullPolicy")
	if !strings.Contains(out, "FIELD: imagePullPolicy <string>\n\nDESCRIPTION:\n    accepted; images are never pulled\n") {
		t.Errorf("explain a field with a line comment:\n%s", out)
	}
	_, errOut, code = cli(t, home, "explain", "deploy.spec.nope")
	if code != 1 || errOut != "error: field \"nope\" does not exist\n" {
		t.Errorf("explain of a missing field: exit %d %q", code, errOut)
	}
	_, errOut, code = cli(t, home, "explain", "bogus")
	if code != 1 || errOut != "error: the server doesn't have a resource type \"bogus\"\n" {
		t.Errorf("explain of a missing type: exit %d %q", code, errOut)
	}
}

// top pods, in kubectl's columns, sorted by name or by use.
func TestTopPods(t *testing.T) {
	home := daemon(t, newFake())
	out, errOut, code := cli(t, home, "top", "pods")
	if code != 0 {
		t.Fatalf("top pods: exit %d: %s", code, errOut)
	}
	expect(t, "top pods", out, `
NAME      CPU(cores)   MEMORY(bytes)
kubia-a   12m          3Mi
kubia-b   3m           5Mi
`)
	out, _, _ = cli(t, home, "top", "pod", "--sort-by=memory", "--no-headers")
	expect(t, "top pod --sort-by=memory", out, "kubia-b   3m    5Mi\nkubia-a   12m   3Mi\n")
	out, _, _ = cli(t, home, "top", "po", "kubia-b")
	expect(t, "top po NAME", out, "NAME      CPU(cores)   MEMORY(bytes)\nkubia-b   3m           5Mi\n")
	_, errOut, code = cli(t, home, "top", "pods", "nope")
	if code != 1 || errOut != "error: podmetrics.metrics.k8s.io \"default/nope\" not found\n" {
		t.Errorf("top of a missing pod: exit %d %q", code, errOut)
	}
	_, errOut, code = cli(t, home, "top", "nodes")
	if code != 1 || !strings.HasPrefix(errOut, "error: unknown command \"nodes\"\n") {
		t.Errorf("top nodes: exit %d %q", code, errOut)
	}
}
