package deploytest

import (
	"reflect"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/loadgen"
)

func TestLoadRuns(t *testing.T) {
	const url = "http://127.0.0.1:30001/"
	type run struct {
		clients, requests int
		newConn           bool
	}
	for _, tc := range []struct {
		opts LoadOptions
		want []run
		err  bool
	}{
		{LoadOptions{}, []run{{4, 0, false}, {2, 0, true}}, false},
		{LoadOptions{Requests: 60, KeepAlive: 2, NewConnections: 2}, []run{{2, 30, false}, {2, 30, true}}, false},
		{LoadOptions{Requests: 10, KeepAlive: 4, NewConnections: 3}, []run{{4, 6, false}, {3, 4, true}}, false},
		{LoadOptions{NewConnections: 1}, []run{{1, 0, true}}, false},
		{LoadOptions{Requests: 3}, nil, true},
		{LoadOptions{KeepAlive: -1}, nil, true},
		{LoadOptions{KeepAlive: 65}, nil, true},
		{LoadOptions{Duration: time.Hour}, nil, true},
	} {
		runs, _, err := loadRuns(url, tc.opts)
		if (err != nil) != tc.err {
			t.Errorf("%+v: err %v, want error %v", tc.opts, err, tc.err)
			continue
		}
		var got []run
		for _, r := range runs {
			got = append(got, run{r.Concurrency, r.Requests, r.NewConnections})
			if r.Duration <= 0 || r.Duration > loadgen.MaxDuration {
				t.Errorf("%+v: unbounded run %+v", tc.opts, r)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: runs %+v, want %+v", tc.opts, got, tc.want)
		}
	}
	if _, _, err := loadRuns("http://192.0.2.1/", LoadOptions{}); err == nil {
		t.Error("a remote URL was accepted")
	}
}

func TestMerge(t *testing.T) {
	a := &loadgen.Summary{Requests: 10, OK: 9, Failed: 1, ByVersion: map[string]int{"v1": 9}, ByPod: map[string]int{"p1": 9},
		Errors: map[string]int{"503 Service Unavailable": 1}, P99: 3 * time.Millisecond, LastVersion: "v1",
		Seconds: []loadgen.Second{{Index: 1, OK: 9, Failed: 1, ByVersion: map[string]int{"v1": 9}}}}
	b := &loadgen.Summary{Requests: 5, OK: 5, ByVersion: map[string]int{"v1": 2, "v2": 3}, ByPod: map[string]int{"p2": 5},
		P99: 7 * time.Millisecond, LastVersion: "v2",
		Seconds: []loadgen.Second{{Index: 1, OK: 2, ByVersion: map[string]int{"v1": 2}}, {Index: 2, OK: 3, ByVersion: map[string]int{"v2": 3}}}}
	m := merge([]*loadgen.Summary{a, b})
	if m.Requests != 15 || m.OK != 14 || m.Failed != 1 || m.P99 != 7*time.Millisecond || m.LastVersion != "v1" {
		t.Errorf("merged %+v", m)
	}
	if !reflect.DeepEqual(m.ByVersion, map[string]int{"v1": 11, "v2": 3}) || len(m.ByPod) != 2 || m.Errors["503 Service Unavailable"] != 1 {
		t.Errorf("merged counts %v %v %v", m.ByVersion, m.ByPod, m.Errors)
	}
	if len(m.Seconds) != 2 || m.Seconds[0].OK != 11 || m.Seconds[1].ByVersion["v2"] != 3 {
		t.Errorf("merged seconds %+v", m.Seconds)
	}
}

func TestParseRef(t *testing.T) {
	for ref, want := range map[string]string{"deployment/kubia": "Deployment", "rc/kubia-v1": "ReplicationController", "svc/kubia": "Service", "po/x": "Pod", "rs/y": "ReplicaSet"} {
		kind, _, err := parseRef(ref)
		if err != nil || kind != want {
			t.Errorf("parseRef(%q) = %q, %v; want %s", ref, kind, err, want)
		}
	}
	for _, ref := range []string{"kubia", "deployment/", "cm/x"} {
		if _, _, err := parseRef(ref); err == nil {
			t.Errorf("parseRef(%q): no error", ref)
		}
	}
}
