package diff

// Reasons shared by several cases.
const (
	notRun = "a field mini-deploy does not run is rejected, not silently ignored: " +
		"one machine, one container per pod, no volumes and no scheduling"
	podHostname = "a pod's name is its container's hostname, a DNS label of at most 63 characters, " +
		"so an owner's name must leave room for the suffixes (Deployment 46, ReplicaSet/RC 57, no dots)"
	tcpOnly = "Services are HTTP reverse proxies: TCP only"
)

// validationDifferences are the corpus cases where mini-deploy's verdict
// differs from the API server's on purpose, with the reason. The README's
// "Moving to a cluster" table says the same.
var validationDifferences = map[string]string{
	"volumes":                             notRun,
	"nodeSelector":                        notRun,
	"two containers":                      notRun,
	"UDP container port":                  tcpOnly,
	"UDP service port":                    tcpOnly,
	"sessionAffinity ClientIP":            "the proxy balances each request; it keeps no client affinity",
	"service type ExternalName":           "there is no cluster DNS: a Service here is a proxy on a port",
	"probe on undeclared named port":      "Kubernetes accepts it and the probe then fails for ever, a rollout that never finishes; mini-deploy says so at apply",
	"auto-rollback annotation not a bool": "mini-deploy's own annotation: a cluster ignores it, mini-deploy acts on it and checks it",
	"deployment name 47 chars":            podHostname,
	"replicaset name 58 chars":            podHostname,
	"deployment name with dots":           podHostname,
	"image with trailing space":           "the engine cannot parse an image name with spaces; Kubernetes accepts it and the pod then fails to pull",
	"grace period negative":               "Kubernetes accepts it only for compatibility, with a warning that it is invalid, and treats it as 1",
	"service nodePort out of range": "not mini-deploy's: kube-apiserver checks a node port's range when it allocates it, " +
		"which a dry run skips; a real create rejects it as mini-deploy does",
}

// rolloutDifferences are the rollout scenarios where mini-deploy's steps
// differ from kube-controller-manager's on purpose, with the reason.
var rolloutDifferences = map[string]string{}
