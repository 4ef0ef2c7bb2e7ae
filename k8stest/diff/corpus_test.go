package diff

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// A manifest case is one document, written as a small change to a base
// object, so that each case tests one thing.
type manifestCase struct {
	name string
	yaml string
}

const baseDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: luksa/kubia:v1
        ports:
        - {name: http, containerPort: 8080}
`

const baseReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: luksa/kubia:v1
`

const baseRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: luksa/kubia:v1
`

const baseService = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 8080}
`

// edit is one change to a decoded manifest: set a value at a path, or
// delete it when the value is del.
type edit struct {
	path  string
	value any
}

type deleted struct{}

var del = deleted{}

// variant returns base with edits applied, as YAML.
func variant(t testing.TB, base string, edits ...edit) string {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal([]byte(base), &doc); err != nil {
		t.Fatalf("base manifest: %v", err)
	}
	for _, e := range edits {
		doc = apply(t, doc, strings.Split(e.path, "."), e.value)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// apply sets (or deletes) the value at path under node; "containers[0]" style
// segments index lists.
func apply(t testing.TB, node any, path []string, value any) any {
	t.Helper()
	seg := path[0]
	idx := -1
	if i := strings.IndexByte(seg, '['); i >= 0 {
		fmt.Sscanf(seg[i:], "[%d]", &idx)
		seg = seg[:i]
	}
	m, ok := node.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	if len(path) == 1 && idx < 0 {
		if value == del {
			delete(m, seg)
		} else {
			m[seg] = value
		}
		return m
	}
	if idx < 0 {
		m[seg] = apply(t, m[seg], path[1:], value)
		return m
	}
	list, _ := m[seg].([]any)
	for len(list) <= idx {
		list = append(list, map[string]any{})
	}
	if len(path) == 1 {
		list[idx] = value
	} else {
		list[idx] = apply(t, list[idx], path[1:], value)
	}
	m[seg] = list
	return m
}

const (
	c0   = "spec.template.spec.containers[0]"
	port = c0 + ".ports[0]"
)

func rep(s string, n int) string { return strings.Repeat(s, n) }

// corpus is every manifest the validation test sends both ways: the
// repository's examples, document by document, then valid and invalid
// variants of one object of each kind.
func corpus(t testing.TB) []manifestCase {
	t.Helper()
	var cases []manifestCase
	files, _ := filepath.Glob("../../examples/*/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found under ../../examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---\n") {
			if strings.Contains(doc, "kind:") {
				rel, _ := filepath.Rel("../..", f)
				cases = append(cases, manifestCase{fmt.Sprintf("example %s#%d", rel, i+1), doc})
			}
		}
	}
	add := func(name, base string, edits ...edit) {
		cases = append(cases, manifestCase{name, variant(t, base, edits...)})
	}
	raw := func(name, doc string) { cases = append(cases, manifestCase{name, doc}) }
	D, RS, RC, S := baseDeployment, baseReplicaSet, baseRC, baseService

	// Valid.
	add("deployment", D)
	add("deployment replicas 0", D, edit{"spec.replicas", 0})
	add("deployment without replicas", D, edit{"spec.replicas", del})
	add("deployment Recreate", D, edit{"spec.strategy", map[string]any{"type": "Recreate"}})
	add("deployment percentages", D, edit{"spec.strategy.rollingUpdate", map[string]any{"maxSurge": "50%", "maxUnavailable": "0%"}})
	add("deployment maxSurge 0", D, edit{"spec.strategy.rollingUpdate", map[string]any{"maxSurge": 0, "maxUnavailable": 1}})
	add("deployment maxUnavailable 100%", D, edit{"spec.strategy.rollingUpdate.maxUnavailable", "100%"})
	add("deployment matchExpressions", D, edit{"spec.selector", map[string]any{"matchExpressions": []any{
		map[string]any{"key": "app", "operator": "In", "values": []any{"web", "api"}}}}})
	add("deployment name 46 chars", D, edit{"metadata.name", rep("a", 46)})
	add("deployment label value 63 chars", D, edit{"metadata.labels.tier", rep("b", 63)})
	add("deployment prefixed label key", D, edit{"metadata.labels", map[string]any{"example.com/tier": "front"}})
	add("deployment annotations", D, edit{"metadata.annotations", map[string]any{"kubernetes.io/change-cause": "first", "mini-deploy.io/auto-rollback": "true"}})
	add("deployment minReadySeconds and deadline", D, edit{"spec.minReadySeconds", 5}, edit{"spec.progressDeadlineSeconds", 10})
	add("deployment revisionHistoryLimit 0", D, edit{"spec.revisionHistoryLimit", 0})
	add("deployment paused", D, edit{"spec.paused", true})
	add("deployment grace period 0", D, edit{"spec.template.spec.terminationGracePeriodSeconds", 0})
	add("deployment httpGet probe on named port", D, edit{c0 + ".readinessProbe", map[string]any{"httpGet": map[string]any{"path": "/", "port": "http"}, "periodSeconds": 1}})
	add("deployment tcpSocket probe", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": 8080}}})
	add("deployment exec liveness probe", D, edit{c0 + ".livenessProbe", map[string]any{"exec": map[string]any{"command": []any{"true"}}, "failureThreshold": 3}})
	add("deployment resources", D, edit{c0 + ".resources", map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "128Mi"}, "requests": map[string]any{"cpu": "100m"}}})
	add("deployment env", D, edit{c0 + ".env", []any{map[string]any{"name": "GREETING", "value": "hi"}}})
	add("deployment command and args", D, edit{c0 + ".command", []any{"/app"}}, edit{c0 + ".args", []any{"--v"}})
	add("deployment imagePullPolicy Never", D, edit{c0 + ".imagePullPolicy", "Never"})
	add("replicaset", RS)
	add("replicaset replicas 0", RS, edit{"spec.replicas", 0})
	add("replicationcontroller", RC)
	add("replicationcontroller without selector", RC, edit{"spec.selector", del})
	add("service", S)
	add("service ClusterIP", S, edit{"spec.type", "ClusterIP"})
	add("service nodePort", S, edit{"spec.ports[0].nodePort", 30080})
	add("service named target port", S, edit{"spec.ports[0].targetPort", "http"})
	add("service two named ports", S, edit{"spec.ports", []any{
		map[string]any{"name": "http", "port": 80}, map[string]any{"name": "admin", "port": 81}}})
	add("service without selector", S, edit{"spec.selector", del})

	// Wrong types.
	add("replicas as string", D, edit{"spec.replicas", "3"})
	add("replicas as float", D, edit{"spec.replicas", 1.5})
	add("labels as list", D, edit{"metadata.labels", []any{"app"}})
	add("containers as map", D, edit{"spec.template.spec.containers", map[string]any{"name": "web"}})
	add("image as number", D, edit{c0 + ".image", 123})
	add("containerPort as string", D, edit{port + ".containerPort", "http"})
	add("paused as string", D, edit{"spec.paused", "yes"})
	add("service port as string", S, edit{"spec.ports[0].port", "eighty"})
	add("rc selector as list", RC, edit{"spec.selector", []any{"app"}})

	// Unknown fields.
	add("unknown field in spec", D, edit{"spec.replicaz", 3})
	add("unknown field in metadata", D, edit{"metadata.label", map[string]any{"a": "b"}})
	add("unknown field in container", D, edit{c0 + ".imagePolicy", "Always"})
	add("unknown field in rollingUpdate", D, edit{"spec.strategy.rollingUpdate.maxSurges", 1})
	add("unknown field in service port", S, edit{"spec.ports[0].target", 8080})
	add("unknown top-level field", D, edit{"extra", true})
	raw("duplicate key", strings.Replace(baseDeployment, "  replicas: 3\n", "  replicas: 3\n  replicas: 4\n", 1))

	// Fields Kubernetes has and mini-deploy does not run.
	add("volumes", D, edit{"spec.template.spec.volumes", []any{map[string]any{"name": "v", "emptyDir": map[string]any{}}}})
	add("nodeSelector", D, edit{"spec.template.spec.nodeSelector", map[string]any{"disk": "ssd"}})
	add("two containers", D, edit{"spec.template.spec.containers[1]", map[string]any{"name": "side", "image": "busybox"}})
	add("UDP container port", D, edit{port + ".protocol", "UDP"})
	add("UDP service port", S, edit{"spec.ports[0].protocol", "UDP"})
	add("sessionAffinity ClientIP", S, edit{"spec.sessionAffinity", "ClientIP"})
	add("service type ExternalName", S, edit{"spec.type", "ExternalName"}, edit{"spec.externalName", "example.com"})
	add("probe on undeclared named port", D, edit{c0 + ".readinessProbe", map[string]any{"httpGet": map[string]any{"path": "/", "port": "web"}}})
	add("auto-rollback annotation not a bool", D, edit{"metadata.annotations", map[string]any{"mini-deploy.io/auto-rollback": "yes"}})
	add("deployment name 47 chars", D, edit{"metadata.name", rep("a", 47)})
	add("replicaset name 58 chars", RS, edit{"metadata.name", rep("a", 58)})
	add("deployment name with dots", D, edit{"metadata.name", "web.v2"})

	// Names and labels at and past their limits.
	add("name uppercase", D, edit{"metadata.name", "Web"})
	add("name underscore", D, edit{"metadata.name", "web_1"})
	add("name missing", D, edit{"metadata.name", del})
	add("name 254 chars", D, edit{"metadata.name", rep("a", 254)})
	add("service name starts with digit", S, edit{"metadata.name", "1web"})
	add("service name 64 chars", S, edit{"metadata.name", rep("s", 64)})
	add("label value 64 chars", D, edit{"metadata.labels.tier", rep("b", 64)})
	add("label value with space", D, edit{"metadata.labels.tier", "a b"})
	add("label key name 64 chars", D, edit{"metadata.labels", map[string]any{rep("k", 64): "v"}})
	add("label key bad prefix", D, edit{"metadata.labels", map[string]any{"Example_com/tier": "v"}})
	add("template label value bad", D, edit{"spec.template.metadata.labels.tier", "-x"})
	add("annotation key bad", D, edit{"metadata.annotations", map[string]any{"a b": "v"}})

	// Selectors.
	add("selector does not match", D, edit{"spec.selector.matchLabels.app", "api"})
	add("selector missing", D, edit{"spec.selector", del})
	add("selector empty", D, edit{"spec.selector", map[string]any{}})
	add("template labels missing", D, edit{"spec.template.metadata.labels", del})
	add("matchExpressions bad operator", D, edit{"spec.selector", map[string]any{"matchExpressions": []any{
		map[string]any{"key": "app", "operator": "Near", "values": []any{"web"}}}}})
	add("matchExpressions In without values", D, edit{"spec.selector", map[string]any{"matchLabels": map[string]any{"app": "web"}, "matchExpressions": []any{
		map[string]any{"key": "tier", "operator": "In"}}}})
	add("replicaset selector does not match", RS, edit{"spec.selector.matchLabels.app", "api"})
	add("rc selector does not match", RC, edit{"spec.selector.app", "api"})
	add("service selector bad value", S, edit{"spec.selector.app", "a b"})

	// Numbers and strategy.
	add("replicas negative", D, edit{"spec.replicas", -1})
	add("rc replicas negative", RC, edit{"spec.replicas", -1})
	add("minReadySeconds negative", D, edit{"spec.minReadySeconds", -1})
	add("revisionHistoryLimit negative", D, edit{"spec.revisionHistoryLimit", -1})
	add("progressDeadline not above minReady", D, edit{"spec.minReadySeconds", 10}, edit{"spec.progressDeadlineSeconds", 10})
	add("maxSurge not a percentage", D, edit{"spec.strategy.rollingUpdate.maxSurge", "abc"})
	add("maxSurge negative", D, edit{"spec.strategy.rollingUpdate.maxSurge", -1})
	add("maxUnavailable over 100%", D, edit{"spec.strategy.rollingUpdate.maxUnavailable", "150%"})
	add("maxSurge and maxUnavailable 0", D, edit{"spec.strategy.rollingUpdate", map[string]any{"maxSurge": 0, "maxUnavailable": 0}})
	add("maxSurge and maxUnavailable 0%", D, edit{"spec.strategy.rollingUpdate", map[string]any{"maxSurge": "0%", "maxUnavailable": "0%"}})
	add("strategy type unknown", D, edit{"spec.strategy.type", "BlueGreen"})
	add("Recreate with rollingUpdate", D, edit{"spec.strategy.type", "Recreate"})

	// Containers and ports.
	add("no containers", D, edit{"spec.template.spec.containers", []any{}})
	add("container name missing", D, edit{c0 + ".name", del})
	add("container name uppercase", D, edit{c0 + ".name", "Web"})
	add("image missing", D, edit{c0 + ".image", del})
	add("image with trailing space", D, edit{c0 + ".image", "luksa/kubia:v1 "})
	add("imagePullPolicy unknown", D, edit{c0 + ".imagePullPolicy", "Sometimes"})
	add("restartPolicy Never", D, edit{"spec.template.spec.restartPolicy", "Never"})
	add("grace period negative", D, edit{"spec.template.spec.terminationGracePeriodSeconds", -1})
	add("containerPort 0", D, edit{port + ".containerPort", 0})
	add("containerPort 65536", D, edit{port + ".containerPort", 65536})
	add("port name 16 chars", D, edit{port + ".name", "a-very-long-name"})
	add("port name uppercase", D, edit{port + ".name", "HTTP"})
	add("duplicate port names", D, edit{c0 + ".ports[1]", map[string]any{"name": "http", "containerPort": 9090}})
	add("container protocol unknown", D, edit{port + ".protocol", "XTP"})
	add("env name missing", D, edit{c0 + ".env", []any{map[string]any{"value": "x"}}})
	add("env name with =", D, edit{c0 + ".env", []any{map[string]any{"name": "A=B", "value": "x"}}})
	add("env name starting with digit", D, edit{c0 + ".env", []any{map[string]any{"name": "1A", "value": "x"}}})

	// Probes.
	add("probe without handler", D, edit{c0 + ".readinessProbe", map[string]any{"periodSeconds": 1}})
	add("probe with two handlers", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": 8080}, "exec": map[string]any{"command": []any{"true"}}}})
	add("probe port 0", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": 0}}})
	add("probe port name bad", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": "no_such"}}})
	add("probe periodSeconds negative", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": 8080}, "periodSeconds": -1}})
	add("probe initialDelay negative", D, edit{c0 + ".readinessProbe", map[string]any{"tcpSocket": map[string]any{"port": 8080}, "initialDelaySeconds": -1}})
	add("liveness successThreshold 2", D, edit{c0 + ".livenessProbe", map[string]any{"tcpSocket": map[string]any{"port": 8080}, "successThreshold": 2}})
	add("httpGet scheme unknown", D, edit{c0 + ".readinessProbe", map[string]any{"httpGet": map[string]any{"port": 8080, "scheme": "FTP"}}})
	add("exec without command", D, edit{c0 + ".livenessProbe", map[string]any{"exec": map[string]any{}}})

	// Resources.
	add("cpu not a quantity", D, edit{c0 + ".resources", map[string]any{"limits": map[string]any{"cpu": "lots"}}})
	add("memory negative", D, edit{c0 + ".resources", map[string]any{"limits": map[string]any{"memory": "-1Mi"}}})
	add("requests above limits", D, edit{c0 + ".resources", map[string]any{"limits": map[string]any{"cpu": "100m"}, "requests": map[string]any{"cpu": "200m"}}})
	add("unknown resource name", D, edit{c0 + ".resources", map[string]any{"limits": map[string]any{"gpu": "1"}}})

	// Services.
	add("service type unknown", S, edit{"spec.type", "Public"})
	add("service no ports", S, edit{"spec.ports", []any{}})
	add("service port 0", S, edit{"spec.ports[0].port", 0})
	add("service port 65536", S, edit{"spec.ports[0].port", 65536})
	add("service duplicate ports", S, edit{"spec.ports", []any{
		map[string]any{"name": "a", "port": 80}, map[string]any{"name": "b", "port": 80}}})
	add("service two ports without names", S, edit{"spec.ports", []any{
		map[string]any{"port": 80}, map[string]any{"port": 81}}})
	add("service nodePort with ClusterIP", S, edit{"spec.type", "ClusterIP"}, edit{"spec.ports[0].nodePort", 30080})
	add("service nodePort out of range", S, edit{"spec.ports[0].nodePort", 80})
	add("service targetPort name bad", S, edit{"spec.ports[0].targetPort", "no_such"})
	add("service targetPort 0 as string", S, edit{"spec.ports[0].targetPort", "0"})
	add("service port name uppercase", S, edit{"spec.ports[0].name", "HTTP"})
	add("service protocol unknown", S, edit{"spec.ports[0].protocol", "XTP"})
	return cases
}
