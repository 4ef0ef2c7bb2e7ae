package client_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A client other than the CLI gets the same strictness: an object with an
// unknown field, a duplicate key or a wrong type is refused with the field
// named, and nothing reaches the backend.
func TestServerDecodesWhatItStoresStrictly(t *testing.T) {
	f := &fakeBackend{}
	sock := serveSocket(t, f)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	const svc = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia"},"spec":{"ports":[{"port":80}]%s}}`
	for name, tc := range map[string]struct{ obj, want string }{
		"unknown field": {strings.Replace(svc, "%s", `,"selektor":{"app":"kubia"}`, 1), "spec.selektor: unknown field"},
		"duplicate key": {strings.Replace(svc, "%s", `,"type":"NodePort","type":"ClusterIP"`, 1), "spec.type: duplicate field"},
		"wrong type":    {strings.Replace(svc, "%s", `,"selector":["app"]`, 1), "spec.selector: expected an object"},
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"objects":[` + tc.obj + `]}`
			resp, err := hc.Post("http://daemon/apply", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), tc.want) ||
				!strings.Contains(string(msg), "object 1") {
				t.Fatalf("got %d %s, want 400 naming object 1 and %q", resp.StatusCode, msg, tc.want)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 0 {
		t.Fatalf("the backend was called: %v", f.calls)
	}
}
