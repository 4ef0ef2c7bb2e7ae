package api

import (
	"errors"
	"slices"
)

// KindInfo is everything the rest of mini-deploy needs to know about a kind,
// in one place, as Kubernetes' Scheme and RESTMapper say it: the store makes
// a bucket for it, the API server routes its plural, apply accepts it, the
// CLI reads its short names and the printer names it.
//
// To add a kind: declare its type and DeepCopy in types.go, add a Kind
// constant in meta.go and a row here; then write its validation, its table
// columns in the printer and, if it does something, its controller.
type KindInfo struct {
	Kind       string
	APIVersion string
	Plural     string   // the lower-case plural of URL paths and the CLI: replicasets
	Singular   string   // the lower-case singular: replicaset
	Group      string   // "" for the core group, else apps or mini-deploy.io
	ShortNames []string // kubectl's short names, the one help lists first: rs
	Namespaced bool
	Stored     bool // kept in the store; Pods and Endpoints are views of the engine
	Served     bool // has a resource in the API and a type in the CLI
	Manifest   bool // accepted by apply
	New        func() Object
	// Resource is the plural name the API server's messages use, qualified
	// by the group where Kubernetes qualifies it: deployments.apps "x" not found.
	Resource string
	// Name is the singular name `-o name` prints: deployment.apps/kubia.
	Name string
}

// kinds lists every kind, in the order the CLI lists resource types.
var kinds = []KindInfo{
	{
		Kind: KindPod, APIVersion: "v1", Plural: "pods", Singular: "pod", ShortNames: []string{"po"},
		Namespaced: true, Served: true,
		New:      func() Object { return &Pod{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindPod}} },
		Resource: "pods", Name: "pod",
	},
	{
		Kind: KindReplicationController, APIVersion: "v1", Plural: "replicationcontrollers", Singular: "replicationcontroller",
		ShortNames: []string{"rc"}, Namespaced: true, Stored: true, Served: true, Manifest: true,
		New: func() Object {
			return &ReplicationController{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindReplicationController}}
		},
		Resource: "replicationcontrollers", Name: "replicationcontroller",
	},
	{
		Kind: KindReplicaSet, APIVersion: "apps/v1", Plural: "replicasets", Singular: "replicaset", Group: "apps",
		ShortNames: []string{"rs"}, Namespaced: true, Stored: true, Served: true, Manifest: true,
		New:      func() Object { return &ReplicaSet{TypeMeta: TypeMeta{APIVersion: "apps/v1", Kind: KindReplicaSet}} },
		Resource: "replicasets.apps", Name: "replicaset.apps",
	},
	{
		Kind: KindDeployment, APIVersion: "apps/v1", Plural: "deployments", Singular: "deployment", Group: "apps",
		ShortNames: []string{"deploy"}, Namespaced: true, Stored: true, Served: true, Manifest: true,
		New:      func() Object { return &Deployment{TypeMeta: TypeMeta{APIVersion: "apps/v1", Kind: KindDeployment}} },
		Resource: "deployments.apps", Name: "deployment.apps",
	},
	{
		Kind: KindService, APIVersion: "v1", Plural: "services", Singular: "service", ShortNames: []string{"svc"},
		Namespaced: true, Stored: true, Served: true, Manifest: true,
		New:      func() Object { return &Service{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindService}} },
		Resource: "services", Name: "service",
	},
	{
		Kind: KindEndpoints, APIVersion: "v1", Plural: "endpoints", Singular: "endpoints", ShortNames: []string{"ep"},
		Namespaced: true, Served: true,
		New:      func() Object { return &Endpoints{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindEndpoints}} },
		Resource: "endpoints", Name: "endpoints",
	},
	{
		Kind: KindEvent, APIVersion: "v1", Plural: "events", Singular: "event", ShortNames: []string{"ev"},
		Namespaced: true, Stored: true, Served: true,
		New:      func() Object { return &Event{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindEvent}} },
		Resource: "events", Name: "event",
	},
	{
		Kind: KindRollingUpdate, APIVersion: "mini-deploy.io/v1", Plural: "rollingupdates", Singular: "rollingupdate",
		Group: "mini-deploy.io", Namespaced: true, Stored: true, Served: true,
		New: func() Object {
			return &RollingUpdate{TypeMeta: TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: KindRollingUpdate}}
		},
		Resource: "rollingupdates", Name: "rollingupdate.mini-deploy.io",
	},
	{
		Kind: KindPodRecord, APIVersion: "mini-deploy.io/v1", Plural: "podrecords", Singular: "podrecord",
		Group: "mini-deploy.io", Namespaced: true, Stored: true,
		New: func() Object {
			return &PodRecord{TypeMeta: TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: KindPodRecord}}
		},
		Resource: "podrecords", Name: "podrecord.mini-deploy.io",
	},
}

// Kinds returns every kind, filtered by keep when it is not nil.
func Kinds(keep func(KindInfo) bool) []KindInfo {
	if keep == nil {
		return slices.Clone(kinds)
	}
	var out []KindInfo
	for _, k := range kinds {
		if keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// Stored, Served and Manifest are filters for Kinds.
func Stored(k KindInfo) bool   { return k.Stored }
func Served(k KindInfo) bool   { return k.Served }
func Manifest(k KindInfo) bool { return k.Manifest }

// InfoOf describes kind.
func InfoOf(kind string) (KindInfo, bool) {
	for _, k := range kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return KindInfo{}, false
}

// KindForResource returns the served kind a plural resource name of a URL
// path stands for.
func KindForResource(plural string) (string, bool) {
	for _, k := range kinds {
		if k.Served && k.Plural == plural {
			return k.Kind, true
		}
	}
	return "", false
}

// Resource returns the name Kubernetes' API server gives a kind in its
// messages: services, deployments.apps.
func Resource(kind string) string {
	if k, ok := InfoOf(kind); ok {
		return k.Resource
	}
	return kind
}

// Errors every layer shares: the store returns them, wrapped in messages
// worded as the Kubernetes API server words them; the API server maps them
// to HTTP statuses with errors.Is; the client turns statuses back into them.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrConflict      = errors.New("conflict")
)
