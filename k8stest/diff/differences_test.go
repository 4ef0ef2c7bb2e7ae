package diff

// validationDifferences are the corpus cases where mini-deploy's verdict
// differs from the API server's on purpose, with the reason. The README's
// "Moving to a cluster" table says the same.
var validationDifferences = map[string]string{}

// rolloutDifferences are the rollout scenarios where mini-deploy's steps
// differ from kube-controller-manager's on purpose, with the reason.
var rolloutDifferences = map[string]string{}
