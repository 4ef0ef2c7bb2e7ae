package main

import (
	"strings"
	"testing"
)

// Completion (cobra's __complete, which the shell scripts call) offers the
// new verbs, resource types, and the names of live objects from the daemon.
func TestCompletionOfVerbsAndLiveNames(t *testing.T) {
	home := daemon(t, newFake(kubiaDeploy(), kubiaSvc(), kubiaPod("kubia-7c9d-x2kqp", true)))
	const noFiles = ":4\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "deploy", ""}, "kubia\n" + noFiles},
		{[]string{"scale", "deploy/"}, "deploy/kubia\n" + noFiles},
		{[]string{"wait", "svc/ku"}, "svc/kubia\n" + noFiles},
		{[]string{"label", "deployments", "k"}, "kubia\n" + noFiles},
		{[]string{"logs", ""}, "kubia-7c9d-x2kqp\n" + noFiles},
		{[]string{"rollout", "status", "deployment/"}, "deployment/kubia\n" + noFiles},
		{[]string{"edit", "dep"}, "deployments\n" + noFiles},
		{[]string{"set", "env", "deploy", "nope"}, noFiles},
	} {
		out, errOut, code := cli(t, home, append([]string{"__complete"}, tc.args...)...)
		if code != 0 || out != tc.want {
			t.Errorf("complete %q: exit %d, %q (stderr %q), want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	out, _, _ := cli(t, home, "__complete", "")
	for _, verb := range []string{"wait", "diff", "edit", "label", "annotate", "port-forward", "create", "expose", "run", "patch", "replace", "explain", "api-resources", "completion"} {
		if !strings.Contains(out, "\n"+verb+"\t") && !strings.HasPrefix(out, verb+"\t") {
			t.Errorf("verb %s is not completed:\n%s", verb, out)
		}
	}
	out, _, _ = cli(t, home, "__complete", "set", "")
	for _, sub := range []string{"env", "resources", "image", "selector"} {
		if !strings.Contains(out, sub+"\t") {
			t.Errorf("set %s is not completed:\n%s", sub, out)
		}
	}
}
