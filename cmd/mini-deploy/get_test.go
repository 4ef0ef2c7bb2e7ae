package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func kubiaPod(name string, ready bool) *api.Pod {
	return &api.Pod{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindPod},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: api.Now()},
		Status: api.PodStatus{Phase: "Running",
			ContainerStatuses: []api.ContainerStatus{{Name: "nodejs", Ready: ready}}},
	}
}

// The daemon's pod watch first reports every pod as added; what the list
// already printed is not printed again, and a deletion that names only the
// pod prints its last row as Terminating.
func TestGetWatchPrintsChangesOnly(t *testing.T) {
	a := kubiaPod("kubia-v1-aaaaa", true)
	f := newFake(a)
	f.watch = make(chan server.WatchEvent, 8)
	changed := kubiaPod(a.Name, false)
	changed.CreationTimestamp = a.CreationTimestamp
	f.watch <- server.WatchEvent{Type: "ADDED", Object: a}
	f.watch <- server.WatchEvent{Type: "MODIFIED", Object: changed}
	f.watch <- server.WatchEvent{Type: "MODIFIED", Object: changed}
	f.watch <- server.WatchEvent{Type: "DELETED", Object: &api.Pod{TypeMeta: a.TypeMeta, ObjectMeta: api.ObjectMeta{Name: a.Name, Namespace: "default"}}}
	close(f.watch)
	home := daemon(t, f)
	out, _, _ := cli(t, home, "get", "pods", "-w")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		`^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`,
		`^kubia-v1-aaaaa\s+1/1\s+Running\s+0\s+\d+s$`,
		`^kubia-v1-aaaaa\s+0/1\s+Running\s+0\s+\d+s$`,
		`^kubia-v1-aaaaa\s+0/1\s+Terminating\s+0\s+\d+s$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("get pods -w printed:\n%s", out)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %s; output:\n%s", i+1, lines[i], re, out)
		}
	}
}
