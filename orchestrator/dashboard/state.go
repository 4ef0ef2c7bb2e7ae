package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// State is everything the page shows but the chart, in every namespace.
type State struct {
	Time                   time.Time                    `json:"time"`
	Deployments            []*api.Deployment            `json:"deployments"`
	ReplicaSets            []*api.ReplicaSet            `json:"replicaSets"`
	ReplicationControllers []*api.ReplicationController `json:"replicationControllers"`
	Pods                   []*api.Pod                   `json:"pods"`
	Services               []*api.Service               `json:"services"`
	Endpoints              []*api.Endpoints             `json:"endpoints"`
	Events                 []*api.Event                 `json:"events"` // newest first, at most maxEvents
	// URLs of each Service ("default/kubia"), as `get svc` prints them.
	URLs map[string][]string `json:"urls"`
	// Rollouts of the Deployments, by "namespace/name".
	Rollouts map[string]*Rollout `json:"rollouts"`
	// Errors are the parts the Backend did not answer; the page says so.
	Errors []string `json:"errors,omitempty"`
}

// Rollout is a Deployment's rollout as `rollout status` and `rollout plan`
// tell it: the plan made when the rollout was first seen, and how many of
// its steps are behind it.
type Rollout struct {
	Message       string            `json:"message"`
	Done          bool              `json:"done"`
	Failed        bool              `json:"failed"`
	NewReplicaSet string            `json:"newReplicaSet,omitempty"`
	Steps         []server.PlanStep `json:"steps,omitempty"`
	StepsDone     int               `json:"stepsDone"`
}

const maxEvents = 40

// watched are the kinds whose changes send the page a new State.
var watched = []string{
	api.KindDeployment, api.KindReplicaSet, api.KindReplicationController,
	api.KindPod, api.KindService, api.KindEndpoints, api.KindEvent,
}

// State reads the whole state from the Backend, as `get` would.
func (d *Dashboard) State(ctx context.Context) *State {
	b := d.opts.Backend
	s := &State{Time: time.Now().UTC(), URLs: map[string][]string{}, Rollouts: map[string]*Rollout{}}
	list := func(kind string) []api.Object {
		objs, err := b.List(ctx, kind, "", "")
		if err != nil {
			s.Errors = append(s.Errors, fmt.Sprintf("list %s: %v", kind, err))
		}
		return objs
	}
	collect(list(api.KindDeployment), &s.Deployments)
	collect(list(api.KindReplicaSet), &s.ReplicaSets)
	collect(list(api.KindReplicationController), &s.ReplicationControllers)
	collect(list(api.KindPod), &s.Pods)
	collect(list(api.KindService), &s.Services)
	collect(list(api.KindEndpoints), &s.Endpoints)
	if events, err := b.Events(ctx, "", nil); err != nil {
		s.Errors = append(s.Errors, fmt.Sprintf("list events: %v", err))
	} else {
		s.Events = slices.Clone(events)
		slices.SortStableFunc(s.Events, func(a, b *api.Event) int { return b.LastTimestamp.Compare(a.LastTimestamp.Time) })
		s.Events = s.Events[:min(len(s.Events), maxEvents)]
	}
	if info, err := b.Info(ctx); err == nil {
		for _, svc := range s.Services {
			s.URLs[api.KeyOf(svc).Namespace+"/"+svc.Name] = api.ServiceURLs(svc, info.Address)
		}
	}
	for _, dep := range s.Deployments {
		s.Rollouts[api.KeyOf(dep).Namespace+"/"+dep.Name] = d.rollout(ctx, dep, s.ReplicaSets, nil)
	}
	return s
}

func collect[T api.Object](objs []api.Object, into *[]T) {
	*into = []T{}
	for _, o := range objs {
		if t, ok := o.(T); ok {
			*into = append(*into, t)
		}
	}
}

// rollout asks the Backend for dep's rollout status and tells where the
// rollout is in its plan. Given before (the ReplicaSets as they were before
// dep last changed), it also plans a rollout to a template it sees for the
// first time, from there: by now the controller may have taken a step.
func (d *Dashboard) rollout(ctx context.Context, dep *api.Deployment, rss, before []*api.ReplicaSet) *Rollout {
	ns := api.KeyOf(dep).Namespace
	st, err := d.opts.Backend.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: ns, Name: dep.Name})
	if err != nil {
		return &Rollout{Message: err.Error(), Failed: true}
	}
	r := &Rollout{Message: st.Message, Done: st.Done, Failed: st.Failed}
	hash := api.ComputeHash(&dep.Spec.Template, dep.Status.CollisionCount)
	var old, cur int32
	for _, rs := range rss {
		if !api.OwnedBy(rs, dep.UID) {
			continue
		}
		if rs.Labels[api.LabelPodTemplateHash] == hash {
			r.NewReplicaSet = rs.Name
			cur += api.Replicas(rs.Spec.Replicas)
		} else {
			old += api.Replicas(rs.Spec.Replicas)
		}
	}
	key := dep.UID + "/" + hash
	steps, ok := d.plans.get(key)
	if !ok && !st.Done && before != nil {
		// The same arithmetic as `rollout plan`: the controller's own sync,
		// run over copies.
		var base []*api.ReplicaSet
		for _, rs := range before {
			if api.KeyOf(rs).Namespace == ns {
				base = append(base, rs)
			}
		}
		planned, err := deployment.Plan(dep, base, nil, nil)
		if err == nil {
			steps = make([]server.PlanStep, 0, len(planned))
			for _, p := range planned {
				steps = append(steps, server.PlanStep{Step: p.Step, Action: p.Action, Old: p.Old, New: p.New, Available: p.Available, Total: p.Total})
			}
			d.plans.put(dep.UID, key, steps)
		}
	}
	r.Steps = steps
	for _, s := range steps {
		if old > s.Old || cur < s.New {
			break
		}
		r.StepsDone++
	}
	if st.Done {
		r.StepsDone = len(steps)
	}
	return r
}

// planRollouts plans each rollout the moment its Deployment changes, page or
// no page, from the ReplicaSets seen at the Deployment's previous change:
// the controller takes its first step within milliseconds, and a plan made
// from what is there by then would start half-way.
func (d *Dashboard) planRollouts(ctx context.Context) {
	b := d.opts.Backend
	before := map[string][]*api.ReplicaSet{} // by Deployment uid: its namespace's ReplicaSets at the last event
	for ctx.Err() == nil {
		changes, err := b.Watch(ctx, api.KindDeployment, "", "")
		if err != nil {
			d.log.Warn("dashboard: watch deployments", "error", err)
		} else {
			for ev := range changes {
				dep, ok := ev.Object.(*api.Deployment)
				if !ok || ev.Type == "DELETED" {
					continue
				}
				rss, err := b.List(ctx, api.KindReplicaSet, api.KeyOf(dep).Namespace, "")
				if err != nil {
					continue
				}
				var now []*api.ReplicaSet
				collect(rss, &now)
				prev, seen := before[dep.UID]
				if !seen {
					prev = now // first seen mid-rollout: plan what is left
				}
				d.rollout(ctx, dep, now, prev)
				before[dep.UID] = now
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// planCache keeps the plan of each Deployment's latest rollout.
type planCache struct {
	mu    sync.Mutex
	byUID map[string]string // the Deployment's uid -> its key below
	plans map[string][]server.PlanStep
}

func newPlanCache() *planCache {
	return &planCache{byUID: map[string]string{}, plans: map[string][]server.PlanStep{}}
}

func (c *planCache) get(key string) ([]server.PlanStep, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.plans[key]
	return p, ok
}

func (c *planCache) put(uid, key string, steps []server.PlanStep) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byUID[uid]; ok {
		delete(c.plans, old)
	}
	c.byUID[uid], c.plans[key] = key, steps
}

// Stream pacing: a burst of changes sends one State, and a quiet page still
// gets one now and then, so ages and a stalled rollout's message stay true.
const (
	stateEvery  = 250 * time.Millisecond
	stateAtMost = 5 * time.Second
)

// events is the page's stream: "state" (a State) on every change, "traffic"
// (the history) once, then "point" (a Point) every sample period.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	changed := make(chan struct{}, 1)
	// A watch the Backend cut off ends the stream; the page's EventSource
	// connects again and starts from a whole State.
	cut := make(chan struct{})
	var cutOnce sync.Once
	for _, kind := range watched {
		ch, err := d.opts.Backend.Watch(ctx, kind, "", "")
		if err != nil {
			http.Error(w, fmt.Sprintf("watch %s: %v", kind, err), http.StatusInternalServerError)
			return
		}
		go func() {
			for range ch {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			cutOnce.Do(func() { close(cut) })
		}()
	}
	history, points := d.traffic.subscribe()
	defer d.traffic.unsubscribe(points)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			d.log.Warn("dashboard: encode event", "event", event, "error", err)
			return true
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("state", d.State(ctx)) || !send("traffic", history) {
		return
	}
	pace := time.NewTicker(stateEvery)
	defer pace.Stop()
	dirty, lastSent := false, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cut:
			return
		case <-changed:
			dirty = true
		case p := <-points:
			if !send("point", p) {
				return
			}
		case now := <-pace.C:
			if dirty || now.Sub(lastSent) >= stateAtMost {
				if !send("state", d.State(ctx)) {
					return
				}
				dirty, lastSent = false, now
			}
		}
	}
}
