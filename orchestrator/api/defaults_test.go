package api

import (
	"encoding/json"
	"testing"
)

func TestSetDefaultsDeployment(t *testing.T) {
	objs, err := DecodeManifests("d.yaml", []byte(deployBase+`        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {port: 8080}
        livenessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 5
`))
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0].(*Deployment)
	SetDefaults(d)
	s := d.Spec
	ru := s.Strategy.RollingUpdate
	switch {
	case d.Namespace != "default":
		t.Errorf("namespace %q", d.Namespace)
	case s.Strategy.Type != "RollingUpdate" || *ru.MaxSurge != FromString("25%") || *ru.MaxUnavailable != FromString("25%"):
		t.Errorf("strategy %+v %v %v", s.Strategy, ru.MaxSurge, ru.MaxUnavailable)
	case *s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600:
		t.Errorf("history %d deadline %d", *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds)
	}
	ps := s.Template.Spec
	if ps.RestartPolicy != "Always" || *ps.TerminationGracePeriodSeconds != 30 {
		t.Errorf("pod spec %+v", ps)
	}
	c := ps.Containers[0]
	if c.ImagePullPolicy != "IfNotPresent" || c.Ports[0].Protocol != "TCP" {
		t.Errorf("container %+v", c)
	}
	r := c.ReadinessProbe
	if r.TimeoutSeconds != 1 || r.PeriodSeconds != 10 || r.SuccessThreshold != 1 || r.FailureThreshold != 3 ||
		r.HTTPGet.Path != "/" || r.HTTPGet.Scheme != "HTTP" {
		t.Errorf("readiness probe %+v %+v", r, r.HTTPGet)
	}
	if c.LivenessProbe.PeriodSeconds != 5 {
		t.Errorf("liveness period %d, want the manifest's 5", c.LivenessProbe.PeriodSeconds)
	}

	// Defaulting twice changes nothing.
	before, _ := json.Marshal(d)
	SetDefaults(d)
	after, _ := json.Marshal(d)
	if string(before) != string(after) {
		t.Errorf("not idempotent:\n%s\n%s", before, after)
	}
}

func TestSetDefaultsRecreateHasNoRollingUpdate(t *testing.T) {
	d := &Deployment{Spec: DeploymentSpec{Strategy: DeploymentStrategy{Type: "Recreate"}}}
	SetDefaults(d)
	if d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("rollingUpdate = %+v", d.Spec.Strategy.RollingUpdate)
	}
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
}

func TestSetDefaultsRCKeepsExplicitSelectorAndLabels(t *testing.T) {
	rc := &ReplicationController{
		ObjectMeta: ObjectMeta{Name: "x", Labels: map[string]string{"team": "a"}},
		Spec: ReplicationControllerSpec{
			Selector: map[string]string{"app": "x"},
			Template: &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "x", "v": "1"}}},
		},
	}
	SetDefaults(rc)
	if len(rc.Spec.Selector) != 1 || rc.Labels["team"] != "a" || len(rc.Labels) != 1 {
		t.Errorf("selector %v labels %v", rc.Spec.Selector, rc.Labels)
	}
	rc.Spec.Template.Labels["v"] = "2"
	rc2 := &ReplicationController{Spec: ReplicationControllerSpec{Template: rc.Spec.Template}}
	SetDefaults(rc2)
	rc2.Spec.Template.Labels["v"] = "3"
	if rc2.Spec.Selector["v"] != "2" {
		t.Error("defaulted selector shares the template's label map")
	}
}

func TestSetDefaultsService(t *testing.T) {
	s := &Service{Spec: ServiceSpec{Ports: []ServicePort{{Port: 80}, {Port: 81, TargetPort: FromString("web")}}}}
	SetDefaults(s)
	if s.Spec.Type != "ClusterIP" || s.Spec.SessionAffinity != "None" {
		t.Errorf("spec %+v", s.Spec)
	}
	if p := s.Spec.Ports[0]; p.TargetPort != FromInt(80) || p.Protocol != "TCP" {
		t.Errorf("port 0 %+v", p)
	}
	if p := s.Spec.Ports[1]; p.TargetPort != FromString("web") {
		t.Errorf("port 1 %+v", p)
	}
}

func TestImagePullPolicyDefault(t *testing.T) {
	tests := map[string]string{
		"luksa/kubia:v1":                "IfNotPresent",
		"luksa/kubia":                   "Always",
		"luksa/kubia:latest":            "Always",
		"localhost:5000/kubia":          "Always",
		"localhost:5000/kubia:v2":       "IfNotPresent",
		"kubia@sha256:0123456789abcdef": "IfNotPresent",
	}
	for image, want := range tests {
		rs := &ReplicaSet{Spec: ReplicaSetSpec{Template: PodTemplateSpec{Spec: PodSpec{Containers: []Container{{Image: image}}}}}}
		SetDefaults(rs)
		if got := rs.Spec.Template.Spec.Containers[0].ImagePullPolicy; got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}
