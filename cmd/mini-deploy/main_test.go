package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// fakeBackend keeps objects in a map and records the calls that change
// something.
type fakeBackend struct {
	mu         sync.Mutex
	objects    map[api.Key]api.Object
	calls      []string
	rollout    func(req server.RolloutRequest, n int) (server.RolloutResponse, error)
	nRoll      int
	ru         []*api.RollingUpdate // successive answers of Get RollingUpdate
	nRU        int
	watch      chan server.WatchEvent
	notServing []server.PortProblem
	podGets    int     // a deleted pod stays for this many Gets
	lingering  api.Key // the pod that stays
}

func newFake(objs ...api.Object) *fakeBackend {
	f := &fakeBackend{objects: map[api.Key]api.Object{}}
	for _, o := range objs {
		f.objects[api.KeyOf(o)] = o
	}
	return f
}

func (f *fakeBackend) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

type notFoundErr struct{ msg string }

func (e *notFoundErr) Error() string { return e.msg }
func (e *notFoundErr) Unwrap() error { return store.ErrNotFound }

func (f *fakeBackend) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
	f.record("Apply %d dryRun=%v cause=%q", len(objs), opts.DryRun, opts.ChangeCause)
	var res []server.ApplyResult
	for _, o := range objs {
		k := api.KeyOf(o)
		action := "created"
		if _, ok := f.objects[k]; ok {
			action = "configured"
		}
		// What the controllers and the port allocator would do.
		switch o := o.(type) {
		case *api.ReplicationController:
			o.Status = api.ReplicaSetStatus{Replicas: *o.Spec.Replicas, ReadyReplicas: *o.Spec.Replicas}
		case *api.Service:
			for i := range o.Spec.Ports {
				o.Spec.Ports[i].NodePort = 30123
			}
		}
		f.objects[k] = o
		res = append(res, server.ApplyResult{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name, Action: action})
	}
	return res, nil
}

func (f *fakeBackend) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	k := api.KeyOf(obj)
	f.record("Update %s %s rv=%q", k.Kind, k.Name, obj.Meta().ResourceVersion)
	if _, ok := f.objects[k]; !ok {
		return nil, &notFoundErr{fmt.Sprintf("%s %q not found", api.Resource(k.Kind), k.Name)}
	}
	f.objects[k] = obj
	return obj, nil
}

func (f *fakeBackend) TopPods(ctx context.Context, ns, sel string) ([]server.PodMetrics, error) {
	f.record("TopPods %q %q", ns, sel)
	return []server.PodMetrics{{Namespace: "default", Name: "kubia-b", CPUMilli: 3, MemoryBytes: 5 << 20}, {Namespace: "default", Name: "kubia-a", CPUMilli: 12, MemoryBytes: 3<<20 + 1}}, nil
}

func (f *fakeBackend) PodAddr(ctx context.Context, ns, pod string, port int) (string, error) {
	f.record("PodAddr %s %d", pod, port)
	return "127.0.0.1:1", nil
}

func (f *fakeBackend) Diff(ctx context.Context, objs []api.Object) ([]server.DiffResult, error) {
	f.record("Diff %d", len(objs))
	var out []server.DiffResult
	for _, o := range objs {
		k := api.KeyOf(o)
		r := server.DiffResult{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}
		if live, ok := f.objects[k]; ok {
			r.Live, _ = json.Marshal(live)
		}
		r.Merged, _ = json.Marshal(o)
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeBackend) Get(ctx context.Context, kind, ns, name string) (api.Object, error) {
	if kind == api.KindRollingUpdate && len(f.ru) > 0 {
		f.mu.Lock()
		defer f.mu.Unlock()
		ru := f.ru[min(f.nRU, len(f.ru)-1)]
		f.nRU++
		return ru, nil
	}
	if o, ok := f.objects[api.Key{Kind: kind, Namespace: ns, Name: name}]; ok {
		if k := (api.Key{Kind: kind, Namespace: ns, Name: name}); k == f.lingering {
			f.podGets--
			f.record("Get %s %s (terminating)", kind, name)
			if f.podGets == 0 {
				delete(f.objects, k)
			}
		}
		return o, nil
	}
	return nil, &notFoundErr{fmt.Sprintf("%s %q not found", api.Resource(kind), name)}
}

func (f *fakeBackend) List(ctx context.Context, kind, ns, sel string) ([]api.Object, error) {
	var out []api.Object
	for k, o := range f.objects {
		if k.Kind == kind && (ns == "" || k.Namespace == ns) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (f *fakeBackend) Watch(ctx context.Context, kind, ns, sel string) (<-chan server.WatchEvent, error) {
	return f.watch, nil
}

func (f *fakeBackend) Delete(ctx context.Context, kind, ns, name string, opts server.DeleteOptions) (api.Object, error) {
	if g := opts.GracePeriodSeconds; g != nil {
		f.record("Delete %s %s %s grace=%d", kind, name, opts.Cascade, *g)
	} else {
		f.record("Delete %s %s %s", kind, name, opts.Cascade)
	}
	o, err := f.Get(ctx, kind, ns, name)
	if err == nil && kind == api.KindPod && f.podGets > 0 {
		// The pod drains for a while: it stays for podGets more Gets.
		f.lingering = api.KeyOf(o)
		return o, nil
	}
	if err == nil {
		delete(f.objects, api.KeyOf(o))
	}
	return o, err
}

func (f *fakeBackend) Scale(ctx context.Context, kind, ns, name string, n int32) (api.Object, error) {
	f.record("Scale %s %s %d", kind, name, n)
	return f.Get(ctx, kind, ns, name)
}

func (f *fakeBackend) SetImage(ctx context.Context, kind, ns, name string, images map[string]string) (api.Object, error) {
	f.record("SetImage %s %s %v", kind, name, images)
	return f.Get(ctx, kind, ns, name)
}

func (f *fakeBackend) SetSelector(ctx context.Context, ns, name string, sel map[string]string, rv string) (api.Object, error) {
	f.record("SetSelector %s %v rv=%q", name, sel, rv)
	return f.Get(ctx, api.KindService, ns, name)
}

func (f *fakeBackend) Logs(ctx context.Context, ns, pod string, opts server.LogOptions) (io.ReadCloser, error) {
	f.record("Logs %s tail=%d follow=%v", pod, opts.Tail, opts.Follow)
	return io.NopCloser(strings.NewReader("Kubia server starting...\n")), nil
}

func (f *fakeBackend) Exec(ctx context.Context, ns, pod string, command []string, out io.Writer) (server.ExecResult, error) {
	f.record("Exec %s %q", pod, command)
	if pod != "kubia-v1-x7k2p" {
		return server.ExecResult{}, &notFoundErr{fmt.Sprintf("pods %q not found", pod)}
	}
	if command[0] == "false" {
		io.WriteString(out, "it failed\n")
		return server.ExecResult{ExitCode: 3}, nil
	}
	io.WriteString(out, strings.Join(command[1:], " ")+"\n")
	return server.ExecResult{}, nil
}

func (f *fakeBackend) Events(ctx context.Context, ns string, ref *api.ObjectReference) ([]*api.Event, error) {
	return nil, nil
}

func (f *fakeBackend) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	f.mu.Lock()
	n := f.nRoll
	f.nRoll++
	f.mu.Unlock()
	f.record("Rollout %s %s rev=%d", req.Action, req.Name, req.Revision)
	if f.rollout != nil {
		return f.rollout(req, n)
	}
	return server.RolloutResponse{}, nil
}

func (f *fakeBackend) RollingUpdate(ctx context.Context, ns string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error) {
	f.record("RollingUpdate %s %s %s %s", spec.From, spec.To, spec.Image, spec.UpdatePeriod)
	o, err := f.Get(ctx, api.KindRollingUpdate, ns, spec.From)
	if err != nil {
		return nil, err
	}
	return o.(*api.RollingUpdate), nil
}

func (f *fakeBackend) Info(ctx context.Context) (server.Info, error) {
	return server.Info{Version: "test", PID: 4242, Address: "127.0.0.1", Home: "/tmp/h", NotServing: f.notServing}, nil
}

func (f *fakeBackend) Down(ctx context.Context) error { f.record("Down"); return nil }

// daemon serves b on <home>/mini-deploy.sock and returns home.
func daemon(t *testing.T, b server.Backend) string {
	t.Helper()
	// Short: a unix socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "md")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	ln, err := net.Listen("unix", filepath.Join(home, socketName))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { server.Serve(ctx, ln, server.New(b, nil)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return home
}

// cli runs one command line against the daemon in home.
func cli(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return cliIn(t, home, "", args...)
}

func cliIn(t *testing.T, home, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code = run(ctx, append([]string{"--home", home}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

func ptr[T any](v T) *T { return &v }

func kubiaRC(name, app string) *api.ReplicationController {
	return &api.ReplicationController{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ReplicationControllerSpec{Replicas: ptr(int32(3)), Selector: map[string]string{"app": app},
			Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": app}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}}}},
		Status: api.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3},
	}
}

func kubiaSvc() *api.Service {
	return &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default"},
		Spec: api.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "kubia"},
			Ports: []api.ServicePort{{Port: 80, TargetPort: api.FromInt(8080), NodePort: 30123}}},
	}
}

func kubiaDeploy() *api.Deployment {
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default"},
		Spec: api.DeploymentSpec{Replicas: ptr(int32(3)), Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}}}},
	}
}

func TestDaemonNotRunning(t *testing.T) {
	home := t.TempDir()
	_, stderr, code := cli(t, home, "get", "pods")
	want := fmt.Sprintf("error: cannot reach the mini-deploy daemon at %s: is it running? Start it with \"mini-deploy up\"\n", filepath.Join(home, socketName))
	if code != 1 || stderr != want {
		t.Fatalf("code %d stderr %q, want %q", code, stderr, want)
	}
}
