package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) api.Time { return api.Time{Time: now.Add(-d)} }

func ptr[T any](v T) *T { return &v }

func pod(name, phase string, ready bool, restarts int32, ip string, age time.Duration) *api.Pod {
	return &api.Pod{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindPod},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age), Labels: map[string]string{"app": "kubia"}},
		Spec:       api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
		Status: api.PodStatus{Phase: phase, PodIP: ip, ContainerStatuses: []api.ContainerStatus{{
			Name: "nodejs", Ready: ready, RestartCount: restarts, Image: "luksa/kubia:v1",
			State: api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ago(age)}},
		}}},
	}
}

func rc(name string, desired, current, ready int32, age time.Duration) *api.ReplicationController {
	return &api.ReplicationController{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age)},
		Spec: api.ReplicationControllerSpec{Replicas: &desired, Selector: map[string]string{"app": "kubia"},
			Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}}}},
		Status: api.ReplicaSetStatus{Replicas: current, ReadyReplicas: ready},
	}
}

func deploy() *api.Deployment {
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default", CreationTimestamp: ago(3*time.Minute + 12*time.Second), Annotations: map[string]string{api.AnnotationRevision: "2"}},
		Spec: api.DeploymentSpec{Replicas: ptr(int32(3)), Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			Strategy: api.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &api.RollingUpdateDeployment{MaxUnavailable: ptr(api.FromInt(0)), MaxSurge: ptr(api.FromInt(1))}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v2", Ports: []api.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &api.Probe{ProbeHandler: api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/healthz", Port: api.FromInt(8080)}}, PeriodSeconds: 1}}}}}},
		Status: api.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []api.Condition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable"}, {Type: "Progressing", Status: "True", Reason: "NewReplicaSetAvailable"}}},
	}
}

func svc() *api.Service {
	return &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default", CreationTimestamp: ago(2*24*time.Hour + 4*time.Hour)},
		Spec: api.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "kubia"},
			Ports: []api.ServicePort{{Port: 80, TargetPort: api.FromInt(8080), NodePort: 30123}}},
	}
}

func endpoints(n int) *api.Endpoints {
	ep := &api.Endpoints{TypeMeta: api.TypeMeta{Kind: api.KindEndpoints}, ObjectMeta: api.ObjectMeta{Name: "kubia", CreationTimestamp: ago(5 * time.Second)}}
	ss := api.EndpointSubset{Ports: []api.EndpointPort{{Port: 8080}}}
	for i := range n {
		ss.Addresses = append(ss.Addresses, api.EndpointAddress{IP: "172.18.0." + string(rune('2'+i)), TargetRef: &api.ObjectReference{Kind: "Pod", Name: "kubia-v1-p" + string(rune('a'+i))}})
	}
	ep.Subsets = []api.EndpointSubset{ss}
	return ep
}

func render(t *testing.T, opts Options, objs []api.Object, single bool) string {
	t.Helper()
	var buf bytes.Buffer
	opts.Now = func() time.Time { return now }
	if err := New(&buf, opts).Print(objs, single); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func golden(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:               "<invalid>",
		-time.Second + 1:               "0s",
		5 * time.Second:                "5s",
		119 * time.Second:              "119s",
		3*time.Minute + 12*time.Second: "3m12s",
		4 * time.Minute:                "4m",
		15 * time.Minute:               "15m",
		179 * time.Minute:              "179m",
		5*time.Hour + 20*time.Minute:   "5h20m",
		30 * time.Hour:                 "30h",
		52 * time.Hour:                 "2d4h",
		72 * time.Hour:                 "3d",
		20 * 24 * time.Hour:            "20d",
		(3*365 + 2) * 24 * time.Hour:   "3y2d",
		9 * 365 * 24 * time.Hour:       "9y",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPodsTable(t *testing.T) {
	crash := pod("kubia-v1-zzzzz", "Running", false, 2, "172.18.0.4", 10*time.Minute)
	crash.Status.ContainerStatuses[0].State = api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	crash.Status.ContainerStatuses[0].LastState = api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(45 * time.Second)}}
	objs := []api.Object{pod("kubia-v1-x7k2p", "Running", true, 0, "172.18.0.2", 5*time.Second), crash}
	golden(t, render(t, Options{}, objs, false), `
NAME             READY   STATUS             RESTARTS      AGE
kubia-v1-x7k2p   1/1     Running            0             5s
kubia-v1-zzzzz   0/1     CrashLoopBackOff   2 (45s ago)   10m
`)
	golden(t, render(t, Options{Format: FormatWide}, objs[:1], false), `
NAME             READY   STATUS    RESTARTS   AGE   IP           NODE
kubia-v1-x7k2p   1/1     Running   0          5s    172.18.0.2   local
`)
}

func TestWorkloadTables(t *testing.T) {
	golden(t, render(t, Options{}, []api.Object{rc("kubia-v1", 3, 3, 2, 90*time.Second)}, false), `
NAME       DESIRED   CURRENT   READY   AGE
kubia-v1   3         3         2       90s
`)
	golden(t, render(t, Options{Format: FormatWide}, []api.Object{rc("kubia-v1", 3, 3, 3, time.Hour)}, false), `
NAME       DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES           SELECTOR
kubia-v1   3         3         3       60m   nodejs       luksa/kubia:v1   app=kubia
`)
	golden(t, render(t, Options{Format: FormatWide}, []api.Object{deploy()}, false), `
NAME    READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS   IMAGES           SELECTOR
kubia   3/3     3            3           3m12s   nodejs       luksa/kubia:v2   app=kubia
`)
}

func TestServiceEndpointsEventsTables(t *testing.T) {
	golden(t, render(t, Options{}, []api.Object{svc()}, false), `
NAME    TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE
kubia   NodePort   <none>       <none>        80:30123/TCP   2d4h
`)
	golden(t, render(t, Options{Format: FormatWide, Address: "127.0.0.1"}, []api.Object{svc()}, false), `
NAME    TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE    SELECTOR    URL
kubia   NodePort   <none>       <none>        80:30123/TCP   2d4h   app=kubia   http://127.0.0.1:30123
`)
	golden(t, render(t, Options{}, []api.Object{endpoints(4)}, false), `
NAME    ENDPOINTS                                                     AGE
kubia   172.18.0.2:8080,172.18.0.3:8080,172.18.0.4:8080 + 1 more...   5s
`)
	golden(t, render(t, Options{}, []api.Object{endpoints(0)}, false), `
NAME    ENDPOINTS   AGE
kubia   <none>      5s
`)
	ev := &api.Event{TypeMeta: api.TypeMeta{Kind: api.KindEvent}, ObjectMeta: api.ObjectMeta{Name: "kubia-v1.1"},
		InvolvedObject: api.ObjectReference{Kind: "ReplicationController", Name: "kubia-v1"},
		Reason:         "SuccessfulCreate", Message: "Created pod: kubia-v1-x7k2p", Type: "Normal", LastTimestamp: ago(12 * time.Second)}
	golden(t, render(t, Options{}, []api.Object{ev}, false), `
LAST SEEN   TYPE     REASON             OBJECT                           MESSAGE
12s         Normal   SuccessfulCreate   replicationcontroller/kubia-v1   Created pod: kubia-v1-x7k2p
`)
}

func TestMixedKindsAndNamespaces(t *testing.T) {
	got := render(t, Options{AllNamespaces: true}, []api.Object{pod("kubia-v1-x7k2p", "Running", true, 0, "", 5*time.Second), svc()}, false)
	golden(t, got, `
NAMESPACE   NAME                 READY   STATUS    RESTARTS   AGE
default     pod/kubia-v1-x7k2p   1/1     Running   0          5s

NAMESPACE   NAME            TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE
default     service/kubia   NodePort   <none>       <none>        80:30123/TCP   2d4h
`)
}

func TestNameJSONYAML(t *testing.T) {
	objs := []api.Object{pod("kubia-v1-x7k2p", "Running", true, 0, "", time.Second), deploy(), rc("kubia-v1", 3, 3, 3, 0), svc()}
	golden(t, render(t, Options{Format: FormatName}, objs, false), `
pod/kubia-v1-x7k2p
deployment.apps/kubia
replicationcontroller/kubia-v1
service/kubia
`)
	one := render(t, Options{Format: FormatJSON}, objs[3:], true)
	if !strings.HasPrefix(one, "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Service\",\n") || !strings.Contains(one, `"nodePort": 30123`) {
		t.Errorf("json of one object:\n%s", one)
	}
	list := render(t, Options{Format: FormatYAML}, objs[2:], false)
	for _, want := range []string{"apiVersion: v1\nitems:\n", "  - apiVersion: v1\n    kind: ReplicationController\n", "kind: List\n", "nodePort: 30123\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("yaml list lacks %q:\n%s", want, list)
		}
	}
	empty := render(t, Options{Format: FormatJSON}, nil, false)
	if !strings.Contains(empty, `"items": []`) {
		t.Errorf("empty list:\n%s", empty)
	}
}

func TestStreamKeepsColumnsAligned(t *testing.T) {
	var buf bytes.Buffer
	s := New(&buf, Options{Now: func() time.Time { return now }}).Stream()
	s.Print(pod("kubia-v1-x7k2p", "Pending", false, 0, "", time.Second))
	s.Print(pod("kubia-v1-x7k2p", "Running", true, 0, "", 2*time.Second))
	golden(t, buf.String(), `
NAME             READY   STATUS    RESTARTS   AGE
kubia-v1-x7k2p   0/1     Pending   0          1s
kubia-v1-x7k2p   1/1     Running   0          2s
`)
}

func TestDescribeDeployment(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Now: func() time.Time { return now }})
	newRS := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: "kubia-7c9d"}, Spec: api.ReplicaSetSpec{Replicas: ptr(int32(3))}, Status: api.ReplicaSetStatus{Replicas: 3}}
	oldRS := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: "kubia-5d9f"}, Spec: api.ReplicaSetSpec{Replicas: ptr(int32(0))}}
	events := []*api.Event{{Type: "Normal", Reason: "ScalingReplicaSet", Message: "Scaled up replica set kubia-7c9d to 3", Source: api.EventSource{Component: "deployment-controller"}, LastTimestamp: ago(2 * time.Minute)}}
	d := deploy()
	d.Spec.Template.Spec.Containers[0].Resources = &api.Resources{
		Limits:   map[string]api.Quantity{"memory": "128Mi", "cpu": "500m"},
		Requests: map[string]api.Quantity{"cpu": "100m"},
	}
	d.Annotations = map[string]string{api.AnnotationLastApplied: `{"kind":"Deployment"}`, "team": "web"}
	if err := p.DescribeDeployment(d, []*api.ReplicaSet{oldRS}, newRS, events); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "last-applied") {
		t.Errorf("describe shows the last-applied manifest:\n%s", out)
	}
	for _, want := range []string{
		"Annotations:            team: web\n",
		// Blocks of lines with tabs align apart, as kubectl's do.
		"    Image:  luksa/kubia:v2\n    Port:   8080/TCP\n",
		"    Limits:\n      cpu:     500m\n      memory:  128Mi\n    Requests:\n      cpu:        100m\n",
		"Name:                   kubia\n",
		"Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable\n",
		"StrategyType:           RollingUpdate\n",
		"RollingUpdateStrategy:  0 max unavailable, 1 max surge\n",
		"Pod Template:\n  Labels:  app=kubia\n  Containers:\n   nodejs:\n",
		"    Readiness:    http-get http://:8080/healthz delay=0s timeout=1s period=1s #success=1 #failure=3\n",
		"Conditions:\n  Type           Status  Reason\n  ----           ------  ------\n  Available      True    MinimumReplicasAvailable\n",
		"OldReplicaSets:  kubia-5d9f (0/0 replicas created)\n",
		"NewReplicaSet:   kubia-7c9d (3/3 replicas created)\n",
		"Events:\n  Type    Reason             Age   From                   Message\n",
		"  Normal  ScalingReplicaSet  2m    deployment-controller  Scaled up replica set kubia-7c9d to 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

func TestDescribePodServiceRC(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Now: func() time.Time { return now }, Address: "127.0.0.1"})
	po := pod("kubia-v1-x7k2p", "Running", true, 0, "172.18.0.2", time.Minute)
	po.OwnerReferences = []api.OwnerReference{{Kind: "ReplicationController", Name: "kubia-v1", Controller: ptr(true)}}
	if err := p.DescribePod(po, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.DescribeService(svc(), endpoints(2), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.DescribeReplicationController(rc("kubia-v1", 3, 3, 3, time.Minute), []*api.Pod{po, po, pod("kubia-v1-y", "Pending", false, 0, "", 0)}, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Controlled By:  ReplicationController/kubia-v1\n",
		"IP:             172.18.0.2\n",
		"    Ready:          True\n",
		"    Restart Count:  0\n",
		"Endpoints:         172.18.0.2:8080 (kubia-v1-pa)\n                   172.18.0.3:8080 (kubia-v1-pb)\n",
		"URL:               http://127.0.0.1:30123\n",
		"Pods Status:  2 Running / 1 Waiting / 0 Succeeded / 0 Failed\n",
		"Session Affinity:  None\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

func TestHistoryAndPlan(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{})
	p.History([]server.RevisionInfo{{Revision: 1}, {Revision: 2, ChangeCause: "mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2 --record"}})
	p.Plan([]server.PlanStep{{Step: 1, Action: "scale up kubia-7c9d to 1", Old: 3, New: 1, Available: 3, Total: 4}})
	golden(t, buf.String(), `
REVISION  CHANGE-CAUSE
1         <none>
2         mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2 --record
STEP   ACTION                     OLD   NEW   AVAILABLE   TOTAL
1      scale up kubia-7c9d to 1   3     1     3           4
`)
}

func TestJSONPath(t *testing.T) {
	svc := &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: "kubia"},
		Spec:       api.ServiceSpec{ClusterIP: "127.0.0.1", Ports: []api.ServicePort{{Port: 80, NodePort: 30123}}},
	}
	var b strings.Builder
	p := New(&b, Options{Format: "jsonpath=http://{.spec.clusterIP}:{.spec.ports[0].nodePort}"})
	if err := p.Print([]api.Object{svc}, true); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "http://127.0.0.1:30123" {
		t.Fatalf("got %q", got)
	}
	b.Reset()
	p = New(&b, Options{Format: "jsonpath={.items[*].metadata.name}"})
	if err := p.Print([]api.Object{svc, svc}, false); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "kubia kubia" {
		t.Fatalf("got %q", got)
	}
	// kubectl's whole jsonpath: range, quoted literals, filters, recursive
	// descent; an index out of range is an error, a missing key is nothing.
	for _, tc := range []struct{ tmpl, want string }{
		{`{range .items[*]}{.metadata.name}{"\t"}{.spec.ports[0].nodePort}{"\n"}{end}`, "kubia\t30123\nkubia\t30123\n"},
		{`{.items[?(@.metadata.name=="kubia")].spec.clusterIP}`, "127.0.0.1 127.0.0.1"},
		{`{.items[?(@.spec.ports[0].nodePort==30123)].metadata.name}`, "kubia kubia"},
		{`{.items[?(@.spec.ports[0].nodePort>30200)].metadata.name}`, ""},
		{`{..nodePort}`, "30123 30123"},
		{`{.items[0].metadata.labels}{.items[0].status.nothing}`, ""},
		{`{.items[0].spec.ports}`, `[{"nodePort":30123,"port":80,"targetPort":0}]`},
	} {
		b.Reset()
		if err := New(&b, Options{Format: "jsonpath=" + tc.tmpl}).Print([]api.Object{svc, svc}, false); err != nil || b.String() != tc.want {
			t.Errorf("jsonpath %s: %q, %v; want %q", tc.tmpl, b.String(), err, tc.want)
		}
	}
	if err := New(&b, Options{Format: "jsonpath={.spec.ports[5]}"}).Print([]api.Object{svc}, true); err == nil || !strings.Contains(err.Error(), "out of bounds") {
		t.Errorf("index out of range: %v", err)
	}
	if err := New(&b, Options{Format: "jsonpath={.spec"}).Print([]api.Object{svc}, true); err == nil {
		t.Error("an unclosed template should be an error")
	}
}

func TestCustomColumns(t *testing.T) {
	svc := &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Labels: map[string]string{"app": "kubia"}},
		Spec:       api.ServiceSpec{ClusterIP: "127.0.0.1", Ports: []api.ServicePort{{Port: 80, NodePort: 30123}, {Port: 81, NodePort: 30124}}},
	}
	other := &api.Service{TypeMeta: svc.TypeMeta, ObjectMeta: api.ObjectMeta{Name: "db-service"}}
	var b strings.Builder
	if err := New(&b, Options{Format: "custom-columns=NAME:.metadata.name,PORTS:{.spec.ports[*].nodePort},APP:.metadata.labels.app"}).Print([]api.Object{svc, other}, false); err != nil {
		t.Fatal(err)
	}
	want := "NAME         PORTS         APP\nkubia        30123,30124   kubia\ndb-service   <none>        <none>\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := New(&b, Options{Format: "custom-columns=NAME:{.metadata.name}", NoHeaders: true}).Print([]api.Object{svc}, false); err != nil || b.String() != "kubia\n" {
		t.Errorf("--no-headers: %q, %v", b.String(), err)
	}
	if !ValidFormat("custom-columns=NAME:.metadata.name") {
		t.Error("custom-columns is not a valid -o")
	}
	if err := New(&b, Options{Format: "custom-columns=NAME"}).Print([]api.Object{svc}, false); err == nil || !strings.Contains(err.Error(), "expected <header>:<json-path-expr>") {
		t.Errorf("a column without a path: %v", err)
	}
}

func TestSortBy(t *testing.T) {
	svc := func(name string, port int32) api.Object {
		s := &api.Service{TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: api.KindService}, ObjectMeta: api.ObjectMeta{Name: name}}
		if port > 0 {
			s.Spec.Ports = []api.ServicePort{{Port: 80, NodePort: port}}
		}
		return s
	}
	names := func(objs []api.Object) string {
		var n []string
		for _, o := range objs {
			n = append(n, o.Meta().Name)
		}
		return strings.Join(n, " ")
	}
	objs := []api.Object{svc("b", 30010), svc("a", 9999), svc("c", 0), svc("d", 30002)}
	// Numbers as numbers (9999 before 30002), the one without a port first.
	if err := SortBy(objs, ".spec.ports[0].nodePort"); err != nil || names(objs) != "c a d b" {
		t.Errorf("by nodePort: %s, %v", names(objs), err)
	}
	if err := SortBy(objs, "{.metadata.name}"); err != nil || names(objs) != "a b c d" {
		t.Errorf("by name: %s, %v", names(objs), err)
	}
	if err := SortBy(objs, ".spec.nosuch"); err == nil || !strings.Contains(err.Error(), "couldn't find any field") {
		t.Errorf("a field no object has: %v", err)
	}
	if err := SortBy(objs, "{.metadata.name"); err == nil {
		t.Error("a bad path should be an error")
	}
}

func TestFieldSelector(t *testing.T) {
	pod := func(name, phase string) api.Object {
		return &api.Pod{TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: api.KindPod},
			ObjectMeta: api.ObjectMeta{Name: name}, Status: api.PodStatus{Phase: phase}}
	}
	objs := []api.Object{pod("a", "Running"), pod("b", "Pending"), pod("c", "Running")}
	for _, tc := range []struct{ sel, want string }{
		{"status.phase=Running", "a c"},
		{"status.phase==Running,metadata.name!=a", "c"},
		{"status.phase!=Running", "b"},
		{"spec.nodeName=", "a b c"}, // a missing field is ""
	} {
		fs, err := ParseFieldSelector(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.Filter(objs)
		var names []string
		for _, o := range got {
			names = append(names, o.Meta().Name)
		}
		if err != nil || strings.Join(names, " ") != tc.want {
			t.Errorf("%s: %v, %v; want %s", tc.sel, names, err, tc.want)
		}
	}
	if _, err := ParseFieldSelector("status.phase"); err == nil || !strings.Contains(err.Error(), "can't understand") {
		t.Errorf("a term without an operator: %v", err)
	}
}
