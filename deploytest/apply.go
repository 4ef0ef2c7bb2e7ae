package deploytest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// Apply applies manifest files or directories, waits until their Services
// listen, and returns the objects. It fails the test on any error.
func (e *Env) Apply(paths ...string) []api.Object {
	e.t.Helper()
	objs, err := api.ReadManifests(paths)
	if err != nil {
		e.t.Fatalf("deploytest: %v", err)
	}
	if err := e.ApplyObjects(objs...); err != nil {
		e.t.Fatalf("deploytest: apply %v: %v", paths, err)
	}
	return objs
}

// ApplyYAML applies a multi-document manifest given inline.
func (e *Env) ApplyYAML(manifest string) error {
	objs, err := api.DecodeManifests("inline.yaml", []byte(manifest))
	if err != nil {
		return err
	}
	return e.ApplyObjects(objs...)
}

// ApplyObjects applies objects built in the test, all or nothing, and waits
// until their Services listen.
func (e *Env) ApplyObjects(objs ...api.Object) error {
	if !slices.ContainsFunc(objs, func(o api.Object) bool { return o.GetTypeMeta().Kind == api.KindService }) {
		_, err := e.Orch.Apply(context.Background(), objs, server.ApplyOptions{})
		return err
	}
	unlock, err := lockNodePorts()
	if err != nil {
		return err
	}
	defer unlock()
	since := time.Now()
	if _, err := e.Orch.Apply(context.Background(), objs, server.ApplyOptions{}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), listenTimeout)
	defer cancel()
	for _, obj := range objs {
		if obj.GetTypeMeta().Kind == api.KindService {
			if err := e.waitListening(ctx, api.KeyOf(obj), since); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes an object ("deployment/kubia", "svc/kubia", "pod/kubia-x")
// and, for a workload or a pod, waits until its pods are gone.
func (e *Env) Delete(ctx context.Context, ref string) error {
	kind, name, err := parseRef(ref)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	pods, err := e.podsOf(ctx, kind, name)
	if err != nil {
		return err
	}
	if _, err := e.Orch.Delete(ctx, kind, api.DefaultNamespace, name, server.DeleteOptions{Cascade: "foreground"}); err != nil {
		return err
	}
	// The foreground delete does not wait for pods that another path (the
	// ReplicaSet controller seeing its owner go) was already stopping.
	for {
		left, err := e.podsOf(ctx, api.KindPod, "")
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(left, func(p string) bool { return slices.Contains(pods, p) }) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: deleted, but its pods did not stop in time: %w", ref, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

// podsOf names the pods of a workload (through its ReplicaSets for a
// Deployment), the pod itself, or with kind Pod and no name every pod.
func (e *Env) podsOf(ctx context.Context, kind, name string) ([]string, error) {
	objs, err := e.Orch.List(ctx, api.KindPod, api.DefaultNamespace, "")
	if err != nil {
		return nil, err
	}
	owners := map[string]bool{}
	switch kind {
	case api.KindService:
		return nil, nil
	case api.KindPod:
	default:
		obj, err := e.Orch.Get(ctx, kind, api.DefaultNamespace, name)
		if err != nil {
			return nil, err
		}
		owners[obj.Meta().UID] = true
		if kind == api.KindDeployment {
			rss, err := e.Orch.List(ctx, api.KindReplicaSet, api.DefaultNamespace, "")
			if err != nil {
				return nil, err
			}
			for _, rs := range rss {
				for _, ref := range rs.Meta().OwnerReferences {
					if ref.UID == obj.Meta().UID {
						owners[rs.Meta().UID] = true
					}
				}
			}
		}
	}
	var out []string
	for _, o := range objs {
		m := o.Meta()
		match := kind == api.KindPod && (name == "" || m.Name == name)
		for _, ref := range m.OwnerReferences {
			match = match || owners[ref.UID]
		}
		if match {
			out = append(out, m.Name)
		}
	}
	return out, nil
}

// Node ports come from one range shared by every control plane on the host.
// The orchestrator picks a port that is free when it allocates, and its
// proxy binds it a moment later: two Envs allocating at once could both
// pick the same free port, and one proxy would then fail to listen while
// its test talked to the other's. So from allocation to first listen, every
// deploytest Env of the host (in this process or another) takes turns.
const (
	nodePortLockFile = "mini-deploy-deploytest-nodeports.lock"
	listenTimeout    = 15 * time.Second
)

var portMu sync.Mutex

func lockNodePorts() (unlock func(), err error) {
	portMu.Lock()
	release, err := machineLock(nodePortLockFile, listenTimeout+15*time.Second)
	if err != nil {
		portMu.Unlock()
		return nil, fmt.Errorf("node port allocation: %w", err)
	}
	return func() { release(); portMu.Unlock() }, nil
}

// waitListening waits until every node port of a Service accepts
// connections, and fails if its proxy reported that it could not listen
// since the apply (another program took the port in between).
func (e *Env) waitListening(ctx context.Context, key api.Key, since time.Time) error {
	obj, err := e.Orch.Get(ctx, key.Kind, key.Namespace, key.Name)
	if err != nil {
		return err
	}
	for _, raw := range e.Orch.ServiceURLs(obj.(*api.Service)) {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		for {
			if msg := e.failedListen(ctx, key, since); msg != "" {
				return fmt.Errorf("service %q: %s", key.Name, msg)
			}
			c, err := net.DialTimeout("tcp", u.Host, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("service %q: nothing listens on %s: %w", key.Name, u.Host, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

func (e *Env) failedListen(ctx context.Context, key api.Key, since time.Time) string {
	events, _ := e.Orch.Events(ctx, key.Namespace, &api.ObjectReference{Kind: api.KindService, Name: key.Name})
	for _, ev := range events {
		// Event times are whole seconds.
		if ev.Reason == "FailedListen" && !ev.LastTimestamp.Before(since.Truncate(time.Second)) {
			return ev.Message
		}
	}
	return ""
}
