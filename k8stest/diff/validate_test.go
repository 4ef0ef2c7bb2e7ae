package diff

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/k8stest"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"
)

// verdict is what one side said about one manifest: accepted, or rejected
// naming these field paths.
type verdict struct {
	ok    bool
	paths []string
	msg   string
}

func (v verdict) String() string {
	if v.ok {
		return "accepted"
	}
	return "rejected at " + strings.Join(v.paths, ", ") + " (" + api.Truncate(v.msg, 300) + ")"
}

// miniVerdict puts a manifest through what `mini-deploy apply` does before
// storing: strict decode, defaults, validation.
func miniVerdict(doc string) verdict {
	objs, err := api.DecodeManifests("case.yaml", []byte(doc))
	if err == nil {
		for _, o := range objs {
			api.SetDefaults(o)
		}
		err = api.ValidateApply(objs)
	}
	if err == nil {
		return verdict{ok: true}
	}
	v := verdict{msg: err.Error()}
	var walk func(error)
	walk = func(err error) {
		var de *api.DecodeError
		var ve *api.ValidationError
		switch {
		case errors.As(err, &de):
			v.paths = append(v.paths, de.Path)
		case errors.As(err, &ve):
			for _, fe := range ve.Errors {
				v.paths = append(v.paths, fe.Path)
			}
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			walk(e)
		}
	} else {
		walk(err)
	}
	return v.normal()
}

// resources maps a manifest's kind to where the API server serves it.
var resources = map[string]string{
	"Deployment":            "/apis/apps/v1/namespaces/%s/deployments",
	"ReplicaSet":            "/apis/apps/v1/namespaces/%s/replicasets",
	"ReplicationController": "/api/v1/namespaces/%s/replicationcontrollers",
	"Service":               "/api/v1/namespaces/%s/services",
}

var (
	// The strict decoder names the field in its message, not in causes.
	unknownFieldRE = regexp.MustCompile(`(?:unknown|duplicate) field "([^"]+)"`)
	typeErrorRE    = regexp.MustCompile(`Go struct field [A-Za-z0-9]+\.([^ ]+) of type`)
)

// kubeVerdict sends a manifest to the real API server as `kubectl apply
// --dry-run=server --validate=strict` sends a new object: a create with
// dryRun=All and fieldValidation=Strict, nothing stored.
func kubeVerdict(ctx context.Context, cp *k8stest.ControlPlane, ns, doc string) verdict {
	var head struct{ Kind string }
	_ = yaml.Unmarshal([]byte(doc), &head)
	path, ok := resources[head.Kind]
	if !ok {
		return verdict{msg: "no resource for kind " + head.Kind, paths: []string{"kind"}}
	}
	err := cp.Client.CoreV1().RESTClient().Post().
		AbsPath(strings.Replace(path, "%s", ns, 1)).
		Param("dryRun", "All").
		Param("fieldValidation", "Strict").
		// The YAML as written, so that the server's strict decoder sees
		// duplicate keys too, as it does for kubectl.
		SetHeader("Content-Type", "application/yaml").
		Body([]byte(doc)).
		Do(ctx).Error()
	if err == nil {
		return verdict{ok: true}
	}
	v := verdict{msg: err.Error()}
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Details != nil {
		for _, c := range se.ErrStatus.Details.Causes {
			if c.Field != "" {
				v.paths = append(v.paths, c.Field)
			}
		}
	}
	for _, m := range unknownFieldRE.FindAllStringSubmatch(v.msg, -1) {
		v.paths = append(v.paths, m[1])
	}
	for _, m := range typeErrorRE.FindAllStringSubmatch(v.msg, -1) {
		v.paths = append(v.paths, m[1])
	}
	return v.normal()
}

// normal sorts and de-duplicates the paths, and drops the label or
// annotation key some errors append to a map's path, so that both sides name
// fields alike.
func (v verdict) normal() verdict {
	var out []string
	for _, p := range v.paths {
		if i := strings.Index(p, "labels"); i >= 0 {
			p = p[:i+len("labels")]
		}
		if i := strings.Index(p, "annotations"); i >= 0 {
			p = p[:i+len("annotations")]
		}
		if i := strings.Index(p, ".matchLabels"); i >= 0 {
			p = p[:i+len(".matchLabels")]
		}
		out = append(out, p)
	}
	sort.Strings(out)
	v.paths = slices.Compact(out)
	return v
}

var (
	indexRE = regexp.MustCompile(`\[[0-9]+\]`)
	keyRE   = regexp.MustCompile(`\[([^\]0-9][^\]]*)\]`)
)

// canonical writes a field path one way for comparing: map keys as fields
// (limits[memory] is limits.memory), and the template's labels under
// metadata, where the YAML has them (the API server says spec.template.labels).
func canonical(p string) string {
	p = strings.NewReplacer("spec.template.labels", "spec.template.metadata.labels").Replace(p)
	return keyRE.ReplaceAllString(p, ".$1")
}

// samePlace says whether two field paths point at the same field, or one at
// a field inside the other: the API server names spec.strategy where
// mini-deploy names spec.strategy.type. A decoder's type error names the
// path without list indexes, so those compare without them too.
func samePlace(mini, kube string) bool {
	mini, kube = canonical(mini), canonical(kube)
	if !strings.Contains(kube, "[") {
		mini = indexRE.ReplaceAllString(mini, "")
	}
	under := func(a, b string) bool { return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") }
	return under(mini, kube) || under(kube, mini)
}

// agree says whether two verdicts agree: the same verdict and, for a
// rejection, a field both name (each may name more: the API server checks
// fields mini-deploy does not have, and says "the selector" where
// mini-deploy says "the template's labels do not match it"). A rejection
// whose message names no field at all (a quantity the decoder cannot
// parse) agrees with any path.
func agree(mini, kube verdict) bool {
	if mini.ok || kube.ok {
		return mini.ok == kube.ok
	}
	if len(kube.paths) == 0 {
		return true
	}
	for _, p := range mini.paths {
		for _, q := range kube.paths {
			if samePlace(p, q) {
				return true
			}
		}
	}
	return false
}

// TestValidationMatchesAPIServer sends every manifest of the corpus through
// mini-deploy's decode and validation and through the real API server's
// strict dry run, and requires the same verdict and the same field paths,
// except for the differences listed in validationDifferences, which must
// still differ (a listed difference that went away fails too, so the list
// and the README stay true).
func TestValidationMatchesAPIServer(t *testing.T) {
	cp := k8stest.Shared(t)
	ns := cp.Namespace(t)
	ctx := context.Background()
	cases := corpus(t)
	if len(cases) < 60 {
		t.Fatalf("the corpus has %d manifests; the issue asks for at least 60", len(cases))
	}
	seen := map[string]bool{}
	accepted, rejected := 0, 0
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		mini := miniVerdict(c.yaml)
		kube := kubeVerdict(ctx, cp, ns, c.yaml)
		if kube.ok {
			accepted++
		} else {
			rejected++
		}
		why, listed := validationDifferences[c.name]
		switch {
		case agree(mini, kube) && listed:
			t.Errorf("%s: listed as a difference (%s), but both sides agree now: %s; remove it from validationDifferences and the README",
				c.name, why, kube)
		case !agree(mini, kube) && !listed:
			t.Errorf("%s: mini-deploy %s\n\tkube-apiserver %s\n%s", c.name, mini, kube, c.yaml)
		case listed:
			t.Logf("%s: differs on purpose (%s): mini-deploy %s; kube-apiserver %s", c.name, why, mini, kube)
		}
	}
	t.Logf("%d manifests: the API server accepted %d and rejected %d", len(cases), accepted, rejected)
}
