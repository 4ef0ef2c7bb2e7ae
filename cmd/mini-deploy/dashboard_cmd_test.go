package main

import (
	"strings"
	"testing"
)

func TestDashboardPrintsTheDaemonsURL(t *testing.T) {
	const url = "http://127.0.0.1:41234/?token=abc"
	home := daemon(t, withDashboard{Backend: newFake(), url: url})
	out, errOut, code := cli(t, home, "dashboard")
	if code != 0 || out != url+"\n" {
		t.Errorf("dashboard: exit %d, %q %q; want %q", code, out, errOut, url+"\n")
	}

	home = daemon(t, newFake())
	out, errOut, code = cli(t, home, "dashboard")
	if code == 0 || out != "" || !strings.Contains(errOut, `--dashboard-address=""`) {
		t.Errorf("dashboard of a daemon without one: exit %d, %q %q; want an error naming the flag", code, out, errOut)
	}
}
