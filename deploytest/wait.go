package deploytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/loadgen"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// PollInterval is how often the wait strategies look.
const PollInterval = 100 * time.Millisecond

// withDefaultTimeout bounds a wait whose context has no deadline: a test
// that waits forever is killed by -timeout, and then no cleanup runs.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// WaitFor polls cond until it returns true or ctx ends.
func (e *Env) WaitFor(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
	return nil
}

// WaitReady waits until a workload ("deployment/kubia", "rc/kubia-v1",
// "rs/x") has all its replicas ready (a Deployment: its rollout finished).
// A Deployment whose rollout failed (progress deadline exceeded) is an
// error at once.
func (e *Env) WaitReady(ctx context.Context, ref string) error {
	kind, name, err := parseRef(ref)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	last := ""
	for {
		done, msg, err := e.ready(ctx, kind, name)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		if done {
			return nil
		}
		last = msg
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s: %w", ref, last, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

func (e *Env) ready(ctx context.Context, kind, name string) (bool, string, error) {
	if kind == api.KindDeployment {
		resp, err := e.Orch.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: api.DefaultNamespace, Name: name})
		if err != nil {
			return false, "", err
		}
		if resp.Failed {
			return false, "", errors.New(resp.Message)
		}
		return resp.Done, resp.Message, nil
	}
	obj, err := e.Orch.Get(ctx, kind, api.DefaultNamespace, name)
	if err != nil {
		return false, "", err
	}
	var want int32 = 1
	var st api.ReplicaSetStatus
	switch v := obj.(type) {
	case *api.ReplicationController:
		want, st = *v.Spec.Replicas, v.Status
	case *api.ReplicaSet:
		want, st = *v.Spec.Replicas, v.Status
	default:
		return true, "", nil
	}
	msg := fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want)
	return st.ReadyReplicas == want && st.Replicas == want && st.ObservedGeneration >= obj.Meta().Generation, msg, nil
}

// WaitForHTTP waits until a GET of url answers 2xx with a body containing
// want ("" accepts any body), and returns that body. Only this machine's
// addresses are accepted.
func (e *Env) WaitForHTTP(ctx context.Context, url, want string) (string, error) {
	return WaitForHTTP(ctx, url, want)
}

// WaitForHTTP is Env.WaitForHTTP for a URL outside an Env.
func WaitForHTTP(ctx context.Context, url, want string) (string, error) {
	opts := loadgen.Options{URL: url, Requests: 1}
	if err := opts.Validate(); err != nil {
		return "", err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	last := "no answer yet"
	for {
		body, err := get(ctx, hc, url)
		switch {
		case err != nil:
			last = err.Error()
		case strings.Contains(body, want):
			return body, nil
		default:
			last = fmt.Sprintf("body %q does not contain %q", api.Truncate(body, 200), want)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET %s: %s: %w", url, last, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s: %s", resp.Status, api.Truncate(string(body), 200))
	}
	return string(body), nil
}
