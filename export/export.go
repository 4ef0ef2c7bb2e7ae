// Package export turns what mini-deploy runs into manifests that run the same
// way on a Kubernetes cluster.
//
// The manifests mini-deploy reads are already Kubernetes YAML, so most of an
// object goes out as it came in. Three things would behave differently on a
// cluster, and Manifests takes care of each. A pod without a readiness probe
// is checked here with an implicit TCP connect on the port its Service
// targets; a cluster would call it ready as soon as it starts, so the check
// becomes an explicit tcpSocket readinessProbe. Annotations under
// mini-deploy.io/ are kept (the API server accepts them and nothing there
// reads them), with a note saying what a cluster will not do. And an image
// that exists only on this engine (built here, never pulled from a registry)
// is named with a warning: every node of a cluster must be able to pull it.
//
// What the server filled in (uid, resourceVersion, status, the revision
// annotation, a Service's cluster IP) is dropped, and objects a controller
// made (a Deployment's ReplicaSets, pods, endpoints, events) are left out:
// the cluster's controllers make their own.
package export

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

// Options tune Manifests.
type Options struct {
	// LocalOnly says whether an image exists only on this engine; nil checks
	// nothing.
	LocalOnly func(image string) bool
}

// Implicit readiness made explicit: the same check the node agent runs
// (orchestrator/node/probe.go), a TCP connect every second that fails after
// three misses.
const (
	probePeriodSeconds    = 1
	probeTimeoutSeconds   = 1
	probeFailureThreshold = 3
)

// annotationNotes says, for each mini-deploy annotation, what a cluster does
// without mini-deploy.
var annotationNotes = map[string]string{
	api.AnnotationAutoRollback: "kept, but a cluster ignores it: a rollout that misses its progress deadline stays where it is " +
		"(Progressing=False, ProgressDeadlineExceeded) until `kubectl rollout undo`",
}

// Result is the exported manifests and what the reader should know.
type Result struct {
	Objects []api.Object
	// Notes are one line each: what changed, what a cluster will not do,
	// and which images a cluster must be able to pull.
	Notes []string
}

// Manifests converts objs (read from files or listed from the daemon) into
// objects for a cluster. It does not change objs.
func Manifests(objs []api.Object, opts Options) (*Result, error) {
	res := &Result{}
	var services []*api.Service
	for _, o := range objs {
		if svc, ok := o.(*api.Service); ok {
			services = append(services, svc)
		}
	}
	images := map[string]bool{}
	for _, o := range objs {
		if madeByController(o) {
			continue
		}
		out, err := api.Decode(o.GetTypeMeta().Kind, mustJSON(o))
		if err != nil {
			return nil, fmt.Errorf("export %s %q: %w", o.GetTypeMeta().Kind, o.Meta().Name, err)
		}
		what := fmt.Sprintf("%s/%s", strings.ToLower(o.GetTypeMeta().Kind), o.Meta().Name)
		api.ClearServerFields(out)
		m := out.Meta()
		delete(m.Annotations, api.AnnotationRevision)
		delete(m.Annotations, api.AnnotationLastApplied)
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
		for _, k := range sortedKeys(m.Annotations) {
			if note, ok := annotationNotes[k]; ok {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: annotation %s %s", what, k, note))
			} else if strings.HasPrefix(k, "mini-deploy.io/") {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: annotation %s kept; a cluster ignores it", what, k))
			}
		}
		switch x := out.(type) {
		case *api.Service:
			// The cluster allocates its own; a node port the user chose stays.
			x.Spec.ClusterIP = ""
		}
		if t := template(out); t != nil {
			if note := explicitReadiness(t, services, m.Namespace); note != "" {
				res.Notes = append(res.Notes, what+": "+note)
			}
			for _, c := range t.Spec.Containers {
				if opts.LocalOnly != nil && !images[c.Image] && opts.LocalOnly(c.Image) {
					images[c.Image] = true
					res.Notes = append(res.Notes, fmt.Sprintf("%s: WARNING: image %s exists only on this engine "+
						"(built here, never pulled from a registry); push it to a registry every node of the cluster can pull from", what, c.Image))
				}
			}
		}
		res.Objects = append(res.Objects, out)
	}
	return res, nil
}

// madeByController says whether o was made by a controller from another
// object, rather than applied by a user.
func madeByController(o api.Object) bool {
	switch o.GetTypeMeta().Kind {
	case api.KindDeployment, api.KindReplicaSet, api.KindReplicationController, api.KindService:
	default:
		return true
	}
	for _, ref := range o.Meta().OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}

func template(o api.Object) *api.PodTemplateSpec {
	switch x := o.(type) {
	case *api.Deployment:
		return &x.Spec.Template
	case *api.ReplicaSet:
		return &x.Spec.Template
	case *api.ReplicationController:
		return x.Spec.Template
	}
	return nil
}

// explicitReadiness gives the template's container the readiness probe
// mini-deploy runs implicitly, on the port the first matching Service
// targets (or the container's first declared port), and says so.
func explicitReadiness(t *api.PodTemplateSpec, services []*api.Service, ns string) string {
	if len(t.Spec.Containers) == 0 || t.Spec.Containers[0].ReadinessProbe != nil {
		return ""
	}
	c := &t.Spec.Containers[0]
	port, why := 0, ""
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 || namespace(svc.Namespace) != namespace(ns) ||
			!labels.SelectorFromSet(svc.Spec.Selector).Matches(t.Labels) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if port = api.ResolvePort(c.Ports, sp.TargetPort, sp.Port); port > 0 {
				why = fmt.Sprintf("the port Service %q targets", svc.Name)
				break
			}
		}
		if port > 0 {
			break
		}
	}
	if port == 0 && len(c.Ports) > 0 {
		port, why = int(c.Ports[0].ContainerPort), "its first declared port"
	}
	if port == 0 {
		return fmt.Sprintf("container %q has no readiness probe and no port to check: on a cluster it is ready as soon as it starts", c.Name)
	}
	c.ReadinessProbe = &api.Probe{
		ProbeHandler:     api.ProbeHandler{TCPSocket: &api.TCPSocketAction{Port: api.FromInt(port)}},
		PeriodSeconds:    probePeriodSeconds,
		TimeoutSeconds:   probeTimeoutSeconds,
		FailureThreshold: probeFailureThreshold,
	}
	return fmt.Sprintf("container %q: mini-deploy's implicit TCP readiness check on port %d (%s) written as an explicit tcpSocket readinessProbe", c.Name, port, why)
}

func namespace(ns string) string {
	if ns == "" {
		return api.DefaultNamespace
	}
	return ns
}

// YAML prints the result as one multi-document file, the notes first as
// comments.
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Exported by mini-deploy for a Kubernetes cluster.\n")
	for _, n := range r.Notes {
		b.WriteString("# - " + n + "\n")
	}
	for i, o := range r.Objects {
		if i > 0 {
			b.WriteString("---\n")
		}
		generic, err := api.Generic(o)
		if err != nil {
			return nil, err
		}
		y, err := api.ToYAML(tidy(generic))
		if err != nil {
			return nil, err
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

func mustJSON(o api.Object) []byte {
	b, err := api.ToJSON(o)
	if err != nil {
		panic(fmt.Sprintf("export: encode %T: %v", o, err))
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tidy drops what an encoded object carries only because its Go type has
// it: the status, and creationTimestamp: null.
func tidy(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	delete(m, "status")
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ts, ok := x["creationTimestamp"]; ok && ts == nil {
				delete(x, "creationTimestamp")
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(m)
	return m
}
