package main

import (
	"strings"
	"testing"
)

// What kubectl prints for a verb, flag or sub-verb it does not know, and
// that nothing reaches the daemon: a script stops there.
func TestUnknownVerbFlagSubVerbExit1(t *testing.T) {
	fb := newFake(kubiaDeploy())
	home := daemon(t, fb)
	for _, tc := range []struct {
		args   []string
		stderr string // the whole of stderr, or its first lines for help
	}{
		{[]string{"rollout", "bogus"}, "error: unknown command \"bogus\"\nSee 'mini-deploy rollout -h' for help and examples\n"},
		{[]string{"set", "bogus", "deploy/kubia"}, "error: unknown command \"bogus deploy/kubia\"\nSee 'mini-deploy set -h' for help and examples\n"},
		{[]string{"get", "pods", "--bogus"}, "error: unknown flag: --bogus\nSee 'mini-deploy get --help' for usage.\n"},
		{[]string{"rollout", "status", "deploy/kubia", "--bogus=1"}, "error: unknown flag: --bogus\nSee 'mini-deploy rollout status --help' for usage.\n"},
		{[]string{"bogus"}, "error: unknown command \"bogus\" for \"mini-deploy\"\n"},
		{[]string{"rollout"}, "Follow and steer Deployment rollouts"},
		{[]string{"set"}, "Change one field of an object"},
	} {
		out, errOut, code := cli(t, home, tc.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, stderr starting %q", tc.args, code, out, errOut, tc.stderr)
		}
	}
	if len(fb.calls) != 0 {
		t.Errorf("calls reached the daemon: %q", fb.calls)
	}
}
