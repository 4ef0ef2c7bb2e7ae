package printer

import (
	"fmt"
	"maps"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// timeLayout is how describe prints timestamps, as kubectl does.
const timeLayout = time.RFC1123Z

// describer writes kubectl's describe layout: "Key:\tvalue" lines, nested
// by two spaces a level, aligned by one tabwriter over the whole output.
type describer struct {
	p  *Printer
	tw *tabwriter.Writer
}

func (p *Printer) describer() *describer {
	return &describer{p: p, tw: tabwriter.NewWriter(p.w, 0, 8, 2, ' ', 0)}
}

func (d *describer) line(level int, format string, args ...any) {
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format+"\n", args...)
}

func (d *describer) flush() error { return d.tw.Flush() }

// labelLines prints a map one key=value a line, the first on the title's
// line, as kubectl does for Labels and Annotations.
func (d *describer) labelLines(level int, title string, m map[string]string, sep string) {
	if _, ok := m[api.AnnotationLastApplied]; ok {
		// A copy of the manifest, one long line: kubectl leaves it out too.
		m = maps.Clone(m)
		delete(m, api.AnnotationLastApplied)
	}
	if len(m) == 0 {
		d.line(level, "%s:\t<none>", title)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			d.line(level, "%s:\t%s%s%s", title, k, sep, m[k])
		} else {
			d.line(level, "\t%s%s%s", k, sep, m[k])
		}
	}
}

func (d *describer) meta(m *api.ObjectMeta) {
	d.line(0, "Name:\t%s", m.Name)
	d.line(0, "Namespace:\t%s", m.Namespace)
}

func (d *describer) timestamp(t api.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return t.Local().Format(timeLayout)
}

func (d *describer) controlledBy(m *api.ObjectMeta) {
	for _, o := range m.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			d.line(0, "Controlled By:\t%s/%s", o.Kind, o.Name)
			return
		}
	}
}

// events prints the Events table, oldest first.
func (d *describer) events(events []*api.Event) {
	if len(events) == 0 {
		d.line(0, "Events:\t<none>")
		return
	}
	SortEvents(events)
	d.line(0, "Events:")
	d.line(1, "Type\tReason\tAge\tFrom\tMessage")
	d.line(1, "----\t------\t----\t----\t-------")
	for _, e := range events {
		age := d.p.age(EventLastSeen(e))
		if e.Count > 1 && !e.FirstTimestamp.IsZero() {
			age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, d.p.age(e.FirstTimestamp))
		}
		d.line(1, "%s\t%s\t%s\t%s\t%s", e.Type, e.Reason, age, orNone(e.Source.Component), strings.TrimSpace(e.Message))
	}
}

func (d *describer) conditions(conds []api.Condition, withReason bool) {
	if len(conds) == 0 {
		return
	}
	d.line(0, "Conditions:")
	if withReason {
		d.line(1, "Type\tStatus\tReason")
		d.line(1, "----\t------\t------")
	} else {
		d.line(1, "Type\tStatus")
	}
	for _, c := range conds {
		if withReason {
			d.line(1, "%s\t%s\t%s", c.Type, c.Status, c.Reason)
		} else {
			d.line(1, "%s\t%s", c.Type, c.Status)
		}
	}
}

// PodTemplate prints a pod template as describe and `rollout history
// --revision` show it.
func (p *Printer) PodTemplate(t *api.PodTemplateSpec) error {
	d := p.describer()
	d.template(t)
	return d.flush()
}

func (d *describer) template(t *api.PodTemplateSpec) {
	d.line(0, "Pod Template:")
	if t == nil {
		d.line(1, "<none>")
		return
	}
	d.labelLines(1, "Labels", t.Labels, "=")
	if len(t.Annotations) > 0 {
		d.labelLines(1, "Annotations", t.Annotations, ": ")
	}
	d.line(1, "Containers:")
	for _, c := range t.Spec.Containers {
		d.line(1, " %s:", c.Name)
		d.line(2, "Image:\t%s", c.Image)
		d.containerBody(c, true)
	}
}

// containerBody prints what a template says of a container, after Image;
// a pod prints its port before the container's state, so it asks for none.
func (d *describer) containerBody(c api.Container, port bool) {
	if port {
		d.line(2, "Port:\t%s", containerPorts(c.Ports))
	}
	if len(c.Command) > 0 {
		d.line(2, "Command:\t%s", strings.Join(c.Command, " "))
	}
	if len(c.Args) > 0 {
		d.line(2, "Args:\t%s", strings.Join(c.Args, " "))
	}
	if r := c.Resources; r != nil {
		for _, set := range []struct {
			title string
			m     map[string]api.Quantity
		}{{"Limits", r.Limits}, {"Requests", r.Requests}} {
			if len(set.m) == 0 {
				continue
			}
			d.line(2, "%s:", set.title)
			keys := make([]string, 0, len(set.m))
			for k := range set.m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				d.line(3, "%s:\t%s", k, set.m[k])
			}
		}
	}
	if c.LivenessProbe != nil {
		d.line(2, "Liveness:\t%s", Probe(c.LivenessProbe))
	}
	if c.ReadinessProbe != nil {
		d.line(2, "Readiness:\t%s", Probe(c.ReadinessProbe))
	}
	if len(c.Env) == 0 {
		d.line(2, "Environment:\t<none>")
		return
	}
	d.line(2, "Environment:")
	for _, e := range c.Env {
		d.line(3, "%s:\t%s", e.Name, e.Value)
	}
}

func containerPorts(ports []api.ContainerPort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	var parts []string
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		s := fmt.Sprintf("%d/%s", p.ContainerPort, proto)
		if p.Name != "" {
			s += " (" + p.Name + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Probe prints a probe as kubectl does:
// http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3.
func Probe(pr *api.Probe) string {
	var what string
	switch {
	case pr.HTTPGet != nil:
		scheme := strings.ToLower(pr.HTTPGet.Scheme)
		if scheme == "" {
			scheme = "http"
		}
		what = fmt.Sprintf("http-get %s://%s%s", scheme, net.JoinHostPort(pr.HTTPGet.Host, pr.HTTPGet.Port.String()), pr.HTTPGet.Path)
	case pr.TCPSocket != nil:
		what = "tcp-socket " + net.JoinHostPort(pr.TCPSocket.Host, pr.TCPSocket.Port.String())
	case pr.Exec != nil:
		what = "exec [" + strings.Join(pr.Exec.Command, " ") + "]"
	default:
		what = "unknown"
	}
	def := func(v, d int32) int32 {
		if v == 0 {
			return d
		}
		return v
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #success=%d #failure=%d", what,
		pr.InitialDelaySeconds, def(pr.TimeoutSeconds, 1), def(pr.PeriodSeconds, 10),
		def(pr.SuccessThreshold, 1), def(pr.FailureThreshold, 3))
}

// DescribePod prints a pod.
func (p *Printer) DescribePod(pod *api.Pod, events []*api.Event) error {
	d := p.describer()
	d.meta(&pod.ObjectMeta)
	d.line(0, "Node:\t%s", NodeName)
	start := pod.CreationTimestamp
	if pod.Status.StartTime != nil {
		start = *pod.Status.StartTime
	}
	d.line(0, "Start Time:\t%s", d.timestamp(start))
	d.labelLines(0, "Labels", pod.Labels, "=")
	d.labelLines(0, "Annotations", pod.Annotations, ": ")
	d.line(0, "Status:\t%s", PodStatus(pod))
	d.line(0, "IP:\t%s", orNone(pod.Status.PodIP))
	d.controlledBy(&pod.ObjectMeta)
	d.line(0, "Containers:")
	for i, c := range pod.Spec.Containers {
		var cs api.ContainerStatus
		if i < len(pod.Status.ContainerStatuses) {
			cs = pod.Status.ContainerStatuses[i]
		}
		d.line(1, "%s:", c.Name)
		if cs.ContainerID != "" {
			d.line(2, "Container ID:\t%s", cs.ContainerID)
		}
		d.line(2, "Image:\t%s", c.Image)
		d.line(2, "Port:\t%s", containerPorts(c.Ports))
		d.state(2, "State", cs.State)
		if cs.LastState.Terminated != nil {
			d.state(2, "Last State", cs.LastState)
		}
		d.line(2, "Ready:\t%s", titleBool(cs.Ready))
		d.line(2, "Restart Count:\t%d", cs.RestartCount)
		d.containerBody(c, false)
	}
	d.conditions(pod.Status.Conditions, false)
	d.events(events)
	return d.flush()
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func (d *describer) state(level int, title string, st api.ContainerState) {
	switch {
	case st.Running != nil:
		d.line(level, "%s:\tRunning", title)
		d.line(level+1, "Started:\t%s", d.timestamp(st.Running.StartedAt))
	case st.Waiting != nil:
		d.line(level, "%s:\tWaiting", title)
		d.line(level+1, "Reason:\t%s", st.Waiting.Reason)
		if st.Waiting.Message != "" {
			d.line(level+1, "Message:\t%s", st.Waiting.Message)
		}
	case st.Terminated != nil:
		d.line(level, "%s:\tTerminated", title)
		d.line(level+1, "Reason:\t%s", orNone(st.Terminated.Reason))
		d.line(level+1, "Exit Code:\t%d", st.Terminated.ExitCode)
		d.line(level+1, "Started:\t%s", d.timestamp(st.Terminated.StartedAt))
		d.line(level+1, "Finished:\t%s", d.timestamp(st.Terminated.FinishedAt))
	default:
		d.line(level, "%s:\tWaiting", title)
	}
}

// PodsStatus is the `Pods Status:` line of a ReplicaSet or
// ReplicationController: 3 Running / 0 Waiting / 0 Succeeded / 0 Failed.
func PodsStatus(pods []*api.Pod) string {
	var running, waiting, succeeded, failed int
	for _, p := range pods {
		switch p.Status.Phase {
		case "Running":
			running++
		case "Succeeded":
			succeeded++
		case "Failed":
			failed++
		default:
			waiting++
		}
	}
	return fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed", running, waiting, succeeded, failed)
}
