package api

// types.go holds every kind's Go type, as Kubernetes keeps its core and apps
// types together; it is over 500 lines because the kinds are, and splitting
// them would part types that embed one another (PodTemplateSpec, PodSpec).

import (
	"encoding/json"
	"fmt"
)

// The kinds below follow Kubernetes' field names, JSON shapes and defaults, so
// that a manifest written for mini-deploy runs unchanged on a real cluster.
// Only json tags are declared: YAML is read by converting it to JSON first,
// and printed by converting JSON to YAML, as kubectl does.

// Well-known labels and annotations.
const (
	// LabelPodTemplateHash tells a Deployment's ReplicaSets (and their pods) apart.
	LabelPodTemplateHash = "pod-template-hash"
	// AnnotationRevision is the Deployment revision a ReplicaSet belongs to.
	AnnotationRevision = "deployment.kubernetes.io/revision"
	// AnnotationChangeCause is shown by `rollout history`.
	AnnotationChangeCause = "kubernetes.io/change-cause"
	// AnnotationAutoRollback ("true") makes a Deployment roll back by itself
	// when its progress deadline passes. A mini-deploy extension.
	AnnotationAutoRollback = "mini-deploy.io/auto-rollback"
	// AnnotationMaxConnections on a Service bounds the client connections
	// each of its ports serves at once (default 10000); more wait to be
	// accepted. It is read when the port starts listening.
	AnnotationMaxConnections = "mini-deploy.io/max-connections"
	// AnnotationConnectTimeout and AnnotationResponseHeaderTimeout on a
	// Service bound, as Go durations ("500ms", "10s"), the proxy's wait to
	// connect to a pod (default 2s) and for its response headers (default
	// 60s). A pod that misses either is taken out of rotation at once.
	AnnotationConnectTimeout        = "mini-deploy.io/connect-timeout"
	AnnotationResponseHeaderTimeout = "mini-deploy.io/response-header-timeout"
	// AnnotationRestartedAt is set by `rollout restart` on the pod template.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationLastApplied holds the manifest an object was last applied
	// from, as kubectl apply keeps it: the next apply removes only the
	// fields the user dropped from the manifest and keeps those set by
	// others (scale, rollout pause, rollout restart, defaults).
	AnnotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// LabelSelector is Kubernetes' set-based selector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one matchExpressions entry.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist
	Values   []string `json:"values,omitempty"`
}

// PodTemplateSpec describes the pods a controller creates.
type PodTemplateSpec struct {
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PodSpec `json:"spec,omitempty"`
}

// PodSpec is the subset of a pod's spec mini-deploy runs. A pod is one
// container: only containers[0] runs; more containers are rejected.
type PodSpec struct {
	Containers                    []Container `json:"containers"`
	RestartPolicy                 string      `json:"restartPolicy,omitempty"` // Always (the only one controllers accept)
	TerminationGracePeriodSeconds *int64      `json:"terminationGracePeriodSeconds,omitempty"`
	Hostname                      string      `json:"hostname,omitempty"`
}

// Container is one container of a pod template.
type Container struct {
	Name            string          `json:"name"`
	Image           string          `json:"image"`
	ImagePullPolicy string          `json:"imagePullPolicy,omitempty"` // accepted; images are never pulled
	Command         []string        `json:"command,omitempty"`
	Args            []string        `json:"args,omitempty"`
	WorkingDir      string          `json:"workingDir,omitempty"`
	Env             []EnvVar        `json:"env,omitempty"`
	Ports           []ContainerPort `json:"ports,omitempty"`
	ReadinessProbe  *Probe          `json:"readinessProbe,omitempty"`
	LivenessProbe   *Probe          `json:"livenessProbe,omitempty"`
	Resources       *Resources      `json:"resources,omitempty"`
}

// Resources are a container's compute resources as Kubernetes writes them:
// "cpu" in cores ("500m", "1.5"), "memory" in bytes ("128Mi", "1G"). Limits
// are enforced by the engine (a CPU quota; a memory limit, over which the
// process is OOMKilled); requests become reservations (CPU shares, a soft
// memory limit). A request left out takes its limit's value, as in
// Kubernetes.
type Resources struct {
	Limits   map[string]Quantity `json:"limits,omitempty"`
	Requests map[string]Quantity `json:"requests,omitempty"`
}

// Quantity is a resource amount as written: "500m", "128Mi", or a plain
// number (cpu: 2, cpu: 0.5), which YAML and JSON may give unquoted.
type Quantity string

// UnmarshalJSON takes a string or a number, as Kubernetes does.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("quantity: expected a string or a number, got %s", b)
	}
	*q = Quantity(n.String())
	return nil
}

// EnvVar is a plain name=value variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// ContainerPort names a port the container listens on.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"` // TCP
}

// Probe is a readiness or liveness check.
type Probe struct {
	ProbeHandler        `json:",inline"`
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int32 `json:"timeoutSeconds,omitempty"`   // default 1
	PeriodSeconds       int32 `json:"periodSeconds,omitempty"`    // default 10
	SuccessThreshold    int32 `json:"successThreshold,omitempty"` // default 1
	FailureThreshold    int32 `json:"failureThreshold,omitempty"` // default 3
}

// ProbeHandler is exactly one of the three checks.
type ProbeHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
}

// ExecAction runs a command in the container; exit 0 is success.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction is a GET whose 2xx/3xx answer is success.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme,omitempty"` // HTTP
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header sent by an HTTP probe.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction succeeds when a TCP connection opens.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// ReplicationController is the seed's v1 workload: a selector of plain labels.
type ReplicationController struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ReplicationControllerSpec   `json:"spec,omitempty"`
	Status     ReplicationControllerStatus `json:"status,omitempty"`
}

// ReplicationControllerSpec: the selector defaults to the template's labels.
type ReplicationControllerSpec struct {
	Replicas        *int32            `json:"replicas,omitempty"` // default 1
	MinReadySeconds int32             `json:"minReadySeconds,omitempty"`
	Selector        map[string]string `json:"selector,omitempty"`
	Template        *PodTemplateSpec  `json:"template,omitempty"`
}

// ReplicationControllerStatus is the same shape as a ReplicaSet's.
type ReplicationControllerStatus = ReplicaSetStatus

// ReplicaSet keeps a number of pods matching a set-based selector.
type ReplicaSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ReplicaSetSpec   `json:"spec,omitempty"`
	Status     ReplicaSetStatus `json:"status,omitempty"`
}

// ReplicaSetSpec: in apps/v1 the selector is required.
type ReplicaSetSpec struct {
	Replicas        *int32          `json:"replicas,omitempty"` // default 1
	MinReadySeconds int32           `json:"minReadySeconds,omitempty"`
	Selector        *LabelSelector  `json:"selector"`
	Template        PodTemplateSpec `json:"template,omitempty"`
}

// ReplicaSetStatus is observed state, kept current by the controller.
type ReplicaSetStatus struct {
	Replicas             int32       `json:"replicas"`
	FullyLabeledReplicas int32       `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32       `json:"readyReplicas,omitempty"`
	AvailableReplicas    int32       `json:"availableReplicas,omitempty"`
	ObservedGeneration   int64       `json:"observedGeneration,omitempty"`
	Conditions           []Condition `json:"conditions,omitempty"`
}

// Condition is Kubernetes' status condition.
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"` // True, False, Unknown
	LastUpdateTime     Time   `json:"lastUpdateTime,omitempty"`
	LastTransitionTime Time   `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
}

// Deployment rolls a pod template out through ReplicaSets.
type Deployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       DeploymentSpec   `json:"spec,omitempty"`
	Status     DeploymentStatus `json:"status,omitempty"`
}

// DeploymentSpec with Kubernetes' defaults: replicas 1, RollingUpdate 25%/25%,
// revisionHistoryLimit 10, progressDeadlineSeconds 600.
type DeploymentSpec struct {
	// Replicas is the number of pods wanted; default 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector picks the pods the Deployment owns; it must match the
	// template's labels and cannot change.
	Selector *LabelSelector `json:"selector"`
	// Template is the pods to run; changing it starts a rollout.
	Template PodTemplateSpec `json:"template"`
	// Strategy says how old pods are replaced: RollingUpdate (the default)
	// or Recreate.
	Strategy DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready, without its
	// container restarting, to count as available; default 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is how many old ReplicaSets are kept for undo;
	// default 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Paused stops rollouts: template changes wait until it is false.
	Paused bool `json:"paused,omitempty"`
	// ProgressDeadlineSeconds is how long a rollout may make no progress
	// before its Progressing condition turns False
	// (ProgressDeadlineExceeded); default 600.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
}

// Deployment strategy types.
const (
	RecreateDeploymentStrategyType      = "Recreate"
	RollingUpdateDeploymentStrategyType = "RollingUpdate"
)

// DeploymentStrategy is Recreate or RollingUpdate.
type DeploymentStrategy struct {
	Type          string                   `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDeployment bounds a rolling update.
type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// DeploymentStatus is observed state.
type DeploymentStatus struct {
	ObservedGeneration  int64       `json:"observedGeneration,omitempty"`
	Replicas            int32       `json:"replicas,omitempty"`
	UpdatedReplicas     int32       `json:"updatedReplicas,omitempty"`
	ReadyReplicas       int32       `json:"readyReplicas,omitempty"`
	AvailableReplicas   int32       `json:"availableReplicas,omitempty"`
	UnavailableReplicas int32       `json:"unavailableReplicas,omitempty"`
	Conditions          []Condition `json:"conditions,omitempty"`
	CollisionCount      *int32      `json:"collisionCount,omitempty"`
}

// Deployment condition types and reasons, as Kubernetes names them.
const (
	DeploymentAvailable   = "Available"
	DeploymentProgressing = "Progressing"

	ReasonNewRSAvailable           = "NewReplicaSetAvailable"
	ReasonNewRSCreated             = "NewReplicaSetCreated"
	ReasonFoundNewRS               = "FoundNewReplicaSet"
	ReasonRSUpdated                = "ReplicaSetUpdated"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonDeploymentPaused         = "DeploymentPaused"
	ReasonDeploymentResumed        = "DeploymentResumed"
	ReasonMinimumReplicasAvailable = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavail   = "MinimumReplicasUnavailable"
)

// Service routes to ready pods matching its selector through mini-deploy's
// built-in proxy, listening on 127.0.0.1 (or --address) at each port's nodePort.
type Service struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       ServiceSpec   `json:"spec,omitempty"`
	Status     ServiceStatus `json:"status,omitempty"`
}

// Service types. Every type gets a proxy port on the host; NodePort and
// LoadBalancer keep the one the manifest names.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
)

// ServiceSpec: type defaults to ClusterIP, a port's targetPort to its port.
type ServiceSpec struct {
	Type            string            `json:"type,omitempty"`
	Selector        map[string]string `json:"selector,omitempty"`
	Ports           []ServicePort     `json:"ports"`
	ClusterIP       string            `json:"clusterIP,omitempty"`
	SessionAffinity string            `json:"sessionAffinity,omitempty"` // None only
}

// ServicePort is one proxied port.
type ServicePort struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"` // TCP
	// Port is the Service's port.
	Port int32 `json:"port"`
	// TargetPort is the pods' port, a number or the name of a container
	// port; default: Port.
	TargetPort IntOrString `json:"targetPort,omitempty"`
	// NodePort is where the Service's proxy listens on this machine
	// (30000-32767); allocated when left out.
	NodePort int32 `json:"nodePort,omitempty"`
}

// ServiceStatus is empty for the kinds mini-deploy supports; kept for shape.
type ServiceStatus struct {
	LoadBalancer struct{} `json:"loadBalancer"`
}

// Event records something a controller did, as `kubectl get events` shows it.
type Event struct {
	TypeMeta       `json:",inline"`
	ObjectMeta     `json:"metadata,omitempty"`
	InvolvedObject ObjectReference `json:"involvedObject"`
	Reason         string          `json:"reason,omitempty"`
	Message        string          `json:"message,omitempty"`
	Type           string          `json:"type,omitempty"` // Normal or Warning
	Count          int32           `json:"count,omitempty"`
	FirstTimestamp Time            `json:"firstTimestamp,omitempty"`
	LastTimestamp  Time            `json:"lastTimestamp,omitempty"`
	Source         EventSource     `json:"source,omitempty"`
}

// Event types.
const (
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// ObjectReference names the object an event is about.
type ObjectReference struct {
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
}

// EventSource names the controller that reported an event.
type EventSource struct {
	Component string `json:"component,omitempty"`
}

// RollingUpdate records the legacy `rolling-update` of one
// ReplicationController into another, so that the daemon, not the client,
// carries it to the end.
type RollingUpdate struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       RollingUpdateSpec   `json:"spec"`
	Status     RollingUpdateStatus `json:"status,omitempty"`
}

// RollingUpdateSpec names the old RC, the new RC and the new image.
type RollingUpdateSpec struct {
	From         string `json:"from"`
	To           string `json:"to"`
	Image        string `json:"image,omitempty"`
	Container    string `json:"container,omitempty"`
	UpdatePeriod string `json:"updatePeriod,omitempty"` // Go duration between steps, default 1s
}

// RollingUpdateStatus is the progress log, one line per step, as kubectl prints it.
type RollingUpdateStatus struct {
	Phase    string   `json:"phase,omitempty"` // Running, Succeeded, Failed
	Lines    []string `json:"lines,omitempty"`
	Desired  int32    `json:"desired,omitempty"`  // the old controller's replicas at the start
	LastStep Time     `json:"lastStep,omitempty"` // when the last scaling step was taken
}

// RollingUpdate phases.
const (
	RollingUpdateRunning   = "Running"
	RollingUpdateSucceeded = "Succeeded"
	RollingUpdateFailed    = "Failed"
)

// PodRecord keeps what the kubelet would remember of a pod and a container
// cannot carry (its labels are fixed at creation): how often the control
// plane restarted it and how it last ended. It outlives a restart of the
// daemon, so RESTARTS does too. Internal: no verb shows it.
type PodRecord struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Status     PodRecordStatus `json:"status,omitempty"`
}

// PodRecordStatus is a pod's restart history.
type PodRecordStatus struct {
	ContainerID  string                    `json:"containerID"`
	RestartCount int32                     `json:"restartCount"`
	LastExit     *ContainerStateTerminated `json:"lastExit,omitempty"`
}

// Pod is a view of one managed container, built from its labels and the
// engine's state; pods are not stored.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PodSpec   `json:"spec,omitempty"`
	Status     PodStatus `json:"status,omitempty"`
}

// PodStatus is what `get pods` prints.
type PodStatus struct {
	Phase             string            `json:"phase,omitempty"` // Pending, Running, Succeeded, Failed
	Conditions        []Condition       `json:"conditions,omitempty"`
	PodIP             string            `json:"podIP,omitempty"`
	StartTime         *Time             `json:"startTime,omitempty"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
}

// ContainerStatus mirrors Kubernetes' for the pod's one container.
type ContainerStatus struct {
	Name         string         `json:"name"`
	State        ContainerState `json:"state,omitempty"`
	LastState    ContainerState `json:"lastTerminationState,omitempty"`
	Ready        bool           `json:"ready"`
	RestartCount int32          `json:"restartCount"`
	Image        string         `json:"image"`
	ContainerID  string         `json:"containerID,omitempty"`
	Started      *bool          `json:"started,omitempty"`
}

// ContainerState is exactly one of waiting, running, terminated.
type ContainerState struct {
	Waiting    *ContainerStateWaiting    `json:"waiting,omitempty"`
	Running    *ContainerStateRunning    `json:"running,omitempty"`
	Terminated *ContainerStateTerminated `json:"terminated,omitempty"`
}

// ContainerStateWaiting carries reasons like CrashLoopBackOff or ErrImageNeverPull.
type ContainerStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStateRunning says since when.
type ContainerStateRunning struct {
	StartedAt Time `json:"startedAt,omitempty"`
}

// ContainerStateTerminated says how it ended.
type ContainerStateTerminated struct {
	ExitCode   int32  `json:"exitCode"`
	Reason     string `json:"reason,omitempty"` // Completed, Error, OOMKilled
	StartedAt  Time   `json:"startedAt,omitempty"`
	FinishedAt Time   `json:"finishedAt,omitempty"`
}

// Endpoints is a view of a Service's ready and not-ready pod addresses.
type Endpoints struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Subsets    []EndpointSubset `json:"subsets,omitempty"`
}

// EndpointSubset groups addresses that share ports.
type EndpointSubset struct {
	Addresses         []EndpointAddress `json:"addresses,omitempty"`
	NotReadyAddresses []EndpointAddress `json:"notReadyAddresses,omitempty"`
	Ports             []EndpointPort    `json:"ports,omitempty"`
}

// EndpointAddress is one pod's IP.
type EndpointAddress struct {
	IP        string           `json:"ip"`
	TargetRef *ObjectReference `json:"targetRef,omitempty"`
}

// EndpointPort is one target port.
type EndpointPort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}

// List is what `get -o json|yaml` prints for several objects.
type List struct {
	TypeMeta `json:",inline"`
	Items    []Object `json:"items"`
}
