package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The seed's two YAML blocks, verbatim, must decode, default and validate.
func TestSeedManifests(t *testing.T) {
	for _, file := range []string{"seed-v1.yaml", "seed-v2.yaml"} {
		t.Run(file, func(t *testing.T) {
			objs, err := DecodeManifests(file, readTestdata(t, file))
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range objs {
				SetDefaults(obj)
			}
			if err := ValidateApply(objs); err != nil {
				t.Fatal(err)
			}
		})
	}

	objs, err := DecodeManifests("seed-v1.yaml", readTestdata(t, "seed-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	rc, ok := objs[0].(*ReplicationController)
	if !ok {
		t.Fatalf("document 1 is %T", objs[0])
	}
	SetDefaults(rc)
	if rc.Name != "kubia-v1" || *rc.Spec.Replicas != 3 || rc.Namespace != "default" {
		t.Errorf("rc = %s/%s replicas %d", rc.Namespace, rc.Name, *rc.Spec.Replicas)
	}
	if rc.Spec.Selector["app"] != "kubia" || rc.Labels["app"] != "kubia" {
		t.Errorf("selector %v labels %v, want both app=kubia from the template", rc.Spec.Selector, rc.Labels)
	}
	c := rc.Spec.Template.Spec.Containers[0]
	if c.Name != "nodejs" || c.Image != "luksa/kubia:v1" || c.ImagePullPolicy != "IfNotPresent" {
		t.Errorf("container = %+v", c)
	}
	svc := objs[1].(*Service)
	SetDefaults(svc)
	p := svc.Spec.Ports[0]
	if svc.Spec.Type != "NodePort" || p.Port != 80 || p.TargetPort != FromInt(8080) || p.Protocol != "TCP" {
		t.Errorf("service = %+v", svc.Spec)
	}
	if src, ok := SourceOf(svc); !ok || src.String() != "seed-v1.yaml: document 2" {
		t.Errorf("SourceOf(service) = %v, %v", src, ok)
	}
	// A copy, like an object that went through the store or the wire, was
	// not read from a file and says so.
	if src, ok := SourceOf(svc.DeepCopy()); ok {
		t.Errorf("SourceOf(copy) = %v, want none", src)
	}
}

const rcBase = `apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia-bad
spec:
  replicas: 3
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v1
        name: nodejs
`

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "unknown field",
			yaml: strings.Replace(rcBase, "  replicas: 3", "  replicaz: 3", 1),
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.replicaz: unknown field (line 6)`,
		},
		{
			name: "unknown field in a list element",
			yaml: rcBase + "        imagePullPolicyy: Always\n",
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.template.spec.containers[0].imagePullPolicyy: unknown field (line 15)`,
		},
		{
			name: "type mismatch",
			yaml: strings.Replace(rcBase, "replicas: 3", "replicas: three", 1),
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.replicas: expected an integer, got "three" (line 6)`,
		},
		{
			name: "second document numbered",
			yaml: "---\n" + rcBase + "---\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: kubia\nspec:\n  portz: []\n",
			want: `kubia.yaml: document 3 (Service "kubia"): spec.portz: unknown field (line 24)`,
		},
		{
			name: "string where an object belongs, and a duplicate",
			yaml: strings.Replace(rcBase, "  replicas: 3", "  template: nope\n  replicas: 3", 1),
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.template: expected an object, got "nope" (line 6)` + "\n" +
				`kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.template: duplicate field (line 8)`,
		},
		{
			name: "wrong apiVersion",
			yaml: "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: kubia\n",
			want: `kubia.yaml: document 1 (Deployment "kubia"): apiVersion "extensions/v1beta1" is not supported for kind Deployment, use apps/v1; supported: v1 ReplicationController, apps/v1 ReplicaSet, apps/v1 Deployment, v1 Service, v1 List (line 1)`,
		},
		{
			name: "unknown kind",
			yaml: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kubia\n",
			want: `kubia.yaml: document 1: unsupported kind "Pod"; supported: v1 ReplicationController, apps/v1 ReplicaSet, apps/v1 Deployment, v1 Service, v1 List (line 1)`,
		},
		{
			name: "missing kind",
			yaml: "apiVersion: v1\nmetadata:\n  name: kubia\n",
			want: `kubia.yaml: document 1: kind is missing; supported: v1 ReplicationController, apps/v1 ReplicaSet, apps/v1 Deployment, v1 Service, v1 List (line 1)`,
		},
		{
			name: "not an object",
			yaml: "- a\n- b\n",
			want: `kubia.yaml: document 1: expected an object with apiVersion and kind, got a list (line 1)`,
		},
		{
			name: "label value not a string",
			yaml: strings.Replace(rcBase, "app: kubia", "app: kubia\n        version: 2", 1),
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.template.metadata.labels[version]: expected a string, got 2 (line 11)`,
		},
		{
			name: "int out of range",
			yaml: strings.Replace(rcBase, "replicas: 3", "replicas: 5000000000", 1),
			want: `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.replicas: 5000000000 is out of range for int32 (line 6)`,
		},
		{
			name: "list item",
			yaml: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: kubia\n  spec:\n    ports:\n    - port: 80\n      nodeport: 30080\n",
			want: `kubia.yaml: document 1: items[0] (Service "kubia"): spec.ports[0].nodeport: unknown field (line 11)`,
		},
		{
			name: "syntax error",
			yaml: "apiVersion: v1\nkind: [\n",
			want: `kubia.yaml: document 1: line 2: did not find expected node content`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests("kubia.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("decoded %d objects, want error %q", len(objs), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	y := strings.Replace(rcBase, "  replicas: 3", "  replicaz: 3\n  minReadySecond: 1", 1)
	_, err := DecodeManifests("kubia.yaml", []byte(y))
	want := `kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.replicaz: unknown field (line 6)
kubia.yaml: document 1 (ReplicationController "kubia-bad"): spec.minReadySecond: unknown field (line 7)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestDecodeAccepts(t *testing.T) {
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
  labels: &labels
    app: kubia
  uid: 0b6e2c
  resourceVersion: "42"
  generation: 3
  creationTimestamp: 2024-05-01T10:00:00Z
spec:
  replicas: 3
  selector:
    matchLabels: *labels
    matchExpressions:
    - {key: tier, operator: NotIn, values: [db]}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: "0%"}
  template:
    metadata:
      labels: *labels
      annotations:
        mini-deploy.io/note: "1"
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: nodejs
        image: luksa/kubia:v2
        args: ["--port", "8080"]
        env:
        - name: GREETING
          value: hello
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
status:
  replicas: 3
  conditions:
  - type: Available
    status: "True"
    extra: ignored with the rest of status
`
	objs, err := DecodeManifests("deploy.yaml", []byte(deploy))
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0].(*Deployment)
	if d.UID != "" || d.ResourceVersion != "" || d.Generation != 0 || !d.CreationTimestamp.IsZero() || d.Status.Replicas != 0 {
		t.Errorf("server fields kept: %+v %+v", d.ObjectMeta, d.Status)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if *ru.MaxSurge != FromInt(1) || *ru.MaxUnavailable != FromString("0%") {
		t.Errorf("rollingUpdate = %v/%v", ru.MaxSurge, ru.MaxUnavailable)
	}
	if d.Spec.Template.Labels["app"] != "kubia" || d.Spec.Selector.MatchExpressions[0].Values[0] != "db" {
		t.Errorf("aliases not followed: %+v", d.Spec)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe.HTTPGet.Port != FromString("http") || c.Env[0].Value != "hello" || c.Args[1] != "8080" {
		t.Errorf("container = %+v", c)
	}
	SetDefaults(d)
	if err := Validate(d); err != nil {
		t.Error(err)
	}
}

func TestDecodeJSONAndList(t *testing.T) {
	const list = `{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}},
  {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "b"},
   "spec": {"selector": {"matchLabels": {"app": "b"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
]}`
	objs, err := DecodeManifests("list.json", []byte(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetTypeMeta().Kind != KindService || objs[1].GetTypeMeta().Kind != KindReplicaSet {
		t.Fatalf("objs = %v", objs)
	}
	if src, _ := SourceOf(objs[1]); src.String() != "list.json: document 1: items[1]" {
		t.Errorf("source = %s", src)
	}
}

func TestDecodeSkipsEmptyDocuments(t *testing.T) {
	y := "# nothing here\n---\n---\n" + rcBase + "---\n# trailing\n"
	objs, err := DecodeManifests("kubia.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("got %d objects, want 1", len(objs))
	}
}

func TestReadManifests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yml", strings.Replace(rcBase, "kubia-bad", "second", 1))
	write("a.yaml", rcBase)
	write("notes.txt", "not a manifest")
	write("c.json", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "third"}, "spec": {"ports": [{"port": 80}]}}`)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("sub/ignored.yaml", "kind: [")

	objs, err := ReadManifests([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Meta().Name)
	}
	if got := strings.Join(names, ","); got != "kubia-bad,second,third" {
		t.Errorf("names = %s, want files in name order", got)
	}

	write("d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {prts: []}\n")
	_, err = ReadManifests([]string{dir})
	want := filepath.Join(dir, "d.yaml") + `: document 1 (Service "x"): spec.prts: unknown field (line 4)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	if _, err := ReadManifests([]string{filepath.Join(dir, "sub", "missing.yaml")}); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := ReadManifests([]string{t.TempDir()}); err == nil {
		t.Error("empty directory: no error")
	}
}
