package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// fakeBackend records calls and answers from its fields.
type fakeBackend struct {
	mu       sync.Mutex
	calls    []string
	objects  map[string]api.Object // kind/ns/name
	applied  []api.Object
	applyOpt server.ApplyOptions
	err      error
	watch    chan server.WatchEvent
	logs     io.ReadCloser
	logOpts  server.LogOptions
	events   []*api.Event
	ref      *api.ObjectReference
}

func (f *fakeBackend) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeBackend) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
	f.record("Apply %d", len(objs))
	if f.err != nil {
		return nil, f.err
	}
	f.applied, f.applyOpt = objs, opts
	var res []server.ApplyResult
	for _, o := range objs {
		res = append(res, server.ApplyResult{Kind: o.GetTypeMeta().Kind, Namespace: o.Meta().Namespace, Name: o.Meta().Name, Action: "created"})
	}
	return res, nil
}

func (f *fakeBackend) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	f.record("Update %s %s %s rv=%q", obj.GetTypeMeta().Kind, obj.Meta().Namespace, obj.Meta().Name, obj.Meta().ResourceVersion)
	if f.err != nil {
		return nil, f.err
	}
	return obj, nil
}

func (f *fakeBackend) TopPods(ctx context.Context, ns, sel string) ([]server.PodMetrics, error) {
	f.record("TopPods %q %q", ns, sel)
	return nil, f.err
}

func (f *fakeBackend) PodAddr(ctx context.Context, ns, pod string, port int) (string, error) {
	f.record("PodAddr %s %s %d", ns, pod, port)
	return "127.0.0.1:1", f.err
}

func (f *fakeBackend) Diff(ctx context.Context, objs []api.Object) ([]server.DiffResult, error) {
	f.record("Diff %d", len(objs))
	server.Warn(ctx, `image "x:1" is not on the engine`)
	server.Warn(ctx, "a second one, \"quoted\"")
	return nil, f.err
}

func (f *fakeBackend) Get(ctx context.Context, kind, ns, name string) (api.Object, error) {
	f.record("Get %s %s %s", kind, ns, name)
	if obj, ok := f.objects[kind+"/"+ns+"/"+name]; ok {
		return obj, nil
	}
	return nil, notFound(kind, name)
}

func (f *fakeBackend) List(ctx context.Context, kind, ns, sel string) ([]api.Object, error) {
	f.record("List %s %q %q", kind, ns, sel)
	var out []api.Object
	for k, o := range f.objects {
		if strings.HasPrefix(k, kind+"/") {
			out = append(out, o)
		}
	}
	return out, f.err
}

func (f *fakeBackend) Watch(ctx context.Context, kind, ns, sel string) (<-chan server.WatchEvent, error) {
	f.record("Watch %s %q %q", kind, ns, sel)
	return f.watch, f.err
}

func (f *fakeBackend) Delete(ctx context.Context, kind, ns, name string, opts server.DeleteOptions) (api.Object, error) {
	f.record("Delete %s %s %s %s", kind, ns, name, opts.Cascade)
	return f.Get(ctx, kind, ns, name)
}

func (f *fakeBackend) Scale(ctx context.Context, kind, ns, name string, n int32) (api.Object, error) {
	f.record("Scale %s %s %s %d", kind, ns, name, n)
	return f.Get(ctx, kind, ns, name)
}

func (f *fakeBackend) SetImage(ctx context.Context, kind, ns, name string, images map[string]string) (api.Object, error) {
	f.record("SetImage %s %s %s %v", kind, ns, name, images)
	return f.Get(ctx, kind, ns, name)
}

func (f *fakeBackend) SetSelector(ctx context.Context, ns, name string, sel map[string]string, rv string) (api.Object, error) {
	f.record("SetSelector %s %s %v %q", ns, name, sel, rv)
	if f.err != nil {
		return nil, f.err
	}
	return f.Get(ctx, api.KindService, ns, name)
}

func (f *fakeBackend) Logs(ctx context.Context, ns, pod string, opts server.LogOptions) (io.ReadCloser, error) {
	f.record("Logs %s %s", ns, pod)
	f.logOpts = opts
	return f.logs, f.err
}

func (f *fakeBackend) Exec(ctx context.Context, ns, pod string, command []string, out io.Writer) (server.ExecResult, error) {
	f.record("Exec %s %s %q", ns, pod, command)
	if f.err != nil {
		return server.ExecResult{}, f.err
	}
	io.WriteString(out, "out\n")
	return server.ExecResult{ExitCode: 2}, nil
}

func (f *fakeBackend) Events(ctx context.Context, ns string, ref *api.ObjectReference) ([]*api.Event, error) {
	f.record("Events %q", ns)
	f.ref = ref
	return f.events, f.err
}

func (f *fakeBackend) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	f.record("Rollout %s %s %s %d", req.Action, req.Namespace, req.Name, req.Revision)
	return server.RolloutResponse{Message: "deployment \"kubia\" successfully rolled out", Done: true,
		Plan: []server.PlanStep{{Step: 1, Action: "scale up kubia-7c9d to 1", Old: 3, New: 1, Available: 3, Total: 4}}}, f.err
}

func (f *fakeBackend) RollingUpdate(ctx context.Context, ns string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error) {
	f.record("RollingUpdate %s %s->%s %s", ns, spec.From, spec.To, spec.Image)
	return &api.RollingUpdate{ObjectMeta: api.ObjectMeta{Name: spec.From}, Spec: spec,
		Status: api.RollingUpdateStatus{Phase: "Running", Lines: []string{"Created " + spec.To}}}, f.err
}

func (f *fakeBackend) Info(ctx context.Context) (server.Info, error) {
	f.record("Info")
	return server.Info{Version: "test", PID: 42, Address: "127.0.0.1"}, f.err
}

func (f *fakeBackend) Down(ctx context.Context) error {
	f.record("Down")
	return f.err
}

// storeErr mimics the store's wrapped sentinels.
type storeErr struct {
	sentinel error
	msg      string
}

func (e *storeErr) Error() string { return e.msg }
func (e *storeErr) Unwrap() error { return e.sentinel }

func notFound(kind, name string) error {
	return &storeErr{api.ErrNotFound, fmt.Sprintf("%s %q not found", api.Resource(kind), name)}
}

// serve runs the API over b on a unix socket in a temporary directory and
// returns a client of it.
func serve(t *testing.T, b server.Backend) *client.Client {
	t.Helper()
	c := client.New(serveSocket(t, b))
	t.Cleanup(func() { c.Close() })
	return c
}

// serveSocket runs the API over b on a unix socket in a temporary directory
// until the test ends, and returns the socket's path.
func serveSocket(t *testing.T, b server.Backend) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, server.New(b, nil)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

func rc(name string, replicas int32) *api.ReplicationController {
	return &api.ReplicationController{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "kubia"}},
		Spec:       api.ReplicationControllerSpec{Replicas: &replicas, Selector: map[string]string{"app": "kubia"}},
	}
}

func TestRoundTrips(t *testing.T) {
	fb := &fakeBackend{objects: map[string]api.Object{
		"ReplicationController/default/kubia-v1": rc("kubia-v1", 3),
		// No kind set: the server fills it in so the client can decode.
		"Service/default/kubia": &api.Service{ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default"}},
	}}
	c := serve(t, fb)
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.PID != 42 || info.Version != "test" {
		t.Fatalf("Info = %+v, %v", info, err)
	}

	res, err := c.Apply(ctx, []api.Object{rc("kubia-v2", 3)}, server.ApplyOptions{DryRun: true, ChangeCause: "x"})
	if err != nil || len(res) != 1 || res[0].Name != "kubia-v2" || res[0].Action != "created" {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if got, ok := fb.applied[0].(*api.ReplicationController); !ok || *got.Spec.Replicas != 3 || !fb.applyOpt.DryRun || fb.applyOpt.ChangeCause != "x" {
		t.Fatalf("backend got %#v %+v", fb.applied[0], fb.applyOpt)
	}

	obj, err := c.Get(ctx, api.KindReplicationController, "default", "kubia-v1")
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*api.ReplicationController); got.Name != "kubia-v1" || *got.Spec.Replicas != 3 {
		t.Fatalf("Get = %#v", got)
	}
	obj, err = c.Get(ctx, api.KindService, "default", "kubia")
	if err != nil || obj.GetTypeMeta().Kind != api.KindService {
		t.Fatalf("Get service = %#v, %v", obj, err)
	}

	objs, err := c.List(ctx, api.KindReplicationController, "", "app=kubia,tier!=db")
	if err != nil || len(objs) != 1 {
		t.Fatalf("List = %v, %v", objs, err)
	}
	if _, err := c.Delete(ctx, api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{Cascade: "orphan"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scale(ctx, api.KindReplicationController, "default", "kubia-v1", 5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetImage(ctx, api.KindReplicationController, "default", "kubia-v1", map[string]string{"nodejs": "luksa/kubia:v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetSelector(ctx, "default", "kubia", map[string]string{"app": "kubia-v2"}, "7"); err != nil {
		t.Fatal(err)
	}
	rr, err := c.Rollout(ctx, server.RolloutRequest{Action: server.RolloutUndo, Namespace: "default", Name: "kubia", Revision: 2})
	if err != nil || !rr.Done || len(rr.Plan) != 1 || rr.Plan[0].Total != 4 {
		t.Fatalf("Rollout = %+v, %v", rr, err)
	}
	var exOut strings.Builder
	ex, err := c.Exec(ctx, "default", "kubia-v1-x7k2p", []string{"ls", "/"}, &exOut)
	if err != nil || ex.ExitCode != 2 || exOut.String() != "out\n" {
		t.Fatalf("Exec = %+v %q, %v", ex, exOut.String(), err)
	}
	ru, err := c.RollingUpdate(ctx, "default", api.RollingUpdateSpec{From: "kubia-v1", To: "kubia-v2", Image: "luksa/kubia:v2"})
	if err != nil || ru.Name != "kubia-v1" || ru.Status.Lines[0] != "Created kubia-v2" {
		t.Fatalf("RollingUpdate = %+v, %v", ru, err)
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"Info",
		"Apply 1",
		"Get ReplicationController default kubia-v1",
		"Get Service default kubia",
		`List ReplicationController "" "app=kubia,tier!=db"`,
		"Delete ReplicationController default kubia-v1 orphan",
		"Get ReplicationController default kubia-v1",
		"Scale ReplicationController default kubia-v1 5",
		"Get ReplicationController default kubia-v1",
		"SetImage ReplicationController default kubia-v1 map[nodejs:luksa/kubia:v2]",
		"Get ReplicationController default kubia-v1",
		`SetSelector default kubia map[app:kubia-v2] "7"`,
		"Get Service default kubia",
		"Rollout undo default kubia 2",
		`Exec default kubia-v1-x7k2p ["ls" "/"]`,
		"RollingUpdate default kubia-v1->kubia-v2 luksa/kubia:v2",
		"Down",
	}
	if got := strings.Join(fb.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestEventsByInvolvedObject(t *testing.T) {
	fb := &fakeBackend{events: []*api.Event{{ObjectMeta: api.ObjectMeta{Name: "kubia.1"}, Reason: "ScalingReplicaSet", Message: "Scaled up replica set kubia-5d9f to 1"}}}
	c := serve(t, fb)
	evs, err := c.Events(context.Background(), "default", &api.ObjectReference{Kind: api.KindDeployment, Name: "kubia"})
	if err != nil || len(evs) != 1 || evs[0].Reason != "ScalingReplicaSet" {
		t.Fatalf("Events = %v, %v", evs, err)
	}
	if fb.ref == nil || fb.ref.Kind != api.KindDeployment || fb.ref.Name != "kubia" {
		t.Fatalf("backend got ref %+v", fb.ref)
	}
	if _, err := c.Events(context.Background(), "", nil); err != nil || fb.ref != nil {
		t.Fatalf("Events without ref: %v, ref %+v", err, fb.ref)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		sentinel error
		code     int
		invalid  bool
	}{
		{"not found", notFound(api.KindDeployment, "nope"), api.ErrNotFound, 404, false},
		{"conflict", fmt.Errorf("set selector: %w", &storeErr{api.ErrConflict, `Operation cannot be fulfilled on services "kubia": the object has been modified`}), api.ErrConflict, 409, false},
		{"exists", &storeErr{api.ErrAlreadyExists, `services "kubia" already exists`}, api.ErrAlreadyExists, 409, false},
		{"invalid", &api.ValidationError{Kind: "ReplicationController", Name: "kubia-bad"}, nil, 422, true},
		{"internal", errors.New("engine on fire"), nil, 500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, &fakeBackend{err: tc.err})
			_, err := c.SetSelector(context.Background(), "default", "kubia", nil, "")
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("err = %#v, want code %d", err, tc.code)
			}
			if err.Error() != tc.err.Error() {
				t.Errorf("message %q, want the backend's %q", err.Error(), tc.err.Error())
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(err, %v) = false", tc.sentinel)
			}
			for _, other := range []error{api.ErrNotFound, api.ErrConflict, api.ErrAlreadyExists} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("errors.Is(err, %v) = true", other)
				}
			}
			if client.IsInvalid(err) != tc.invalid {
				t.Errorf("IsInvalid = %v", !tc.invalid)
			}
		})
	}
}

func TestUnknownResourceAndNotFound(t *testing.T) {
	c := serve(t, &fakeBackend{})
	_, err := c.Get(context.Background(), api.KindDeployment, "default", "nope")
	if !errors.Is(err, api.ErrNotFound) || err.Error() != `deployments.apps "nope" not found` {
		t.Fatalf("err = %v", err)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mini-deploy.sock")
	c := client.New(sock)
	err := c.Ping(context.Background())
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("err = %v, want ErrDaemonNotRunning", err)
	}
	want := fmt.Sprintf(`cannot reach the mini-deploy daemon at %s: is it running? Start it with "mini-deploy up"`, sock)
	if err.Error() != want {
		t.Errorf("message %q\nwant %q", err, want)
	}

	// A stale socket file nobody listens on is the same story.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := c.Ping(context.Background()); !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("stale socket: err = %v", err)
	}
}

func TestWatchStreams(t *testing.T) {
	events := make(chan server.WatchEvent)
	fb := &fakeBackend{watch: events}
	c := serve(t, fb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Watch(ctx, api.KindPod, "default", "app=kubia")
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"ADDED", "MODIFIED", "DELETED"} {
		pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("kubia-v1-%d", i)}}
		go func() { events <- server.WatchEvent{Type: typ, Object: pod} }()
		select {
		case ev := <-ch:
			p, ok := ev.Object.(*api.Pod)
			if ev.Type != typ || !ok || p.Name != pod.Name {
				t.Fatalf("event %d = %+v", i, ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d not streamed", i)
		}
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch channel not closed after cancel")
	}
}

// blockingReader hands out what is written to it and blocks in between, as
// a followed container log does.
type blockingReader struct {
	lines  chan string
	closed chan struct{}
	once   sync.Once
}

func (b *blockingReader) Read(p []byte) (int, error) {
	select {
	case l := <-b.lines:
		return copy(p, l), nil
	case <-b.closed:
		return 0, io.EOF
	}
}

func (b *blockingReader) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func TestLogsFollowStreams(t *testing.T) {
	br := &blockingReader{lines: make(chan string), closed: make(chan struct{})}
	fb := &fakeBackend{logs: br}
	c := serve(t, fb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rd, err := c.Logs(ctx, "default", "kubia-v1-x7k2p", server.LogOptions{Follow: true, Tail: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	buf := make([]byte, 100)
	for _, line := range []string{"Kubia server starting...\n", "Received request from ::ffff:172.18.0.1\n"} {
		go func() { br.lines <- line }()
		n, err := io.ReadAtLeast(rd, buf, len(line))
		if err != nil || string(buf[:n]) != line {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, line)
		}
	}
	if !fb.logOpts.Follow || fb.logOpts.Tail != 10 {
		t.Errorf("backend got %+v", fb.logOpts)
	}
	cancel()
	select {
	case <-br.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("backend log reader not closed when the client left")
	}
}

func TestServeStopsStreams(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Serve(ctx, ln, server.New(&fakeBackend{watch: make(chan server.WatchEvent)}, nil))
	}()
	c := client.New(sock)
	ch, err := c.Watch(context.Background(), api.KindPod, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return with a watch open")
	}
	if _, ok := <-ch; ok {
		t.Fatal("watch still open")
	}
}

// Warnings a backend adds travel as Warning headers and reach OnWarning,
// in order, with their quotes intact; PUT reaches Update with the object.
func TestWarningsAndUpdate(t *testing.T) {
	fb := &fakeBackend{}
	c := serve(t, fb)
	var got []string
	c.OnWarning = func(text string) { got = append(got, text) }
	if _, err := c.Diff(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{`image "x:1" is not on the engine`, `a second one, "quoted"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	d := &api.Deployment{TypeMeta: api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default", ResourceVersion: "7"}}
	if _, err := c.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if last := fb.calls[len(fb.calls)-1]; last != `Update Deployment default kubia rv="7"` {
		t.Errorf("call %q", last)
	}
}
