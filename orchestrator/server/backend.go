package server

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Backend is the control plane as the API server sees it. The orchestrator
// implements it; tests use a fake. Kinds are the api.Kind* names plus the
// views "Pod" and "Endpoints". Errors wrap api.ErrNotFound, ErrConflict,
// ErrAlreadyExists or an *api.ValidationError, which the server maps to 404,
// 409, 409 and 422.
type Backend interface {
	// Apply creates or updates every object in one transaction: all or nothing.
	Apply(ctx context.Context, objs []api.Object, opts ApplyOptions) ([]ApplyResult, error)
	// Diff says what Apply would do to each object, writing nothing.
	Diff(ctx context.Context, objs []api.Object) ([]DiffResult, error)
	// Update replaces a stored object's spec, labels and annotations; a
	// resourceVersion in obj must be the stored one.
	Update(ctx context.Context, obj api.Object) (api.Object, error)
	Get(ctx context.Context, kind, namespace, name string) (api.Object, error)
	// List returns objects of kind; namespace "" means all; selector is a
	// label selector string ("" means everything).
	List(ctx context.Context, kind, namespace, selector string) ([]api.Object, error)
	// Watch streams changes of kind until ctx ends (for `get -w`).
	Watch(ctx context.Context, kind, namespace, selector string) (<-chan WatchEvent, error)
	Delete(ctx context.Context, kind, namespace, name string, opts DeleteOptions) (api.Object, error)
	Scale(ctx context.Context, kind, namespace, name string, replicas int32) (api.Object, error)
	// SetImage sets container images ("*" names every container) of a
	// Deployment, ReplicaSet or ReplicationController template.
	SetImage(ctx context.Context, kind, namespace, name string, images map[string]string) (api.Object, error)
	// SetSelector replaces a Service's selector; resourceVersion "" means no precondition.
	SetSelector(ctx context.Context, namespace, name string, selector map[string]string, resourceVersion string) (api.Object, error)
	Logs(ctx context.Context, namespace, pod string, opts LogOptions) (io.ReadCloser, error)
	// Exec runs command in a pod's running container and waits for it, as
	// `kubectl exec POD -- COMMAND` does without a terminal.
	// Exec runs command in the pod and streams its output to out as it
	// comes; an error before the command started has written nothing.
	Exec(ctx context.Context, namespace, pod string, command []string, out io.Writer) (ExecResult, error)
	// TopPods samples the CPU and memory use of running pods matching
	// selector (`top pods`).
	TopPods(ctx context.Context, namespace, selector string) ([]PodMetrics, error)
	// PodAddr is where the daemon's host reaches port of a pod's
	// container (port-forward dials it).
	PodAddr(ctx context.Context, namespace, pod string, port int) (string, error)
	// Events lists events, those about one object when ref is not nil.
	Events(ctx context.Context, namespace string, ref *api.ObjectReference) ([]*api.Event, error)
	Rollout(ctx context.Context, req RolloutRequest) (RolloutResponse, error)
	// RollingUpdate starts (or re-attaches to) the legacy RC rolling update.
	RollingUpdate(ctx context.Context, namespace string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error)
	// Info describes the daemon: version, pid, state dir, proxy address, metrics URL.
	Info(ctx context.Context) (Info, error)
	// Down deletes every object and container; the daemon then exits.
	Down(ctx context.Context) error
}

// ApplyOptions tune an apply.
type ApplyOptions struct {
	DryRun      bool   `json:"dryRun,omitempty"`
	ChangeCause string `json:"changeCause,omitempty"` // recorded on Deployments, like --record
}

// ApplyResult says what an apply did to one object, as kubectl prints it:
// `deployment.apps/kubia created|configured|unchanged`.
type ApplyResult struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Action    string `json:"action"` // created, configured, unchanged
}

// DiffResult is one object of a Diff: Live as stored (absent when the
// apply would create it) and Merged as the apply would store it, each an
// object's JSON with its kind.
type DiffResult struct {
	Kind      string          `json:"kind"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Live      json.RawMessage `json:"live,omitempty"`
	Merged    json.RawMessage `json:"merged"`
}

// PodMetrics is one pod's resource use, as `kubectl top pods` shows it.
type PodMetrics struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	CPUMilli    int64  `json:"cpuMilli"`    // thousandths of a core
	MemoryBytes int64  `json:"memoryBytes"` // working set
}

// DeleteOptions tune a delete.
type DeleteOptions struct {
	Cascade string `json:"cascade,omitempty"` // background (default), foreground, orphan
	// GracePeriodSeconds, when set, replaces the pods' own
	// terminationGracePeriodSeconds for this deletion (kubectl's
	// --grace-period, --now, --force). It bounds the drain too.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
}

// LogOptions select a pod's logs.
type LogOptions struct {
	Follow     bool `json:"follow,omitempty"`
	Tail       int  `json:"tail,omitempty"` // 0: all lines; negative: none, only new ones with Follow
	Timestamps bool `json:"timestamps,omitempty"`
}

// ExecRequest is the body of a pod's exec call.
type ExecRequest struct {
	Command []string `json:"command"`
}

// ExecResult is what a command run by Exec did; its output, stdout and
// stderr interleaved, is streamed as the response body, and the exit code
// follows in the trailer ExitCodeTrailer (an error in ErrorTrailer).
type ExecResult struct {
	ExitCode int `json:"exitCode"`
}

// The trailers of an exec response.
const (
	ExitCodeTrailer = "Mini-Deploy-Exit-Code"
	ErrorTrailer    = "Mini-Deploy-Error"
)

// WatchEvent is one change seen by Watch.
type WatchEvent struct {
	Type   string     `json:"type"` // ADDED, MODIFIED, DELETED
	Object api.Object `json:"object"`
}

// Rollout actions.
const (
	RolloutStatus  = "status"
	RolloutHistory = "history"
	RolloutUndo    = "undo"
	RolloutPause   = "pause"
	RolloutResume  = "resume"
	RolloutRestart = "restart"
	RolloutPlan    = "plan"
)

// RolloutRequest is one `rollout` verb on a Deployment.
type RolloutRequest struct {
	Action    string            `json:"action"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Revision  int64             `json:"revision,omitempty"` // history --revision, undo --to-revision
	Images    map[string]string `json:"images,omitempty"`   // plan: the proposed change
	Replicas  *int32            `json:"replicas,omitempty"` // plan: the proposed scale
	Timeout   time.Duration     `json:"timeout,omitempty"`
	// Since, for status: an automatic rollback after this time fails the
	// rollout being watched, though the Deployment is complete again.
	Since time.Time `json:"since,omitempty"`
}

// RolloutResponse answers a rollout verb. Status is one kubectl line
// ("Waiting for deployment ... 1 out of 3 new replicas have been updated...");
// Done says the rollout finished; Failed says its progress deadline passed.
type RolloutResponse struct {
	Message  string               `json:"message,omitempty"`
	Done     bool                 `json:"done,omitempty"`
	Failed   bool                 `json:"failed,omitempty"`
	History  []RevisionInfo       `json:"history,omitempty"`
	Template *api.PodTemplateSpec `json:"template,omitempty"` // history --revision=N
	Plan     []PlanStep           `json:"plan,omitempty"`
}

// RevisionInfo is one row of `rollout history`.
type RevisionInfo struct {
	Revision    int64    `json:"revision"`
	ChangeCause string   `json:"changeCause,omitempty"`
	ReplicaSet  string   `json:"replicaSet"`
	Images      []string `json:"images,omitempty"`
}

// PlanStep is one step of `rollout plan`: counts after the step.
type PlanStep struct {
	Step      int    `json:"step"`
	Action    string `json:"action"` // "scale up kubia-7c9d to 1"
	Old       int32  `json:"old"`
	New       int32  `json:"new"`
	Available int32  `json:"available"`
	Total     int32  `json:"total"`
}

// Info describes a running daemon.
type Info struct {
	Version    string `json:"version"`
	PID        int    `json:"pid"`
	Home       string `json:"home"`
	Address    string `json:"address"`    // the Service proxies' bind address
	MetricsURL string `json:"metricsURL"` // Prometheus
	Network    string `json:"network"`    // the Docker network pods run on
	// Dashboard is the web page's URL with its token; "" when it is off.
	// Only the API's socket, private to its user, tells it.
	Dashboard string   `json:"dashboard,omitempty"`
	StartedAt api.Time `json:"startedAt"`
	// NotServing lists the Service ports whose proxy cannot listen, because
	// another program holds the node port; the daemon keeps retrying.
	NotServing []PortProblem `json:"notServing,omitempty"`
	// DataPlanes are the processes that run the Service proxies.
	DataPlanes []DataPlaneInfo `json:"dataPlanes,omitempty"`
}

// DataPlaneInfo is one data-plane process.
type DataPlaneInfo struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
}

// PortProblem is one Service port that is not served, and why.
type PortProblem struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	NodePort  int32  `json:"nodePort"`
	Error     string `json:"error"`
}
