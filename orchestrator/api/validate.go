package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Validation follows Kubernetes' rules and wording, so that a manifest
// mini-deploy accepts is one a cluster accepts too, and a mistake reads the
// same as it would there. Where mini-deploy runs less than Kubernetes (one
// container per pod, TCP only, restartPolicy Always) it says so in the error
// rather than accepting a field it would then ignore.

const (
	// maxPodOwnerNameLength bounds ReplicationController and ReplicaSet
	// names. Kubernetes allows 253 characters, but a pod here is a container
	// whose hostname is its name, `<owner>-xxxxx`, and a hostname is a DNS
	// label of at most 63: 63 - len("-xxxxx") = 57.
	maxPodOwnerNameLength = DNS1123LabelMaxLength - 6
	// maxDeploymentNameLength leaves room for both suffixes of a
	// Deployment's pods, `<deployment>-<hash>-xxxxx`, where the
	// pod-template-hash has up to 10 characters: 57 - len("-") - 10 = 46.
	maxDeploymentNameLength = maxPodOwnerNameLength - 11
)

// Validate checks one object, already defaulted by SetDefaults, and returns
// a *ValidationError listing every problem, or nil.
func Validate(obj Object) error {
	var errs fieldErrors
	switch o := obj.(type) {
	case *ReplicationController:
		validateMeta(&errs, &o.ObjectMeta, validateOwnerName(maxPodOwnerNameLength))
		validateRCSpec(&errs, &o.Spec)
	case *ReplicaSet:
		validateMeta(&errs, &o.ObjectMeta, validateOwnerName(maxPodOwnerNameLength))
		validateRSSpec(&errs, &o.Spec)
	case *Deployment:
		validateMeta(&errs, &o.ObjectMeta, validateOwnerName(maxDeploymentNameLength))
		validateDeploymentSpec(&errs, &o.Spec)
	case *Service:
		// An RFC 1123 label, as Kubernetes 1.37 has it (it relaxed
		// DNS-1035: a name may start with a digit); k8stest/diff checks.
		validateMeta(&errs, &o.ObjectMeta, func(errs *fieldErrors, path, name string) {
			errs.each(path, name, IsDNS1123Label(name))
		})
		validateServiceSpec(&errs, &o.Spec)
	default:
		validateMeta(&errs, obj.Meta(), func(errs *fieldErrors, path, name string) {
			errs.each(path, name, IsDNS1123Subdomain(name))
		})
	}
	if len(errs) == 0 {
		// Each field within its bounds, the object may still be too big
		// to store: a long env value or command, many containers.
		if b, err := json.Marshal(obj); err == nil && len(b) > MaxObjectBytes {
			errs = append(errs, FieldError{Path: "<object>", Type: ErrorTypeTooLong,
				Detail: fmt.Sprintf("the object is %d bytes encoded, and may not be more than %d bytes", len(b), MaxObjectBytes)})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Kind: kindOf(obj), Name: obj.Meta().Name, Errors: errs}
}

// kindOf names obj's kind even when a caller built it without TypeMeta.
func kindOf(obj Object) string {
	if k := obj.GetTypeMeta().Kind; k != "" {
		return k
	}
	switch obj.(type) {
	case *ReplicationController:
		return KindReplicationController
	case *ReplicaSet:
		return KindReplicaSet
	case *Deployment:
		return KindDeployment
	case *Service:
		return KindService
	}
	return fmt.Sprintf("%T", obj)
}

// ValidateApply checks every object of one apply and that no object appears
// twice in it: two documents naming the same object would make the result
// depend on their order, which an all-or-nothing apply must not.
func ValidateApply(objs []Object) error {
	var errs []error
	first := map[Key]int{}
	for i, obj := range objs {
		if err := Validate(obj); err != nil {
			// Read from a file, the error says which file and document, as
			// the decoder's errors do.
			if src, ok := SourceOf(obj); ok {
				err = fmt.Errorf("%s: %w", src, err)
			}
			errs = append(errs, err)
		}
		k := KeyOf(obj)
		j, seen := first[k]
		if !seen {
			first[k] = i
			continue
		}
		what := fmt.Sprintf("%s %q", kindOf(obj), k.Name)
		if k.Namespace != DefaultNamespace {
			what += fmt.Sprintf(" in namespace %q", k.Namespace)
		}
		errs = append(errs, fmt.Errorf("duplicate %s in this apply (%s)", what, positions(objs[j], j, obj, i)))
	}
	return errors.Join(errs...)
}

// positions says where two objects of one apply came from: `documents 1 and
// 3` in one file, both sources in full across files, their places in the
// apply when they were not read from files.
func positions(a Object, i int, b Object, j int) string {
	sa, okA := SourceOf(a)
	sb, okB := SourceOf(b)
	switch {
	case !okA || !okB:
		return fmt.Sprintf("objects %d and %d", i+1, j+1)
	case sa.File != sb.File:
		return sa.String() + " and " + sb.String()
	}
	doc := func(s Source) string {
		if s.Item >= 0 {
			return fmt.Sprintf("%d items[%d]", s.Document, s.Item)
		}
		return strconv.Itoa(s.Document)
	}
	return "documents " + doc(sa) + " and " + doc(sb)
}

type nameValidator func(errs *fieldErrors, path, name string)

// validateOwnerName checks the name of an object that names pods after
// itself: a DNS label short enough that the pod names stay DNS labels.
func validateOwnerName(maxLen int) nameValidator {
	return func(errs *fieldErrors, path, name string) {
		if len(name) > maxLen {
			errs.invalid(path, name, fmt.Sprintf("must be no more than %d characters, so that its pods' names "+
				"(which are their hostnames) stay DNS labels of at most %d", maxLen, DNS1123LabelMaxLength))
		}
		for _, msg := range IsDNS1123Label(name) {
			if msg != maxLenError(DNS1123LabelMaxLength) {
				errs.invalid(path, name, msg)
			}
		}
	}
}

func validateMeta(errs *fieldErrors, m *ObjectMeta, validName nameValidator) {
	if m.Name == "" {
		errs.required("metadata.name", "name is required")
	} else {
		validName(errs, "metadata.name", m.Name)
	}
	if m.Namespace != "" {
		errs.each("metadata.namespace", m.Namespace, IsDNS1123Label(m.Namespace))
	}
	validateLabels(errs, m.Labels, "metadata.labels")
	validateAnnotations(errs, m.Annotations, "metadata.annotations")
}

// Size limits, Kubernetes' own: annotations (keys and values together) of
// one object or template, and the whole object as stored (etcd's request
// limit, which the API server applies to every object).
const (
	MaxAnnotationsBytes = 256 << 10
	MaxObjectBytes      = 1536 << 10
)

func validateAnnotations(errs *fieldErrors, annotations map[string]string, path string) {
	total := 0
	for _, k := range sortedKeys(annotations) {
		errs.each(path, k, IsQualifiedName(strings.ToLower(k)))
		total += len(k) + len(annotations[k])
	}
	if total > MaxAnnotationsBytes {
		errs.tooLong(path, MaxAnnotationsBytes)
	}
	if v, ok := annotations[AnnotationMaxConnections]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			errs.invalid(key(path, AnnotationMaxConnections), v, "must be a positive whole number of connections")
		}
	}
	for _, k := range []string{AnnotationConnectTimeout, AnnotationResponseHeaderTimeout} {
		if v, ok := annotations[k]; ok {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				errs.invalid(key(path, k), v, `must be a positive Go duration such as "500ms" or "10s"`)
			}
		}
	}
	if v, ok := annotations[AnnotationAutoRollback]; ok && v != "true" && v != "false" {
		errs.invalid(key(path, AnnotationAutoRollback), v, `must be "true" or "false"`)
	}
}

func nonNegative(errs *fieldErrors, path string, v int64) {
	if v < 0 {
		errs.invalid(path, v, "must be greater than or equal to 0")
	}
}

func validateReplicas(errs *fieldErrors, replicas *int32) {
	if replicas != nil {
		nonNegative(errs, "spec.replicas", int64(*replicas))
	}
}

// shownLabels prints a missing label map as {} rather than null.
func shownLabels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func validateRCSpec(errs *fieldErrors, s *ReplicationControllerSpec) {
	validateReplicas(errs, s.Replicas)
	nonNegative(errs, "spec.minReadySeconds", int64(s.MinReadySeconds))
	if len(s.Selector) == 0 {
		errs.required("spec.selector", "")
	} else {
		validateLabels(errs, s.Selector, "spec.selector")
	}
	if s.Template == nil {
		errs.required("spec.template", "")
		return
	}
	if len(s.Selector) > 0 && !isSubset(s.Selector, s.Template.Labels) {
		errs.invalid("spec.template.metadata.labels", shownLabels(s.Template.Labels), "selector does not match template labels")
	}
	validatePodTemplate(errs, s.Template, "spec.template")
}

func isSubset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// validateSetSelector checks a ReplicaSet's or Deployment's selector: it is
// required and may not be empty, because an empty one would claim every pod.
func validateSetSelector(errs *fieldErrors, sel *LabelSelector, template *PodTemplateSpec, owner string) {
	if sel == nil {
		errs.required("spec.selector", "")
		return
	}
	*errs = append(*errs, ValidateLabelSelector(sel, "spec.selector")...)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs.invalid("spec.selector", sel, "empty selector is invalid for "+owner)
		return
	}
	if !selectorMatches(sel, template.Labels) {
		errs.invalid("spec.template.metadata.labels", shownLabels(template.Labels), "selector does not match template labels")
	}
}

func validateRSSpec(errs *fieldErrors, s *ReplicaSetSpec) {
	validateReplicas(errs, s.Replicas)
	nonNegative(errs, "spec.minReadySeconds", int64(s.MinReadySeconds))
	validateSetSelector(errs, s.Selector, &s.Template, "replicaset")
	validatePodTemplate(errs, &s.Template, "spec.template")
}

func validateDeploymentSpec(errs *fieldErrors, s *DeploymentSpec) {
	validateReplicas(errs, s.Replicas)
	nonNegative(errs, "spec.minReadySeconds", int64(s.MinReadySeconds))
	validateSetSelector(errs, s.Selector, &s.Template, "deployment")
	validatePodTemplate(errs, &s.Template, "spec.template")
	validateStrategy(errs, &s.Strategy)
	if s.RevisionHistoryLimit != nil {
		nonNegative(errs, "spec.revisionHistoryLimit", int64(*s.RevisionHistoryLimit))
	}
	if s.ProgressDeadlineSeconds != nil {
		p := *s.ProgressDeadlineSeconds
		nonNegative(errs, "spec.progressDeadlineSeconds", int64(p))
		if p >= 0 && p <= s.MinReadySeconds {
			errs.invalid("spec.progressDeadlineSeconds", p, "must be greater than minReadySeconds")
		}
	}
}

var percentRE = regexp.MustCompile(`^[0-9]+%$`)

func validateStrategy(errs *fieldErrors, st *DeploymentStrategy) {
	const path = "spec.strategy"
	switch st.Type {
	case "", RollingUpdateDeploymentStrategyType:
	case RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs.forbidden(child(path, "rollingUpdate"), "may not be specified when strategy type is 'Recreate'")
		}
		return
	default:
		errs.notSupported(child(path, "type"), st.Type, RecreateDeploymentStrategyType, RollingUpdateDeploymentStrategyType)
		return
	}
	ru := st.RollingUpdate
	if ru == nil {
		return
	}
	surgePath := child(path, "rollingUpdate", "maxSurge")
	unavailPath := child(path, "rollingUpdate", "maxUnavailable")
	validateIntOrPercent(errs, surgePath, ru.MaxSurge)
	validateIntOrPercent(errs, unavailPath, ru.MaxUnavailable)
	if v := ru.MaxUnavailable; v != nil && v.IsString && percentRE.MatchString(v.StrVal) {
		if n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%")); n > 100 {
			errs.invalid(unavailPath, *v, "must not be greater than 100%")
		}
	}
	if isZeroIntOrPercent(ru.MaxUnavailable) && isZeroIntOrPercent(ru.MaxSurge) {
		errs.invalid(unavailPath, *ru.MaxUnavailable, "may not be 0 when maxSurge is 0")
	}
}

func validateIntOrPercent(errs *fieldErrors, path string, v *IntOrString) {
	switch {
	case v == nil:
	case v.IsString && !percentRE.MatchString(v.StrVal):
		errs.invalid(path, *v, "must be an integer or a percentage such as '25%'")
	case !v.IsString && v.IntVal < 0:
		errs.invalid(path, *v, "must be greater than or equal to 0")
	}
}

// isZeroIntOrPercent treats 0 and "0%" alike, as Kubernetes does; an unset
// value is not zero, because SetDefaults makes it 25%.
func isZeroIntOrPercent(v *IntOrString) bool {
	if v == nil {
		return false
	}
	if v.IsString {
		return v.StrVal == "0%"
	}
	return v.IntVal == 0
}

const (
	minNodePort = 30000
	maxNodePort = 32767
)

func validateServiceSpec(errs *fieldErrors, s *ServiceSpec) {
	switch s.Type {
	case "", ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer:
	default:
		errs.notSupported("spec.type", s.Type, ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer)
	}
	if s.SessionAffinity != "" && s.SessionAffinity != ServiceAffinityNone {
		errs.notSupported("spec.sessionAffinity", s.SessionAffinity, ServiceAffinityNone)
	}
	validateLabels(errs, s.Selector, "spec.selector")
	if len(s.Ports) == 0 {
		errs.required("spec.ports", "")
	}
	names := map[string]bool{}
	ports := map[int32]bool{}
	nodePorts := map[int32]bool{}
	for i, p := range s.Ports {
		pp := index("spec.ports", i)
		switch {
		case p.Name == "" && len(s.Ports) > 1:
			// kubectl and endpoints tell several ports apart by name.
			errs.required(child(pp, "name"), "")
		case p.Name != "":
			errs.each(child(pp, "name"), p.Name, IsDNS1123Label(p.Name))
			if names[p.Name] {
				errs.duplicate(child(pp, "name"), p.Name)
			}
			names[p.Name] = true
		}
		validateProtocol(errs, child(pp, "protocol"), p.Protocol)
		if reasons := IsValidPortNum(int(p.Port)); len(reasons) > 0 {
			errs.each(child(pp, "port"), p.Port, reasons)
		} else if ports[p.Port] {
			errs.duplicate(child(pp, "port"), p.Port)
		}
		ports[p.Port] = true
		switch tp := p.TargetPort; {
		case tp.IsString:
			errs.each(child(pp, "targetPort"), tp, IsValidPortName(tp.StrVal))
		case tp.IntVal != 0:
			errs.each(child(pp, "targetPort"), tp, IsValidPortNum(int(tp.IntVal)))
		}
		if p.NodePort == 0 {
			continue
		}
		np := child(pp, "nodePort")
		switch {
		case s.Type == "" || s.Type == ServiceTypeClusterIP:
			errs.forbidden(np, "may not be used when type is 'ClusterIP'")
		case p.NodePort < minNodePort || p.NodePort > maxNodePort:
			errs.invalid(np, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", minNodePort, maxNodePort))
		case nodePorts[p.NodePort]:
			errs.duplicate(np, p.NodePort)
		}
		nodePorts[p.NodePort] = true
	}
}
