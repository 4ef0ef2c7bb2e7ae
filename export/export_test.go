package export

import (
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {mini-deploy.io/auto-rollback: "true", deployment.kubernetes.io/revision: "4"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: local/web:dev
        ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  clusterIP: 10.0.0.7
  ports: [{port: 80, targetPort: admin}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probed}
spec:
  selector: {matchLabels: {app: probed}}
  template:
    metadata: {labels: {app: probed}}
    spec:
      containers:
      - name: p
        image: busybox
        readinessProbe: {exec: {command: ["true"]}}
`

func TestManifests(t *testing.T) {
	objs, err := api.DecodeManifests("m.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Manifests(objs, Options{LocalOnly: func(img string) bool { return img == "local/web:dev" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 3 {
		t.Fatalf("%d objects; want 3", len(res.Objects))
	}
	web := res.Objects[0].(*api.Deployment)
	p := web.Spec.Template.Spec.Containers[0].ReadinessProbe
	if p == nil || p.TCPSocket == nil || p.TCPSocket.Port != api.FromInt(9090) {
		t.Fatalf("readiness probe %+v; want tcpSocket on 9090, the port the Service targets", p)
	}
	if _, ok := web.Annotations[api.AnnotationRevision]; ok {
		t.Error("the server-set revision annotation was exported")
	}
	if web.Annotations[api.AnnotationAutoRollback] != "true" {
		t.Error("the auto-rollback annotation was dropped")
	}
	if got := res.Objects[1].(*api.Service).Spec.ClusterIP; got != "" {
		t.Errorf("cluster IP %q exported", got)
	}
	probed := res.Objects[2].(*api.Deployment).Spec.Template.Spec.Containers[0].ReadinessProbe
	if probed.Exec == nil || probed.TCPSocket != nil {
		t.Errorf("a probe the user wrote was changed: %+v", probed)
	}
	if objs[0].(*api.Deployment).Spec.Template.Spec.Containers[0].ReadinessProbe != nil {
		t.Error("Manifests changed its input")
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"implicit TCP readiness check on port 9090", "mini-deploy.io/auto-rollback",
		"image local/web:dev exists only on this engine"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not say %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "busybox") {
		t.Errorf("a pullable image was warned about:\n%s", notes)
	}
	y, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := api.DecodeManifests("exported.yaml", y)
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, y)
	}
	if len(back) != 3 || strings.Contains(string(y), "status") {
		t.Errorf("exported YAML:\n%s", y)
	}
}

func TestManifestsLeavesOutWhatControllersMade(t *testing.T) {
	yes := true
	rs := &api.ReplicaSet{TypeMeta: api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindReplicaSet},
		ObjectMeta: api.ObjectMeta{Name: "web-abc", OwnerReferences: []api.OwnerReference{{Kind: api.KindDeployment, Name: "web", Controller: &yes}}}}
	res, err := Manifests([]api.Object{rs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 0 {
		t.Fatalf("a Deployment's ReplicaSet was exported: %+v", res.Objects)
	}
}
