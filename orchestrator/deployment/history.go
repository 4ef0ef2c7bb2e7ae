package deployment

import (
	"cmp"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// A Deployment's history is its ReplicaSets: each keeps the template of one
// revision and its number in the revision annotation. Rolling back to an old
// template reuses its ReplicaSet and gives it the next number, remembering
// the numbers it had in the revision-history annotation.

// Revision is one entry of `rollout history`.
type Revision struct {
	Revision    int64
	ChangeCause string
	ReplicaSet  string
	Template    api.PodTemplateSpec
}

// History returns the revisions of a Deployment, oldest first.
func History(st *store.Store, namespace, name string) ([]Revision, error) {
	_, rss, err := getWithReplicaSets(st, namespace, name)
	if err != nil {
		return nil, err
	}
	var out []Revision
	for _, rs := range rss {
		v, err := revision(rs)
		if err != nil || v == 0 {
			continue
		}
		out = append(out, Revision{
			Revision:    v,
			ChangeCause: rs.Annotations[api.AnnotationChangeCause],
			ReplicaSet:  rs.Name,
			Template:    *api.Copy(&rs.Spec.Template),
		})
	}
	slices.SortFunc(out, func(a, b Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	return out, nil
}

// getWithReplicaSets reads a Deployment and the ReplicaSets it controls,
// without adopting anything: that is the controller's job.
func getWithReplicaSets(st *store.Store, namespace, name string) (*api.Deployment, []*api.ReplicaSet, error) {
	if namespace == "" {
		namespace = api.DefaultNamespace
	}
	obj, err := st.Get(api.Key{Kind: api.KindDeployment, Namespace: namespace, Name: name})
	if err != nil {
		return nil, nil, err
	}
	d := obj.(*api.Deployment)
	objs, err := st.List(api.KindReplicaSet, namespace)
	if err != nil {
		return nil, nil, err
	}
	var rss []*api.ReplicaSet
	for _, o := range objs {
		if rs := o.(*api.ReplicaSet); ownedBy(rs, d) {
			rss = append(rss, rs)
		}
	}
	return d, rss, nil
}

// setDeploymentRevision copies the new ReplicaSet's revision onto d.
func setDeploymentRevision(d *api.Deployment, rev string) bool {
	if d.Annotations[api.AnnotationRevision] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[api.AnnotationRevision] = rev
	return true
}

// copyDeploymentAnnotations copies d's annotations, the change-cause among
// them, onto its new ReplicaSet, so that the ReplicaSet remembers what its
// revision was about. It adds and overwrites but never removes.
func copyDeploymentAnnotations(d *api.Deployment, rs *api.ReplicaSet) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if cur, ok := rs.Annotations[k]; skipAnnotations[k] || (ok && cur == v) {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// setNewReplicaSetAnnotations brings the new ReplicaSet's annotations up to
// date: d's annotations, a revision of at least newRevision, the numbers it
// had before (when an old template comes back), and, for a ReplicaSet about
// to be created, its desired and max replicas.
func setNewReplicaSetAnnotations(d *api.Deployment, rs *api.ReplicaSet, newRevision string, exists bool, log *slog.Logger) bool {
	changed := copyDeploymentAnnotations(d, rs)
	oldRevision, had := rs.Annotations[api.AnnotationRevision]
	oldRev, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			log.Info("unreadable revision on replica set", "replicaset", rs.Name, "revision", oldRevision)
			return false
		}
		oldRev = 0
	}
	newRev, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	// Only ever raise it: old ReplicaSets may have been deleted since it was
	// numbered, leaving newRevision below its current number.
	if oldRev < newRev {
		rs.Annotations[api.AnnotationRevision] = newRevision
		changed = true
		if had {
			appendRevisionHistory(rs, oldRevision, log)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory keeps the revisions a reused ReplicaSet had, dropping
// the oldest beyond maxRevisionHistoryChars.
func appendRevisionHistory(rs *api.ReplicaSet, oldRevision string, log *slog.Logger) {
	history := rs.Annotations[annotationRevisionHistory]
	if history == "" {
		rs.Annotations[annotationRevisionHistory] = oldRevision
		return
	}
	revs := strings.Split(history, ",")
	total := len(history) + len(oldRevision) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(revs) {
		total -= len(revs[start]) + 1
		start++
	}
	if total > maxRevisionHistoryChars {
		log.Info("revision history annotation is full", "replicaset", rs.Name)
		return
	}
	rs.Annotations[annotationRevisionHistory] = strings.Join(append(revs[start:], oldRevision), ",")
}

func replicasAnnotation(rs *api.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

func setReplicasAnnotations(rs *api.ReplicaSet, desired, maxTotal int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxTotal) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[annotationDesiredReplicas] = strconv.Itoa(int(desired))
	rs.Annotations[annotationMaxReplicas] = strconv.Itoa(int(maxTotal))
	return true
}

func replicasAnnotationsNeedUpdate(rs *api.ReplicaSet, desired, maxTotal int32) bool {
	return rs.Annotations[annotationDesiredReplicas] != strconv.Itoa(int(desired)) ||
		rs.Annotations[annotationMaxReplicas] != strconv.Itoa(int(maxTotal))
}
