package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

const testToken = "0123456789abcdef0123456789abcdef"

// fakeBackend answers the calls the dashboard makes; any other panics.
type fakeBackend struct {
	server.Backend
	mu     sync.Mutex
	calls  []string
	deploy *api.Deployment
	cut    chan struct{} // closed: every watch is cut off
}

func (f *fakeBackend) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeBackend) List(ctx context.Context, kind, ns, sel string) ([]api.Object, error) {
	if kind == api.KindDeployment {
		return []api.Object{f.deploy}, nil
	}
	return nil, nil
}

func (f *fakeBackend) Watch(ctx context.Context, kind, ns, sel string) (<-chan server.WatchEvent, error) {
	ch := make(chan server.WatchEvent)
	go func() {
		select {
		case <-ctx.Done():
		case <-f.cut:
		}
		close(ch)
	}()
	return ch, nil
}

func (f *fakeBackend) Events(ctx context.Context, ns string, ref *api.ObjectReference) ([]*api.Event, error) {
	return nil, nil
}

func (f *fakeBackend) Info(ctx context.Context) (server.Info, error) {
	return server.Info{Address: "127.0.0.1"}, nil
}

func (f *fakeBackend) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	f.record("rollout " + req.Action + " " + req.Name)
	return server.RolloutResponse{Message: "deployment \"kubia\" successfully rolled out", Done: true}, nil
}

func (f *fakeBackend) Scale(ctx context.Context, kind, ns, name string, n int32) (api.Object, error) {
	f.record("scale " + kind + " " + ns + "/" + name)
	return f.deploy, nil
}

func newTestDashboard(t *testing.T) (*Dashboard, *fakeBackend) {
	t.Helper()
	n := int32(3)
	f := &fakeBackend{cut: make(chan struct{}), deploy: &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default", UID: "u1"},
		Spec:       api.DeploymentSpec{Replicas: &n},
	}}
	d, err := New(Options{Backend: f, Token: testToken, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return d, f
}

func do(d http.Handler, method, target string, cookie bool, header http.Header, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	if cookie {
		r.AddCookie(&http.Cookie{Name: "mini-deploy-dashboard-test", Value: testToken})
	}
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	return w
}

func TestWithoutTokenEveryPathIs401(t *testing.T) {
	d, f := newTestDashboard(t)
	for _, target := range []string{"/", "/?token=wrong", "/static/app.js", "/events", "/k/api/v1/pods", "/k/api/v1/namespaces/default/deployments/kubia/scale"} {
		method := http.MethodGet
		if strings.HasSuffix(target, "/scale") {
			method = http.MethodPut
		}
		w := do(d, method, target, false, http.Header{ActionHeader: {"1"}}, `{"replicas":1}`)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d, want 401", method, target, w.Code)
		}
		if !strings.Contains(w.Body.String(), "mini-deploy dashboard") {
			t.Errorf("%s %s: the 401 does not say where the URL comes from: %q", method, target, w.Body)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("the backend was called without a token: %v", f.calls)
	}
}

func TestTokenBecomesCookie(t *testing.T) {
	d, _ := newTestDashboard(t)
	w := do(d, http.MethodGet, "/?token="+testToken, false, nil, "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("GET /?token=: %d to %q, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Value != testToken || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Name != "mini-deploy-dashboard-test" {
		t.Fatalf("cookies %+v, want one HttpOnly SameSite=Strict cookie with the token", c)
	}
	w = do(d, http.MethodGet, "/", true, nil, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<script src="/static/app.js"`) {
		t.Fatalf("GET / with the cookie: %d %.200s", w.Code, w.Body)
	}
	for _, asset := range []string{"/static/app.js", "/static/app.css"} {
		if w := do(d, http.MethodGet, asset, true, nil, ""); w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d, %d bytes", asset, w.Code, w.Body.Len())
		}
	}
}

func TestActionsGoThroughTheAPIOnlyWithHeaderAndOnlyThoseOffered(t *testing.T) {
	d, f := newTestDashboard(t)
	const scale = "/k/api/v1/namespaces/default/deployments/kubia/scale"
	if w := do(d, http.MethodPut, scale, true, nil, `{"replicas":5}`); w.Code != http.StatusForbidden {
		t.Errorf("scale without %s: %d, want 403", ActionHeader, w.Code)
	}
	if w := do(d, http.MethodPut, scale, true, http.Header{ActionHeader: {"1"}}, `{"replicas":5}`); w.Code != http.StatusOK {
		t.Errorf("scale: %d %s", w.Code, w.Body)
	}
	for _, r := range [][2]string{{"POST", "/k/down"}, {"POST", "/k/apply"}, {"POST", "/k/api/v1/namespaces/default/pods/p/exec"}, {"DELETE", "/k/api/v1/namespaces/default/deployments/kubia"}} {
		if w := do(d, r[0], r[1], true, http.Header{ActionHeader: {"1"}}, `{}`); w.Code < 400 {
			t.Errorf("%s %s went through: %d", r[0], r[1], w.Code)
		}
	}
	if want := []string{"scale Deployment default/kubia"}; strings.Join(f.calls, ";") != strings.Join(want, ";") {
		t.Errorf("backend calls %q, want %q", f.calls, want)
	}
}

func TestEventsStartWithStateThenTraffic(t *testing.T) {
	d, f := newTestDashboard(t)
	srv := httptest.NewServer(d)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	req.AddCookie(&http.Cookie{Name: "mini-deploy-dashboard-test", Value: testToken})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var events []string
	var state State
	for sc.Scan() && len(events) < 2 {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && len(events) == 1 {
			if err := json.Unmarshal([]byte(data), &state); err != nil {
				t.Fatalf("state: %v", err)
			}
		}
	}
	if strings.Join(events, ",") != "state,traffic" {
		t.Fatalf("events %v, want state then traffic", events)
	}
	// A watch cut off by the Backend ends the stream (the page reconnects).
	close(f.cut)
	for sc.Scan() {
	}
	if ctx.Err() != nil {
		t.Error("the stream went on after its watches were cut off")
	}
	if len(state.Deployments) != 1 || state.Deployments[0].Name != "kubia" || state.Rollouts["default/kubia"] == nil || !state.Rollouts["default/kubia"].Done {
		t.Errorf("state: deployments %+v, rollouts %+v", state.Deployments, state.Rollouts)
	}
}

func TestTrafficIsRatesByRevisionWithFailuresApart(t *testing.T) {
	var counts []RequestCount
	tr := newTraffic(func() []RequestCount { return counts })
	t0 := time.Unix(1000, 0)
	counts = []RequestCount{{"kubia", "a", "v1", 200, 100}, {"kubia", "b", "v1", 200, 50}}
	tr.sample(t0)
	history, ch := tr.subscribe()
	if len(history) != 0 {
		t.Fatalf("history after one sample: %v", history)
	}
	// Pod b left (its series went with it); pod c is new; one counter of
	// pod a started again from 0.
	counts = []RequestCount{
		{"kubia", "a", "v1", 200, 120}, {"kubia", "c", "v2", 200, 10}, {"kubia", "c", "v2", 503, 2},
		{"kubia", "", "", 0, 2}, {"kubia", "c", "v2", 404, 4}, {"kubia", "a", "v1", 502, 0},
	}
	tr.sample(t0.Add(2 * time.Second))
	p := <-ch
	want := map[string][2]float64{"kubia/v1": {10, 0}, "kubia/v2": {7, 1}, "kubia/": {0, 1}}
	if len(p.Series) != len(want) {
		t.Fatalf("series %v, want %v", p.Series, want)
	}
	for k, v := range want {
		if p.Series[k] != v {
			t.Errorf("series %s: %v, want %v", k, p.Series[k], v)
		}
	}
	if p.T != t0.Add(2*time.Second).UnixMilli() {
		t.Errorf("point time %d", p.T)
	}
	counts = []RequestCount{{"kubia", "a", "v1", 200, 30}}
	tr.sample(t0.Add(3 * time.Second))
	if p := <-ch; p.Series["kubia/v1"] != [2]float64{30, 0} {
		t.Errorf("a counter that started again: %v, want 30/s", p.Series)
	}
	if history, _ := tr.subscribe(); len(history) != 2 {
		t.Errorf("history: %d points, want 2", len(history))
	}
}
