package printer

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// The describers of the stored kinds; describe.go has what they share, and
// pods.

// DescribeReplicationController prints an RC with its pods' phases.
func (p *Printer) DescribeReplicationController(rc *api.ReplicationController, pods []*api.Pod, events []*api.Event) error {
	d := p.describer()
	d.meta(&rc.ObjectMeta)
	d.line(0, "Selector:\t%s", labels.FormatLabels(rc.Spec.Selector))
	d.labelLines(0, "Labels", rc.Labels, "=")
	d.labelLines(0, "Annotations", rc.Annotations, ": ")
	d.line(0, "Replicas:\t%d current / %d desired", rc.Status.Replicas, replicas(rc.Spec.Replicas))
	d.line(0, "Pods Status:\t%s", PodsStatus(pods))
	d.template(rc.Spec.Template)
	d.events(events)
	return d.flush()
}

// DescribeReplicaSet prints a ReplicaSet with its pods' phases.
func (p *Printer) DescribeReplicaSet(rs *api.ReplicaSet, pods []*api.Pod, events []*api.Event) error {
	d := p.describer()
	d.meta(&rs.ObjectMeta)
	d.line(0, "Selector:\t%s", SelectorString(rs.Spec.Selector))
	d.labelLines(0, "Labels", rs.Labels, "=")
	d.labelLines(0, "Annotations", rs.Annotations, ": ")
	d.controlledBy(&rs.ObjectMeta)
	d.line(0, "Replicas:\t%d current / %d desired", rs.Status.Replicas, replicas(rs.Spec.Replicas))
	d.line(0, "Pods Status:\t%s", PodsStatus(pods))
	d.template(&rs.Spec.Template)
	d.conditions(rs.Status.Conditions, true)
	d.events(events)
	return d.flush()
}

// DescribeDeployment prints a Deployment with its ReplicaSets; newRS may be
// nil.
func (p *Printer) DescribeDeployment(dep *api.Deployment, oldRSs []*api.ReplicaSet, newRS *api.ReplicaSet, events []*api.Event) error {
	d := p.describer()
	d.meta(&dep.ObjectMeta)
	d.line(0, "CreationTimestamp:\t%s", d.timestamp(dep.CreationTimestamp))
	d.labelLines(0, "Labels", dep.Labels, "=")
	d.labelLines(0, "Annotations", dep.Annotations, ": ")
	d.line(0, "Selector:\t%s", SelectorString(dep.Spec.Selector))
	st := dep.Status
	d.line(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable",
		replicas(dep.Spec.Replicas), st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, st.UnavailableReplicas)
	strategy := dep.Spec.Strategy.Type
	if strategy == "" {
		strategy = api.RollingUpdateDeploymentStrategyType
	}
	d.line(0, "StrategyType:\t%s", strategy)
	d.line(0, "MinReadySeconds:\t%d", dep.Spec.MinReadySeconds)
	if strategy == api.RollingUpdateDeploymentStrategyType {
		unavailable, surge := "25%", "25%"
		if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
			if ru.MaxUnavailable != nil {
				unavailable = ru.MaxUnavailable.String()
			}
			if ru.MaxSurge != nil {
				surge = ru.MaxSurge.String()
			}
		}
		d.line(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge", unavailable, surge)
	}
	if dep.Spec.Paused {
		d.line(0, "Paused:\ttrue")
	}
	d.template(&dep.Spec.Template)
	d.conditions(st.Conditions, true)
	var olds []string
	for _, rs := range oldRSs {
		olds = append(olds, rsSummary(rs))
	}
	d.line(0, "OldReplicaSets:\t%s", orNone(strings.Join(olds, ", ")))
	if newRS != nil {
		d.line(0, "NewReplicaSet:\t%s", rsSummary(newRS))
	} else {
		d.line(0, "NewReplicaSet:\t<none>")
	}
	d.events(events)
	return d.flush()
}

func rsSummary(rs *api.ReplicaSet) string {
	return fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, replicas(rs.Spec.Replicas))
}

// DescribeService prints a Service, its URLs and its endpoints by pod.
func (p *Printer) DescribeService(svc *api.Service, ep *api.Endpoints, events []*api.Event) error {
	d := p.describer()
	d.meta(&svc.ObjectMeta)
	d.labelLines(0, "Labels", svc.Labels, "=")
	d.labelLines(0, "Annotations", svc.Annotations, ": ")
	d.line(0, "Selector:\t%s", labels.FormatLabels(svc.Spec.Selector))
	typ := svc.Spec.Type
	if typ == "" {
		typ = api.ServiceTypeClusterIP
	}
	d.line(0, "Type:\t%s", typ)
	d.line(0, "IP:\t%s", orNone(svc.Spec.ClusterIP))
	for _, sp := range svc.Spec.Ports {
		name := sp.Name
		if name == "" {
			name = "<unset>"
		}
		proto := sp.Protocol
		if proto == "" {
			proto = "TCP"
		}
		target := sp.TargetPort
		if target.IsZero() {
			target = api.FromInt(int(sp.Port))
		}
		d.line(0, "Port:\t%s  %d/%s", name, sp.Port, proto)
		d.line(0, "TargetPort:\t%s/%s", target.String(), proto)
		if sp.NodePort != 0 {
			d.line(0, "NodePort:\t%s  %d/%s", name, sp.NodePort, proto)
			host := p.opts.Address
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			d.line(0, "URL:\thttp://%s", net.JoinHostPort(host, strconv.Itoa(int(sp.NodePort))))
		}
	}
	ready, notReady := endpointLines(ep)
	if len(ready) == 0 {
		d.line(0, "Endpoints:\t<none>")
	}
	for i, l := range ready {
		if i == 0 {
			d.line(0, "Endpoints:\t%s", l)
		} else {
			d.line(0, "\t%s", l)
		}
	}
	for i, l := range notReady {
		if i == 0 {
			d.line(0, "Not Ready Endpoints:\t%s", l)
		} else {
			d.line(0, "\t%s", l)
		}
	}
	affinity := svc.Spec.SessionAffinity
	if affinity == "" {
		affinity = "None"
	}
	d.line(0, "Session Affinity:\t%s", affinity)
	d.events(events)
	return d.flush()
}

// endpointLines prints each address as "ip:port (pod)".
func endpointLines(ep *api.Endpoints) (ready, notReady []string) {
	if ep == nil {
		return nil, nil
	}
	format := func(a api.EndpointAddress, port *api.EndpointPort) string {
		s := a.IP
		if port != nil {
			s = net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port)))
		}
		if a.TargetRef != nil && a.TargetRef.Name != "" {
			s += " (" + a.TargetRef.Name + ")"
		}
		return s
	}
	for _, ss := range ep.Subsets {
		ports := []*api.EndpointPort{nil}
		if len(ss.Ports) > 0 {
			ports = ports[:0]
			for i := range ss.Ports {
				ports = append(ports, &ss.Ports[i])
			}
		}
		for _, port := range ports {
			for _, a := range ss.Addresses {
				ready = append(ready, format(a, port))
			}
			for _, a := range ss.NotReadyAddresses {
				notReady = append(notReady, format(a, port))
			}
		}
	}
	return ready, notReady
}

// DescribeRollingUpdate prints a legacy rolling update and its log.
func (p *Printer) DescribeRollingUpdate(ru *api.RollingUpdate) error {
	d := p.describer()
	d.meta(&ru.ObjectMeta)
	d.line(0, "From:\t%s", ru.Spec.From)
	d.line(0, "To:\t%s", orNone(ru.Spec.To))
	d.line(0, "Image:\t%s", orNone(ru.Spec.Image))
	d.line(0, "Phase:\t%s", orNone(ru.Status.Phase))
	d.line(0, "Started:\t%s", d.timestamp(ru.CreationTimestamp))
	if err := d.flush(); err != nil {
		return err
	}
	fmt.Fprintln(p.w, "Progress:")
	for _, l := range ru.Status.Lines {
		fmt.Fprintln(p.w, "  "+l)
	}
	return nil
}

// DescribeObject prints a kind with no describer of its own as YAML.
func (p *Printer) DescribeObject(obj api.Object) error {
	b, err := api.ToYAML(obj)
	if err != nil {
		return err
	}
	_, err = p.w.Write(b)
	return err
}

// History prints `rollout history`: REVISION  CHANGE-CAUSE, kubectl's two
// spaces apart.
func (p *Printer) History(revs []server.RevisionInfo) error {
	tw := tabwriter.NewWriter(p.w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE")
	for _, r := range revs {
		fmt.Fprintf(tw, "%d\t%s\n", r.Revision, orNone(r.ChangeCause))
	}
	return tw.Flush()
}

// Plan prints the steps of `rollout plan`.
func (p *Printer) Plan(steps []server.PlanStep) error {
	cols := newColumns(p.w)
	cols.add([]string{"STEP", "ACTION", "OLD", "NEW", "AVAILABLE", "TOTAL"})
	for _, s := range steps {
		cols.add([]string{strconv.Itoa(s.Step), s.Action, i32(s.Old), i32(s.New), i32(s.Available), i32(s.Total)})
	}
	return cols.flush()
}
