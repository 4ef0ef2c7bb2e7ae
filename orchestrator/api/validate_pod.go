package api

import "strings"

// Validation of the pod template shared by every workload kind: its
// containers, ports, probes and resources.

func validatePodTemplate(errs *fieldErrors, t *PodTemplateSpec, path string) {
	validateLabels(errs, t.Labels, child(path, "metadata", "labels"))
	validateAnnotations(errs, t.Annotations, child(path, "metadata", "annotations"))
	validatePodSpec(errs, &t.Spec, child(path, "spec"))
}

func validatePodSpec(errs *fieldErrors, s *PodSpec, path string) {
	cpath := child(path, "containers")
	switch n := len(s.Containers); {
	case n == 0:
		errs.required(cpath, "")
	case n > 1:
		*errs = append(*errs, FieldError{Path: cpath, Type: ErrorTypeTooMany, Value: n,
			Detail: "mini-deploy runs one container per pod"})
	}
	for i := range s.Containers {
		validateContainer(errs, &s.Containers[i], index(cpath, i))
	}
	if s.RestartPolicy != "" && s.RestartPolicy != RestartPolicyAlways {
		errs.notSupported(child(path, "restartPolicy"), s.RestartPolicy, RestartPolicyAlways)
	}
	if s.TerminationGracePeriodSeconds != nil {
		nonNegative(errs, child(path, "terminationGracePeriodSeconds"), *s.TerminationGracePeriodSeconds)
	}
	if s.Hostname != "" {
		errs.each(child(path, "hostname"), s.Hostname, IsDNS1123Label(s.Hostname))
	}
}

func validateContainer(errs *fieldErrors, c *Container, path string) {
	if c.Name == "" {
		errs.required(child(path, "name"), "")
	} else {
		errs.each(child(path, "name"), c.Name, IsDNS1123Label(c.Name))
	}
	switch {
	case strings.TrimSpace(c.Image) == "":
		errs.required(child(path, "image"), "")
	case strings.TrimSpace(c.Image) != c.Image:
		errs.invalid(child(path, "image"), c.Image, "must not have leading or trailing whitespace")
	}
	switch c.ImagePullPolicy {
	case "", PullAlways, PullIfNotPresent, PullNever:
	default:
		errs.notSupported(child(path, "imagePullPolicy"), c.ImagePullPolicy, PullAlways, PullIfNotPresent, PullNever)
	}
	if c.Resources != nil {
		validateResources(errs, c.Resources, child(path, "resources"))
	}
	names := map[string]bool{}
	for i, p := range c.Ports {
		pp := index(child(path, "ports"), i)
		errs.each(child(pp, "containerPort"), p.ContainerPort, IsValidPortNum(int(p.ContainerPort)))
		if p.Name != "" {
			errs.each(child(pp, "name"), p.Name, IsValidPortName(p.Name))
			if names[p.Name] {
				errs.duplicate(child(pp, "name"), p.Name)
			}
			names[p.Name] = true
		}
		validateProtocol(errs, child(pp, "protocol"), p.Protocol)
	}
	for i, e := range c.Env {
		ep := child(index(child(path, "env"), i), "name")
		if e.Name == "" {
			errs.required(ep, "")
		} else {
			errs.each(ep, e.Name, IsEnvVarName(e.Name))
		}
	}
	validateProbe(errs, c.ReadinessProbe, c, child(path, "readinessProbe"), false)
	validateProbe(errs, c.LivenessProbe, c, child(path, "livenessProbe"), true)
}

// validateProtocol accepts TCP only: Services are HTTP reverse proxies.
func validateProtocol(errs *fieldErrors, path, protocol string) {
	if protocol != "" && protocol != ProtocolTCP {
		errs.notSupported(path, protocol, ProtocolTCP)
	}
}

func validateProbe(errs *fieldErrors, p *Probe, c *Container, path string, liveness bool) {
	if p == nil {
		return
	}
	handlers := 0
	if p.Exec != nil {
		handlers++
		if len(p.Exec.Command) == 0 {
			errs.required(child(path, "exec", "command"), "")
		}
	}
	if g := p.HTTPGet; g != nil {
		handlers++
		validateProbePort(errs, child(path, "httpGet", "port"), g.Port, c)
		if g.Scheme != "" && g.Scheme != URISchemeHTTP && g.Scheme != URISchemeHTTPS {
			errs.notSupported(child(path, "httpGet", "scheme"), g.Scheme, URISchemeHTTP, URISchemeHTTPS)
		}
		for i, h := range g.HTTPHeaders {
			if h.Name == "" {
				errs.required(child(index(child(path, "httpGet", "httpHeaders"), i), "name"), "")
			}
		}
	}
	if t := p.TCPSocket; t != nil {
		handlers++
		validateProbePort(errs, child(path, "tcpSocket", "port"), t.Port, c)
	}
	switch {
	case handlers == 0:
		errs.required(path, "must specify a handler type")
	case handlers > 1:
		errs.forbidden(path, "may not specify more than 1 handler type")
	}
	nonNegative(errs, child(path, "initialDelaySeconds"), int64(p.InitialDelaySeconds))
	// Zero means "unset" and SetDefaults replaces it; only a negative value
	// can reach here below 1.
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.v < 0 {
			errs.invalid(child(path, f.name), f.v, "must be greater than or equal to 1")
		}
	}
	if liveness && p.SuccessThreshold != 0 && p.SuccessThreshold != 1 {
		errs.invalid(child(path, "successThreshold"), p.SuccessThreshold, "must be 1")
	}
}

// validateProbePort checks a probe's port, and that a named one is declared
// by the container: Kubernetes only finds out when the probe runs and fails
// for ever, which on one machine is a rollout that never finishes.
func validateProbePort(errs *fieldErrors, path string, port IntOrString, c *Container) {
	if !port.IsString {
		errs.each(path, port, IsValidPortNum(int(port.IntVal)))
		return
	}
	if reasons := IsValidPortName(port.StrVal); len(reasons) > 0 {
		errs.each(path, port, reasons)
		return
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return
		}
	}
	errs.invalid(path, port, "the container declares no port of this name")
}
