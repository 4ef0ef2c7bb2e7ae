// Package api is the vocabulary mini-deploy shares with Kubernetes.
//
// The seed's story starts with a file: a ReplicationController running three
// kubia pods and a Service in front of them. That file must run here
// unchanged and on a real cluster too, so the objects in this package have
// Kubernetes' names, shapes and defaults, and a manifest goes through the same
// three steps an API server puts it through. DecodeManifests reads it
// strictly, because a misspelt field silently ignored is a rollout that does
// something nobody asked for; SetDefaults fills in what Kubernetes would
// (one replica, RollingUpdate at 25%/25%, a selector taken from the template's
// labels); Validate rejects what Kubernetes would reject, in its words, plus
// what one machine cannot do (a second container per pod). ValidateApply then
// looks at the apply as a whole, since an apply is all or nothing.
//
// The rest is arithmetic the controllers share: how many pods 25% is
// (ScaledValue, ResolveFenceposts) and what a pod template is called
// (ComputeHash), so that a daemon restarted mid-rollout finds the same
// ReplicaSets under the same names.
//
// Where a change goes: what a kind is (its names, group, short names, scope,
// whether it is stored, served or applied, its constructor) is one row of the
// registry in kinds.go, read by the store, the API server, the client, the
// decoder, the printer and the CLI. To add a kind: its type and DeepCopy in
// types.go and object.go, a Kind constant in meta.go, a row in kinds.go, its
// defaults and validation here; see the README's checklist for the rest.
package api
