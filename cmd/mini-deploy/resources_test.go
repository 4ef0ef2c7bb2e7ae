package main

import (
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // kind/name,...
		err  string
	}{
		{[]string{"po"}, "Pod/", ""},
		{[]string{"pods", "a", "b"}, "Pod/a,Pod/b", ""},
		{[]string{"rc/kubia-v1", "svc/kubia"}, "ReplicationController/kubia-v1,Service/kubia", ""},
		{[]string{"deployment.apps/kubia"}, "Deployment/kubia", ""},
		{[]string{"deploy,rs"}, "Deployment/,ReplicaSet/", ""},
		{[]string{"ep"}, "Endpoints/", ""},
		{[]string{"ev"}, "Event/", ""},
		{[]string{"all"}, "Pod/,ReplicationController/,Service/,Deployment/,ReplicaSet/", ""},
		{nil, "", "you must specify the type of resource to get. Valid resource types: all, pods (po), replicationcontrollers (rc),"},
		{[]string{"foo"}, "", `the server doesn't have a resource type "foo"; valid types are: all, pods (po), replicationcontrollers (rc), replicasets (rs), deployments, services (svc), endpoints (ep), events (ev), rollingupdates`},
		{[]string{"rc/kubia-v1", "kubia-v2"}, "", "there is no need to specify a resource type as a separate argument"},
		{[]string{"rc", "rc/kubia-v2"}, "", "there is no need to specify a resource type as a separate argument"},
		{[]string{"rc/"}, "", "must have a single resource and name"},
		{[]string{"rc,svc", "kubia"}, "", "you may only specify a single resource type"},
	} {
		ts, err := parseTargets("get", tc.args, true)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseTargets(%q) = %v, want error containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTargets(%q): %v", tc.args, err)
			continue
		}
		var got []string
		for _, tg := range ts {
			got = append(got, tg.typ.kind+"/"+tg.name)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("parseTargets(%q) = %s, want %s", tc.args, strings.Join(got, ","), tc.want)
		}
	}
}

func TestParseOne(t *testing.T) {
	tg, rest, err := parseOne("scale", []string{"rc", "kubia-v1", "x"})
	if err != nil || tg.typ.kind != "ReplicationController" || tg.name != "kubia-v1" || len(rest) != 1 {
		t.Fatalf("parseOne = %+v %v %v", tg, rest, err)
	}
	if _, _, err := parseOne("scale", []string{"svc/kubia"}, "Deployment", "ReplicaSet"); err == nil || err.Error() != "cannot scale services: only deployments, replicasets" {
		t.Errorf("err = %v", err)
	}
	if _, _, err := parseOne("scale", []string{"rc"}); err == nil || err.Error() != "you must specify the name of the replicationcontroller to scale" {
		t.Errorf("err = %v", err)
	}
	if _, _, err := parseOne("scale", nil); err == nil {
		t.Error("no error without arguments")
	}
}

func TestParseSelectorSet(t *testing.T) {
	got, err := parseSelectorSet("app=kubia-v2, tier==web")
	if err != nil || len(got) != 2 || got["app"] != "kubia-v2" || got["tier"] != "web" {
		t.Fatalf("= %v, %v", got, err)
	}
	for _, bad := range []string{"app!=x", "env in (a,b)", "app", "app=-bad-"} {
		if _, err := parseSelectorSet(bad); err == nil {
			t.Errorf("parseSelectorSet(%q) accepted", bad)
		}
	}
}
