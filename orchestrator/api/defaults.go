package api

import "strings"

// Defaults, as Kubernetes sets them, so that `get -o yaml` shows the same
// object a cluster would and controllers never have to guess.
const (
	DefaultReplicas                      = 1
	DefaultRevisionHistoryLimit          = 10
	DefaultProgressDeadlineSeconds       = 600
	DefaultMaxSurge                      = "25%"
	DefaultMaxUnavailable                = "25%"
	DefaultTerminationGracePeriodSeconds = 30
	DefaultProbeTimeoutSeconds           = 1
	DefaultProbePeriodSeconds            = 10
	DefaultProbeSuccessThreshold         = 1
	DefaultProbeFailureThreshold         = 3

	ProtocolTCP                = "TCP"
	RestartPolicyAlways        = "Always"
	PullAlways                 = "Always"
	PullIfNotPresent           = "IfNotPresent"
	PullNever                  = "Never"
	URISchemeHTTP              = "HTTP"
	URISchemeHTTPS             = "HTTPS"
	ServiceAffinityNone        = "None"
	ServiceAffinityClientIP    = "ClientIP"
	defaultHTTPGetPath         = "/"
	defaultImageTagWhenMissing = "latest"
)

// SetDefaults fills what a manifest left out, in place. It runs before
// Validate, as on a Kubernetes API server, and is idempotent: a stored
// object defaulted again is unchanged.
func SetDefaults(obj Object) {
	m := obj.Meta()
	if m.Namespace == "" {
		m.Namespace = DefaultNamespace
	}
	switch o := obj.(type) {
	case *ReplicationController:
		setReplicas(&o.Spec.Replicas)
		if o.Spec.Template != nil {
			setPodTemplateDefaults(o.Spec.Template)
			// An RC without a selector selects its own pods, and without
			// labels of its own wears its pods' labels: Kubernetes' v1 rule,
			// which is why the seed's RC names no selector.
			if len(o.Spec.Selector) == 0 && len(o.Spec.Template.Labels) > 0 {
				o.Spec.Selector = copyMap(o.Spec.Template.Labels)
			}
			if len(o.Labels) == 0 && len(o.Spec.Template.Labels) > 0 {
				o.Labels = copyMap(o.Spec.Template.Labels)
			}
		}
	case *ReplicaSet:
		setReplicas(&o.Spec.Replicas)
		setPodTemplateDefaults(&o.Spec.Template)
	case *Deployment:
		setDeploymentDefaults(&o.Spec)
	case *Service:
		setServiceDefaults(&o.Spec)
	}
}

func setReplicas(r **int32) {
	if *r == nil {
		n := int32(DefaultReplicas)
		*r = &n
	}
}

func setDeploymentDefaults(s *DeploymentSpec) {
	setReplicas(&s.Replicas)
	if s.Strategy.Type == "" {
		s.Strategy.Type = RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &RollingUpdateDeployment{}
		}
		ru := s.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			v := FromString(DefaultMaxUnavailable)
			ru.MaxUnavailable = &v
		}
		if ru.MaxSurge == nil {
			v := FromString(DefaultMaxSurge)
			ru.MaxSurge = &v
		}
	}
	if s.RevisionHistoryLimit == nil {
		n := int32(DefaultRevisionHistoryLimit)
		s.RevisionHistoryLimit = &n
	}
	if s.ProgressDeadlineSeconds == nil {
		n := int32(DefaultProgressDeadlineSeconds)
		s.ProgressDeadlineSeconds = &n
	}
	setPodTemplateDefaults(&s.Template)
}

func setServiceDefaults(s *ServiceSpec) {
	if s.Type == "" {
		s.Type = ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = ServiceAffinityNone
	}
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.TargetPort.IsZero() || (p.TargetPort.IsString && p.TargetPort.StrVal == "") {
			p.TargetPort = FromInt(int(p.Port))
		}
	}
}

func setPodTemplateDefaults(t *PodTemplateSpec) {
	s := &t.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		n := int64(DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &n
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		if c.ImagePullPolicy == "" {
			// Stored for fidelity with Kubernetes; mini-deploy never pulls.
			if imageTag(c.Image) == defaultImageTagWhenMissing {
				c.ImagePullPolicy = PullAlways
			} else {
				c.ImagePullPolicy = PullIfNotPresent
			}
		}
		for j := range c.Ports {
			if c.Ports[j].Protocol == "" {
				c.Ports[j].Protocol = ProtocolTCP
			}
		}
		setProbeDefaults(c.ReadinessProbe)
		setProbeDefaults(c.LivenessProbe)
		if r := c.Resources; r != nil {
			for name, limit := range r.Limits {
				// An invalid limit is validation's to report, once.
				if _, err := ParseQuantity(string(limit)); err != nil || !knownResource(name) {
					continue
				}
				if _, ok := r.Requests[name]; !ok {
					if r.Requests == nil {
						r.Requests = map[string]Quantity{}
					}
					r.Requests[name] = limit
				}
			}
		}
	}
}

func setProbeDefaults(p *Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = DefaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = DefaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultProbeFailureThreshold
	}
	if g := p.HTTPGet; g != nil {
		if g.Path == "" {
			g.Path = defaultHTTPGetPath
		}
		if g.Scheme == "" {
			g.Scheme = URISchemeHTTP
		}
	}
}

// imageTag returns an image reference's tag: "latest" when none is written,
// "" when it is pinned by digest, as Kubernetes decides the pull policy.
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return defaultImageTagWhenMissing
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
