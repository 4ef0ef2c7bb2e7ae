package api

import (
	"strings"
	"testing"
)

func TestToYAMLAndJSON(t *testing.T) {
	objs, err := DecodeManifests("seed-v1.yaml", readTestdata(t, "seed-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc := objs[1]
	SetDefaults(svc)
	y, err := ToYAML(svc)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: Service
metadata:
  creationTimestamp: null
  name: kubia
  namespace: default
spec:
  ports:
    - port: 80
      protocol: TCP
      targetPort: 8080
  selector:
    app: kubia
  sessionAffinity: None
  type: NodePort
status:
  loadBalancer: {}
`
	if string(y) != want {
		t.Errorf("ToYAML:\n%s\nwant:\n%s", y, want)
	}

	// What ToYAML prints decodes back to the same object.
	back, err := DecodeManifests("out.yaml", y)
	if err != nil {
		t.Fatal(err)
	}
	y2, _ := ToYAML(back[0])
	if string(y2) != string(y) {
		t.Errorf("round trip:\n%s\nvs\n%s", y2, y)
	}

	j, err := ToJSON(NewList(objs[:1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"List\",\n    \"items\": [", `"replicas": 3`, "\n}\n"} {
		if !strings.Contains(string(j), s) {
			t.Errorf("ToJSON lacks %q:\n%s", s, j)
		}
	}
	l, err := ToYAML(NewList(nil))
	if err != nil || string(l) != "apiVersion: v1\nitems: []\nkind: List\n" {
		t.Errorf("empty list: %q %v", l, err)
	}
}

func TestToYAMLKeepsNumbersAndStrings(t *testing.T) {
	y, err := ToYAML(map[string]any{"big": 1000000, "ratio": 0.5, "version": "1", "flag": "true"})
	if err != nil {
		t.Fatal(err)
	}
	want := "big: 1000000\nflag: \"true\"\nratio: 0.5\nversion: \"1\"\n"
	if string(y) != want {
		t.Errorf("got\n%s\nwant\n%s", y, want)
	}
}
