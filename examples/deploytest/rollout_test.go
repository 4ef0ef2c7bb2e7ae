// A test as a user of mini-deploy writes it: copy this file next to your
// manifests, change the paths and the assertions, and run `go test`.
// It needs a Docker engine with the images (`make images`); without one it
// is skipped, except under CI=true, where it fails.
package example_test

import (
	"context"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/deploytest"
)

func TestRolloutUnderLoad(t *testing.T) {
	t.Parallel() // every Env has its own network, node ports and labels

	// Start a control plane for this test alone, apply the manifests and
	// wait until they are ready. Everything it creates is removed when the
	// test ends, even if it fails or panics.
	env := deploytest.Start(t,
		deploytest.WithImages("luksa/kubia:v1", "luksa/kubia:v2"),
		deploytest.WithManifests("../kubia/kubia.yaml"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The Service answers on 127.0.0.1 at its own node port.
	url := env.ServiceURL("kubia")
	if _, err := env.WaitForHTTP(ctx, url, "This is v1"); err != nil {
		t.Fatal(err)
	}

	// Clients keep sending requests (some over kept-alive connections, some
	// opening a new one each time) while the Deployment rolls to v2.
	load := env.StartLoad(url, deploytest.LoadOptions{Duration: time.Minute})
	if err := env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2"); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitReady(ctx, "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	sum, err := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests during the rollout, by version %v", sum.Requests, sum.ByVersion)
	if sum.Failed != 0 {
		t.Errorf("%d requests failed during the rollout: %v", sum.Failed, sum.Errors)
	}

	// Afterwards every answer comes from v2.
	after, err := env.Load(ctx, url, deploytest.LoadOptions{Requests: 30})
	if err != nil {
		t.Fatal(err)
	}
	if after.Failed != 0 || after.ByVersion["v2"] != after.Requests {
		t.Errorf("after the rollout: %v, %d failed; want only v2", after.ByVersion, after.Failed)
	}
}
