package printer

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

// NodeName is what the NODE column says: mini-deploy has one node.
const NodeName = "local"

func (p *Printer) wide() bool { return p.opts.Format == FormatWide }

func (p *Printer) header(kind string) []string {
	var h []string
	if p.opts.AllNamespaces {
		h = append(h, "NAMESPACE")
	}
	switch kind {
	case api.KindPod:
		h = append(h, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		if p.wide() {
			h = append(h, "IP", "NODE")
		}
	case api.KindReplicationController, api.KindReplicaSet:
		h = append(h, "NAME", "DESIRED", "CURRENT", "READY", "AGE")
		if p.wide() {
			h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	case api.KindDeployment:
		h = append(h, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
		if p.wide() {
			h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	case api.KindService:
		h = append(h, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
		if p.wide() {
			h = append(h, "SELECTOR", "URL")
		}
	case api.KindEndpoints:
		h = append(h, "NAME", "ENDPOINTS", "AGE")
	case api.KindEvent:
		h = append(h, "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	case api.KindRollingUpdate:
		h = append(h, "NAME", "FROM", "TO", "IMAGE", "PHASE", "AGE")
	default:
		h = append(h, "NAME", "AGE")
	}
	if p.opts.ShowLabels && kind != api.KindEvent {
		h = append(h, "LABELS")
	}
	return h
}

func (p *Printer) row(obj api.Object, showKind bool) []string {
	m := obj.Meta()
	var r []string
	if p.opts.AllNamespaces {
		r = append(r, m.Namespace)
	}
	name := m.Name
	if showKind {
		name = Name(obj)
	}
	switch o := obj.(type) {
	case *api.Pod:
		r = append(r, name, podReady(o), PodStatus(o), p.restarts(o), p.age(podCreated(o)))
		if p.wide() {
			r = append(r, orNone(o.Status.PodIP), NodeName)
		}
	case *api.ReplicationController:
		r = append(r, name, i32(replicas(o.Spec.Replicas)), i32(o.Status.Replicas), i32(o.Status.ReadyReplicas), p.age(m.CreationTimestamp))
		if p.wide() {
			var spec *api.PodSpec
			if o.Spec.Template != nil {
				spec = &o.Spec.Template.Spec
			}
			r = append(r, containerNames(spec), images(spec), labels.FormatLabels(o.Spec.Selector))
		}
	case *api.ReplicaSet:
		r = append(r, name, i32(replicas(o.Spec.Replicas)), i32(o.Status.Replicas), i32(o.Status.ReadyReplicas), p.age(m.CreationTimestamp))
		if p.wide() {
			r = append(r, containerNames(&o.Spec.Template.Spec), images(&o.Spec.Template.Spec), SelectorString(o.Spec.Selector))
		}
	case *api.Deployment:
		ready := fmt.Sprintf("%d/%d", o.Status.ReadyReplicas, replicas(o.Spec.Replicas))
		r = append(r, name, ready, i32(o.Status.UpdatedReplicas), i32(o.Status.AvailableReplicas), p.age(m.CreationTimestamp))
		if p.wide() {
			r = append(r, containerNames(&o.Spec.Template.Spec), images(&o.Spec.Template.Spec), SelectorString(o.Spec.Selector))
		}
	case *api.Service:
		typ := o.Spec.Type
		if typ == "" {
			typ = api.ServiceTypeClusterIP
		}
		r = append(r, name, typ, orNone(o.Spec.ClusterIP), "<none>", ServicePorts(o), p.age(m.CreationTimestamp))
		if p.wide() {
			r = append(r, labels.FormatLabels(o.Spec.Selector), orNone(strings.Join(api.ServiceURLs(o, p.opts.Address), ",")))
		}
	case *api.Endpoints:
		r = append(r, name, FormatEndpoints(o), p.age(m.CreationTimestamp))
	case *api.Event:
		r = r[:0]
		if p.opts.AllNamespaces {
			r = append(r, m.Namespace)
		}
		r = append(r, p.age(EventLastSeen(o)), o.Type, o.Reason, EventObject(o.InvolvedObject), o.Message)
	case *api.RollingUpdate:
		r = append(r, name, o.Spec.From, orNone(o.Spec.To), orNone(o.Spec.Image), orNone(o.Status.Phase), p.age(m.CreationTimestamp))
	default:
		r = append(r, name, p.age(m.CreationTimestamp))
	}
	if _, isEvent := obj.(*api.Event); p.opts.ShowLabels && !isEvent {
		r = append(r, labels.FormatLabels(m.Labels))
	}
	return r
}

func i32(n int32) string { return strconv.Itoa(int(n)) }

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podCreated(p *api.Pod) api.Time {
	if p.CreationTimestamp.IsZero() && p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return p.CreationTimestamp
}

func podReady(p *api.Pod) string {
	total := len(p.Status.ContainerStatuses)
	if total == 0 {
		total = max(1, len(p.Spec.Containers))
	}
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, total)
}

// PodStatus is the STATUS column: the reason a container waits or ended
// (CrashLoopBackOff, ErrImageNeverPull, Error), Terminating while the pod
// stops, else the phase.
func PodStatus(p *api.Pod) string {
	reason := p.Status.Phase
	if reason == "" {
		reason = "Pending"
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch st := cs.State; {
		case st.Waiting != nil && st.Waiting.Reason != "":
			reason = st.Waiting.Reason
		case st.Terminated != nil && st.Terminated.Reason != "":
			reason = st.Terminated.Reason
		case st.Terminated != nil:
			reason = fmt.Sprintf("ExitCode:%d", st.Terminated.ExitCode)
		}
	}
	if p.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	return reason
}

// restarts prints `2 (45s ago)` as recent kubectl does, or the bare count.
func (p *Printer) restarts(pod *api.Pod) string {
	var n int32
	var last api.Time
	for _, cs := range pod.Status.ContainerStatuses {
		n += cs.RestartCount
		if t := cs.LastState.Terminated; t != nil && t.FinishedAt.After(last.Time) {
			last = t.FinishedAt
		}
	}
	if n > 0 && !last.IsZero() {
		return fmt.Sprintf("%d (%s ago)", n, p.age(last))
	}
	return i32(n)
}

func containerNames(spec *api.PodSpec) string {
	if spec == nil || len(spec.Containers) == 0 {
		return "<none>"
	}
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

func images(spec *api.PodSpec) string {
	if spec == nil || len(spec.Containers) == 0 {
		return "<none>"
	}
	var imgs []string
	for _, c := range spec.Containers {
		imgs = append(imgs, c.Image)
	}
	return strings.Join(imgs, ",")
}

// SelectorString prints a set-based selector in its string form
// (app=kubia,env in (a,b)), or <none>.
func SelectorString(sel *api.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	s, err := labels.SelectorFromLabelSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	if s.Empty() {
		return "<none>"
	}
	return s.String()
}

// ServicePorts is the PORT(S) column: 80:30123/TCP. Every Service gets a
// port on the host in mini-deploy, so the node port shows for every type.
func ServicePorts(s *api.Service) string {
	if len(s.Spec.Ports) == 0 {
		return "<none>"
	}
	var parts []string
	for _, sp := range s.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = "TCP"
		}
		if sp.NodePort != 0 {
			parts = append(parts, fmt.Sprintf("%d:%d/%s", sp.Port, sp.NodePort, proto))
		} else {
			parts = append(parts, fmt.Sprintf("%d/%s", sp.Port, proto))
		}
	}
	return strings.Join(parts, ",")
}

// FormatEndpoints is kubectl's ENDPOINTS column: up to three ip:port, then
// "+ N more...".
func FormatEndpoints(ep *api.Endpoints) string {
	const maxShown = 3
	var list []string
	count := 0
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < maxShown {
					list = append(list, a.IP)
				}
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < maxShown {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
				}
			}
		}
	}
	if len(list) == 0 {
		return "<none>"
	}
	s := strings.Join(list, ",")
	if count > len(list) {
		s += fmt.Sprintf(" + %d more...", count-len(list))
	}
	return s
}

// EventLastSeen is when an event last happened.
func EventLastSeen(e *api.Event) api.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp
	}
	return e.CreationTimestamp
}

// EventObject is the OBJECT column: pod/kubia-v1-x7k2p.
func EventObject(ref api.ObjectReference) string {
	return strings.ToLower(ref.Kind) + "/" + ref.Name
}

// SortEvents orders events oldest first, as a log reads.
func SortEvents(events []*api.Event) {
	slices.SortStableFunc(events, func(a, b *api.Event) int {
		return EventLastSeen(a).Compare(EventLastSeen(b).Time)
	})
}
