// Package diff holds the side-by-side tests: the same manifests and the same
// rollouts go through mini-deploy and through a real Kubernetes control plane
// (k8stest), and the answers must agree.
//
// Validation: a corpus of manifests (every example, and valid and invalid
// variants of each kind) gets the same accept or reject from mini-deploy's
// decode and validation as from kube-apiserver's strict dry run, naming the
// same field. Rollouts: scenarios run on mini-deploy's Deployment and
// ReplicaSet controllers and on kube-controller-manager, readying pods in the
// same order step by step, and must make the same ReplicaSet sizes, revisions
// and Deployment conditions at every step.
//
// Where mini-deploy differs on purpose the test names the difference and its
// reason (differences_test.go), and the README's "Moving to a cluster" table
// lists the same; a listed difference that goes away fails the test too, so
// the list stays true.
package diff
