package api

import (
	"regexp"
	"strings"
	"testing"
)

// prepared decodes one manifest, defaults and validates it, as an apply does.
// sourcePrefix is where ValidateApply says an invalid object came from.
var sourcePrefix = regexp.MustCompile(`(?m)^kubia\.yaml: document \d+: `)

func prepared(t *testing.T, y string) error {
	t.Helper()
	objs, err := DecodeManifests("kubia.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		SetDefaults(o)
	}
	return ValidateApply(objs)
}

const deployBase = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    matchLabels:
      app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v1
        name: nodejs
`

const svcBase = `apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
`

func TestValidateManifests(t *testing.T) {
	rc := func(old, new string) string { return strings.Replace(rcBase, old, new, 1) }
	deploy := func(old, new string) string { return strings.Replace(deployBase, old, new, 1) }
	svc := func(old, new string) string { return strings.Replace(svcBase, old, new, 1) }
	tests := []struct {
		name string
		yaml string
		want string // "" for valid
	}{
		{"rc valid", rcBase, ""},
		{"deployment valid", deployBase, ""},
		{"service valid", svcBase, ""},
		{
			"selector does not match template labels",
			rc("  replicas: 3", "  replicas: 3\n  selector:\n    app: kubia-v2"),
			`ReplicationController "kubia-bad" is invalid: spec.template.metadata.labels: Invalid value: {"app":"kubia"}: selector does not match template labels`,
		},
		{
			"replicas -1",
			rc("replicas: 3", "replicas: -1"),
			`ReplicationController "kubia-bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
		},
		{
			"no image",
			rc("      - image: luksa/kubia:v1\n        name: nodejs", "      - name: nodejs"),
			`ReplicationController "kubia-bad" is invalid: spec.template.spec.containers[0].image: Required value`,
		},
		{
			"name not a DNS label",
			rc("name: kubia-bad", "name: Kubia_1"),
			`ReplicationController "Kubia_1" is invalid: metadata.name: Invalid value: "Kubia_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
		},
		{
			"name too long for pod names",
			rc("name: kubia-bad", "name: "+strings.Repeat("a", 58)),
			`ReplicationController "` + strings.Repeat("a", 58) + `" is invalid: metadata.name: Invalid value: "` + strings.Repeat("a", 58) + `": must be no more than 57 characters, so that its pods' names (which are their hostnames) stay DNS labels of at most 63`,
		},
		{
			"two containers",
			rc("        name: nodejs", "        name: nodejs\n      - image: redis\n        name: cache"),
			`ReplicationController "kubia-bad" is invalid: spec.template.spec.containers: Too many: 2: mini-deploy runs one container per pod`,
		},
		{
			"no containers",
			rc("      containers:\n      - image: luksa/kubia:v1\n        name: nodejs", "      containers: []"),
			`ReplicationController "kubia-bad" is invalid: spec.template.spec.containers: Required value`,
		},
		{
			"several problems at once",
			rc("replicas: 3", "replicas: -2\n  minReadySeconds: -1"),
			`ReplicationController "kubia-bad" is invalid: [spec.replicas: Invalid value: -2: must be greater than or equal to 0, spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0]`,
		},
		{
			"container name and port",
			rc("        name: nodejs", "        name: Node\n        ports:\n        - containerPort: 70000"),
			`ReplicationController "kubia-bad" is invalid: [spec.template.spec.containers[0].name: Invalid value: "Node": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character, spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive]`,
		},
		{
			"restart policy",
			rc("      containers:", "      restartPolicy: Never\n      containers:"),
			`ReplicationController "kubia-bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`,
		},
		{
			"bad label",
			rc("        app: kubia", "        app: kubia\n        bad key: x"),
			// Defaulting copies the template's labels to the RC and its
			// selector, so all three report it, as Kubernetes would.
			`ReplicationController "kubia-bad" is invalid: [metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, spec.selector: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, spec.template.metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character]`,
		},
		{
			"deployment without selector",
			deploy("  selector:\n    matchLabels:\n      app: kubia\n", ""),
			`Deployment "kubia" is invalid: spec.selector: Required value`,
		},
		{
			"deployment with empty selector",
			deploy("  selector:\n    matchLabels:\n      app: kubia\n", "  selector: {}\n"),
			`Deployment "kubia" is invalid: spec.selector: Invalid value: {}: empty selector is invalid for deployment`,
		},
		{
			"deployment selector mismatch by expression",
			deploy("      app: kubia\n  template", "      app: kubia\n    matchExpressions:\n    - {key: track, operator: Exists}\n  template"),
			`Deployment "kubia" is invalid: spec.template.metadata.labels: Invalid value: {"app":"kubia"}: selector does not match template labels`,
		},
		{
			"deployment selector expression values",
			deploy("      app: kubia\n  template", "      app: kubia\n    matchExpressions:\n    - {key: track, operator: In}\n    - {key: tier, operator: DoesNotExist, values: [db]}\n    - {key: env, operator: Near}\n  template"),
			`Deployment "kubia" is invalid: [spec.selector.matchExpressions[0].values: Required value: must be specified when ` + "`operator`" + ` is 'In' or 'NotIn', spec.selector.matchExpressions[1].values: Forbidden: may not be specified when ` + "`operator`" + ` is 'Exists' or 'DoesNotExist', spec.selector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator, spec.template.metadata.labels: Invalid value: {"app":"kubia"}: selector does not match template labels]`,
		},
		{
			"both zero",
			deploy("  template:", "  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}\n  template:"),
			`Deployment "kubia" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when maxSurge is 0`,
		},
		{
			"bad percentages",
			deploy("  template:", "  strategy:\n    rollingUpdate: {maxSurge: 25, maxUnavailable: 120%}\n  template:"),
			`Deployment "kubia" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%`,
		},
		{
			"not a percentage",
			deploy("  template:", "  strategy:\n    rollingUpdate: {maxSurge: half, maxUnavailable: -1}\n  template:"),
			`Deployment "kubia" is invalid: [spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": must be an integer or a percentage such as '25%', spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0]`,
		},
		{
			"recreate with rollingUpdate",
			deploy("  template:", "  strategy:\n    type: Recreate\n    rollingUpdate: {maxSurge: 1}\n  template:"),
			`Deployment "kubia" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy type is 'Recreate'`,
		},
		{
			"unknown strategy",
			deploy("  template:", "  strategy:\n    type: BlueGreen\n  template:"),
			`Deployment "kubia" is invalid: spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"`,
		},
		{
			"progress deadline",
			deploy("  template:", "  minReadySeconds: 30\n  progressDeadlineSeconds: 30\n  template:"),
			`Deployment "kubia" is invalid: spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds`,
		},
		{
			"deployment name too long",
			deploy("name: kubia", "name: "+strings.Repeat("k", 47)),
			`Deployment "` + strings.Repeat("k", 47) + `" is invalid: metadata.name: Invalid value: "` + strings.Repeat("k", 47) + `": must be no more than 46 characters, so that its pods' names (which are their hostnames) stay DNS labels of at most 63`,
		},
		{
			"probe with two handlers",
			deploy("        name: nodejs", "        name: nodejs\n        readinessProbe:\n          tcpSocket: {port: 8080}\n          exec: {command: [\"true\"]}"),
			`Deployment "kubia" is invalid: spec.template.spec.containers[0].readinessProbe: Forbidden: may not specify more than 1 handler type`,
		},
		{
			"probe without handler, liveness success threshold",
			deploy("        name: nodejs", "        name: nodejs\n        readinessProbe:\n          periodSeconds: -1\n        livenessProbe:\n          httpGet: {port: web}\n          successThreshold: 2"),
			`Deployment "kubia" is invalid: [spec.template.spec.containers[0].readinessProbe: Required value: must specify a handler type, spec.template.spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 1, spec.template.spec.containers[0].livenessProbe.httpGet.port: Invalid value: "web": the container declares no port of this name, spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1]`,
		},
		{
			"service without ports",
			svc("  ports:\n  - port: 80\n    targetPort: 8080\n", "  ports: []\n"),
			`Service "kubia" is invalid: spec.ports: Required value`,
		},
		{
			"service ports",
			svc("  - port: 80\n    targetPort: 8080\n", "  - port: 80\n    name: web\n    nodePort: 80\n  - port: 0\n    name: web\n    protocol: UDP\n"),
			`Service "kubia" is invalid: [spec.ports[0].nodePort: Forbidden: may not be used when type is 'ClusterIP', spec.ports[1].name: Duplicate value: "web", spec.ports[1].protocol: Unsupported value: "UDP": supported values: "TCP", spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive]`,
		},
		{
			"node port range",
			strings.Replace(svc("spec:\n", "spec:\n  type: NodePort\n"), "targetPort: 8080", "targetPort: 8080\n    nodePort: 8080", 1),
			`Service "kubia" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767`,
		},
		{
			"service name is an RFC 1123 label",
			svc("name: kubia", "name: kubia.web"),
			`Service "kubia.web" is invalid: metadata.name: Invalid value: "kubia.web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
		},
		{
			"resources valid",
			deploy("        name: nodejs", "        name: nodejs\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n          requests: {cpu: \"0.1\", ephemeral-storage: 1G}"),
			"",
		},
		{
			"quantities as plain numbers",
			deploy("        name: nodejs", "        name: nodejs\n        resources:\n          limits: {cpu: 2, memory: 1073741824}\n          requests: {cpu: 0.5}"),
			"",
		},
		{
			"resource the engine cannot give",
			deploy("        name: nodejs", "        name: nodejs\n        resources:\n          limits: {nvidia.com/gpu: \"1\"}"),
			`Deployment "kubia" is invalid: spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: Unsupported value: "nvidia.com/gpu": supported values: "cpu", "memory", "ephemeral-storage"`,
		},
		{
			"quantity not a quantity",
			deploy("        name: nodejs", "        name: nodejs\n        resources:\n          limits: {memory: 12x}"),
			`Deployment "kubia" is invalid: spec.template.spec.containers[0].resources.limits.memory: Invalid value: "12x": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
		},
		{
			"request over limit",
			deploy("        name: nodejs", "        name: nodejs\n        resources:\n          limits: {cpu: 500m}\n          requests: {cpu: \"1\"}"),
			`Deployment "kubia" is invalid: spec.template.spec.containers[0].resources.requests.cpu: Invalid value: "1": must be less than or equal to cpu limit of 500m`,
		},
		{
			"auto-rollback annotation",
			deploy("  name: kubia", "  name: kubia\n  annotations:\n    mini-deploy.io/auto-rollback: \"yes\""),
			`Deployment "kubia" is invalid: metadata.annotations[mini-deploy.io/auto-rollback]: Invalid value: "yes": must be "true" or "false"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := prepared(t, tt.yaml)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want %s", tt.want)
			case tt.want != "" && !strings.HasPrefix(err.Error(), "kubia.yaml: document "):
				t.Errorf("error %q does not name the file and document", err)
			case tt.want != "" && sourcePrefix.ReplaceAllString(err.Error(), "") != tt.want:
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestValidateApplyDuplicates(t *testing.T) {
	y := strings.Replace(rcBase, "kubia-bad", "kubia-v1", 1) + "---\n" + svcBase + "---\n" +
		strings.Replace(rcBase, "kubia-bad", "kubia-v1", 1)
	err := prepared(t, y)
	want := `duplicate ReplicationController "kubia-v1" in this apply (documents 1 and 3)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	// Across files, and for objects that were not read from a file.
	a, _ := DecodeManifests("a.yaml", []byte(svcBase))
	b, _ := DecodeManifests("b.yaml", []byte(svcBase))
	err = ValidateApply(append(a, b...))
	want = `duplicate Service "kubia" in this apply (a.yaml: document 1 and b.yaml: document 1)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	err = ValidateApply([]Object{a[0].DeepCopy(), a[0].DeepCopy()})
	want = `duplicate Service "kubia" in this apply (objects 1 and 2)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	// The same name in different kinds or namespaces is no duplicate.
	other := a[0].DeepCopy()
	other.Meta().Namespace = "test"
	if err := ValidateApply([]Object{a[0], other}); err != nil {
		t.Error(err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	n := int32(-1)
	tests := []struct {
		fe   FieldError
		want string
	}{
		{FieldError{"a", ErrorTypeRequired, nil, ""}, "a: Required value"},
		{FieldError{"a", ErrorTypeRequired, nil, "why"}, "a: Required value: why"},
		{FieldError{"a", ErrorTypeInvalid, &n, "d"}, "a: Invalid value: -1: d"},
		{FieldError{"a", ErrorTypeInvalid, (*int32)(nil), "d"}, "a: Invalid value: null: d"},
		{FieldError{"a", ErrorTypeInvalid, FromString("x"), ""}, `a: Invalid value: "x"`},
		{FieldError{"a", ErrorTypeInvalid, []string{"x"}, "d"}, `a: Invalid value: ["x"]: d`},
		{FieldError{"a", ErrorTypeForbidden, 3, "no"}, "a: Forbidden: no"},
	}
	for _, tt := range tests {
		if got := tt.fe.Error(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

// Sizes have Kubernetes' limits: annotations at most 256 KiB together, an
// object at most 1.5 MiB encoded, whichever field makes it big.
func TestSizeLimits(t *testing.T) {
	decode := func(y string) Object {
		t.Helper()
		objs, err := DecodeManifests("big.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		SetDefaults(objs[0])
		return objs[0]
	}
	big := strings.Repeat("x", MaxAnnotationsBytes)
	for name, tc := range map[string]struct{ yaml, want string }{
		"annotation of 256 KiB plus its key": {
			strings.Replace(deployBase, "metadata:\n", "metadata:\n  annotations: {note: "+big+"}\n", 1),
			"metadata.annotations: Too long: may not be more than 262144 bytes",
		},
		"template annotations": {
			strings.Replace(deployBase, "      labels:", "      annotations: {a: "+big[:MaxAnnotationsBytes/2]+", b: "+big[:MaxAnnotationsBytes/2]+"}\n      labels:", 1),
			"spec.template.metadata.annotations: Too long",
		},
		"a 2 MB env value": {
			deployBase + "        env: [{name: BIG, value: " + strings.Repeat("y", 2<<20) + "}]\n",
			"<object>: Too long: the object is",
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := Validate(decode(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// Just under the bound is fine.
	ok := strings.Replace(deployBase, "metadata:\n", "metadata:\n  annotations: {note: "+big[:MaxAnnotationsBytes-4]+"}\n", 1)
	if err := Validate(decode(ok)); err != nil {
		t.Fatalf("annotations of exactly 256 KiB: %v", err)
	}
}

func TestMaxConnectionsAnnotation(t *testing.T) {
	for v, ok := range map[string]bool{"1": true, "500": true, "0": false, "-3": false, "many": false, "1.5": false} {
		y := strings.Replace(svcBase, "metadata:\n", "metadata:\n  annotations: {mini-deploy.io/max-connections: \""+v+"\"}\n", 1)
		objs, err := DecodeManifests("svc.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		SetDefaults(objs[0])
		err = Validate(objs[0])
		if (err == nil) != ok {
			t.Errorf("max-connections %q: %v", v, err)
		}
	}
}

func TestTimeoutAnnotations(t *testing.T) {
	for v, ok := range map[string]bool{"500ms": true, "10s": true, "0s": false, "-1s": false, "10": false, "soon": false} {
		for _, k := range []string{AnnotationConnectTimeout, AnnotationResponseHeaderTimeout} {
			y := strings.Replace(svcBase, "metadata:\n", "metadata:\n  annotations: {"+k+": \""+v+"\"}\n", 1)
			objs, err := DecodeManifests("svc.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			SetDefaults(objs[0])
			if err := Validate(objs[0]); (err == nil) != ok {
				t.Errorf("%s %q: %v", k, v, err)
			}
		}
	}
}
