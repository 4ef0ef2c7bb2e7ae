package deployment

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// syncDeployment is one pass over d and the ReplicaSets it controls.
func (s *syncer) syncDeployment(d *api.Deployment, rsList []*api.ReplicaSet) (time.Duration, error) {
	if selectsEverything(d.Spec.Selector) {
		s.eventf(d, api.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return 0, s.updateDeployment(d)
		}
		return 0, nil
	}
	if _, _, err := fenceposts(d); err != nil {
		return 0, fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	if d.DeletionTimestamp != nil {
		return 0, s.syncStatusOnly(d, rsList)
	}
	if err := s.checkPausedConditions(d); err != nil {
		return 0, err
	}
	if d.Spec.Paused {
		return 0, s.sync(d, rsList)
	}
	scaling, err := s.isScalingEvent(d, rsList)
	if err != nil {
		return 0, err
	}
	if scaling {
		return 0, s.sync(d, rsList)
	}
	switch d.Spec.Strategy.Type {
	case api.RecreateDeploymentStrategyType:
		return s.rolloutRecreate(d, rsList)
	case "", api.RollingUpdateDeploymentStrategyType:
		return s.rolloutRolling(d, rsList)
	}
	return 0, fmt.Errorf("deployment %q: unexpected strategy type %q", d.Name, d.Spec.Strategy.Type)
}

// syncStatusOnly reports status without changing any ReplicaSet: what a
// Deployment being deleted gets.
func (s *syncer) syncStatusOnly(d *api.Deployment, rsList []*api.ReplicaSet) error {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(d, rsList, false)
	if err != nil {
		return err
	}
	return s.syncDeploymentStatus(withNew(oldRSs, newRS), newRS, d)
}

// sync only scales, for a paused Deployment or a change of replicas; the
// rollout itself waits for the next pass.
func (s *syncer) sync(d *api.Deployment, rsList []*api.ReplicaSet) error {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(d, rsList, false)
	if err != nil {
		return err
	}
	if err := s.scale(d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := s.cleanupDeployment(oldRSs, d); err != nil {
			return err
		}
	}
	return s.syncDeploymentStatus(withNew(oldRSs, newRS), newRS, d)
}

// checkPausedConditions records a pause and a resume in the Progressing
// condition, so that the time spent paused never counts against the progress
// deadline. A timed-out rollout keeps saying so.
func (s *syncer) checkPausedConditions(d *api.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(&d.Status, api.DeploymentProgressing)
	if cond != nil && cond.Reason == api.ReasonProgressDeadlineExceeded {
		return nil
	}
	pausedCond := cond != nil && cond.Reason == api.ReasonDeploymentPaused
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(s.clock(), api.DeploymentProgressing, condUnknown, api.ReasonDeploymentPaused, "Deployment is paused"))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(s.clock(), api.DeploymentProgressing, condUnknown, api.ReasonDeploymentResumed, "Deployment is resumed"))
	default:
		return nil
	}
	return s.updateDeployment(d)
}

// isScalingEvent reports a change of replicas since the active ReplicaSets
// were last sized, which their desired-replicas annotation remembers.
func (s *syncer) isScalingEvent(d *api.Deployment, rsList []*api.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range active(withNew(oldRSs, newRS)) {
		desired, ok := replicasAnnotation(rs, annotationDesiredReplicas)
		if ok && desired != replicasOf(d) {
			return true, nil
		}
	}
	return false, nil
}

// getAllReplicaSetsAndSyncRevision splits rsList into the new ReplicaSet
// (whose template is d's) and the old ones, creating the new one when asked
// and missing, and brings revision numbers up to date.
func (s *syncer) getAllReplicaSetsAndSyncRevision(d *api.Deployment, rsList []*api.ReplicaSet, create bool) (*api.ReplicaSet, []*api.ReplicaSet, error) {
	oldRSs := findOldReplicaSets(d, rsList)
	newRS, err := s.getNewReplicaSet(d, rsList, oldRSs, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, oldRSs, nil
}

// findNewReplicaSet returns the oldest ReplicaSet whose template is d's.
// Oldest, because two can match only after a hash collision, and the first
// one is the one that has been serving.
func findNewReplicaSet(d *api.Deployment, rsList []*api.ReplicaSet) *api.ReplicaSet {
	sorted := append([]*api.ReplicaSet(nil), rsList...)
	sortOldestFirst(sorted)
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

func findOldReplicaSets(d *api.Deployment, rsList []*api.ReplicaSet) []*api.ReplicaSet {
	newRS := findNewReplicaSet(d, rsList)
	var old []*api.ReplicaSet
	for _, rs := range rsList {
		if newRS == nil || rs.UID != newRS.UID {
			old = append(old, rs)
		}
	}
	return old
}

// getNewReplicaSet returns d's new ReplicaSet, or nil when there is none and
// create is false. An existing one is brought up to date: the Deployment's
// annotations, a revision above every old one (which is how a rollback to
// an old template gets a new revision number), minReadySeconds. A missing
// one is created at the size the strategy allows.
func (s *syncer) getNewReplicaSet(d *api.Deployment, rsList, oldRSs []*api.ReplicaSet, create bool) (*api.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)

	if existing != nil {
		cp := existing.DeepCopy().(*api.ReplicaSet)
		annotationsChanged := setNewReplicaSetAnnotations(d, cp, newRevision, true, s.log)
		if annotationsChanged || cp.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			// The Deployment's revision follows on the next pass, once the
			// ReplicaSet's write has succeeded.
			return existing, s.updateReplicaSet(existing, func(rs *api.ReplicaSet) {
				rs.Annotations = cp.Annotations
				rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			})
		}
		changed := setDeploymentRevision(d, existing.Annotations[api.AnnotationRevision])
		// A Deployment that never had a Progressing condition starts its
		// clock when its new ReplicaSet is first seen.
		if hasProgressDeadline(d) && getCondition(&d.Status, api.DeploymentProgressing) == nil {
			msg := fmt.Sprintf("Found new replica set %q", existing.Name)
			setCondition(&d.Status, newCondition(s.clock(), api.DeploymentProgressing, condTrue, api.ReasonFoundNewRS, msg))
			changed = true
		}
		if changed {
			if err := s.updateDeployment(d); err != nil {
				return nil, err
			}
		}
		return existing, nil
	}
	if !create {
		return nil, nil
	}

	template := *api.Copy(&d.Spec.Template)
	hash := api.ComputeHash(&template, d.Status.CollisionCount)
	template.Labels = withLabel(d.Spec.Template.Labels, api.LabelPodTemplateHash, hash)
	ns := api.KeyOf(d).Namespace
	rs := &api.ReplicaSet{
		TypeMeta: api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindReplicaSet},
		ObjectMeta: api.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       ns,
			Labels:          template.Labels,
			OwnerReferences: []api.OwnerReference{ownerRef(d)},
		},
		Spec: api.ReplicaSetSpec{
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selectorWithHash(d.Spec.Selector, hash),
			Template:        template,
		},
	}
	setRSReplicas(rs, 0)
	size, err := newRSNewReplicas(d, withNew(oldRSs, rs), rs)
	if err != nil {
		return nil, err
	}
	setRSReplicas(rs, size)
	setNewReplicaSetAnnotations(d, rs, newRevision, false, s.log)

	alreadyExists := false
	created, err := s.objs.createReplicaSet(rs)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		alreadyExists = true
		found, getErr := s.objs.getReplicaSet(ns, rs.Name)
		if getErr != nil {
			return nil, getErr
		}
		// Ours and the same template: an earlier pass created it and we did
		// not see it. Anything else is a hash collision: count it, which
		// changes the hash, and let the next pass try the new name.
		if ownedBy(found, d) && equalIgnoreHash(&d.Spec.Template, &found.Spec.Template) {
			created = found
			break
		}
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if uerr := s.updateDeployment(d); uerr == nil {
			s.log.Info("hash collision; bumped collisionCount", "replicaset", rs.Name, "collisionCount", *d.Status.CollisionCount)
		}
		return nil, fmt.Errorf("deployment %q: new replica set %q: %w", d.Name, rs.Name, err)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(s.clock(), api.DeploymentProgressing, condFalse, reasonFailedRSCreate, msg))
			// The create error is the one to report; a failed status write
			// only delays the condition.
			_ = s.updateDeployment(d)
		}
		s.eventf(d, api.EventTypeWarning, reasonFailedRSCreate, "%s", msg)
		return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	if !alreadyExists && size > 0 {
		s.eventf(d, api.EventTypeNormal, eventScaling, "Scaled up replica set %s to %d", created.Name, size)
		if s.onScale != nil {
			s.onScale(created, 0, size)
		}
	}
	changed := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		msg := fmt.Sprintf("Created new replica set %q", created.Name)
		setCondition(&d.Status, newCondition(s.clock(), api.DeploymentProgressing, condTrue, api.ReasonNewRSCreated, msg))
		changed = true
	}
	if changed {
		if err := s.updateDeployment(d); err != nil {
			return created, err
		}
	}
	return created, nil
}

// scale resizes the ReplicaSets for a change of replicas. With one active
// ReplicaSet it simply takes the new count. In the middle of a rolling
// update the change is split in proportion to each ReplicaSet's share of
// the pods, so that scaling neither hastens nor reverses the rollout: if the
// new template is broken, the broken share of pods stays the same.
func (s *syncer) scale(d *api.Deployment, newRS *api.ReplicaSet, oldRSs []*api.ReplicaSet) error {
	if target := findActiveOrLatest(newRS, oldRSs); target != nil {
		if rsReplicas(target) == replicasOf(d) {
			return nil
		}
		_, err := s.scaleReplicaSetAndRecordEvent(target, replicasOf(d), d)
		return err
	}
	// A saturated new ReplicaSet (say, adopted while full) leaves nothing
	// for the old ones.
	if isSaturated(d, newRS) {
		for _, old := range active(oldRSs) {
			if _, err := s.scaleReplicaSetAndRecordEvent(old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := active(withNew(oldRSs, newRS))
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	// Ties go to the newer ReplicaSets when growing and are taken from the
	// older ones when shrinking.
	var op string
	switch {
	case toAdd > 0:
		sortBySizeNewer(all)
		op = "up"
	case toAdd < 0:
		sortBySizeOlder(all)
		op = "down"
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	// Rounding leaves a remainder; the largest ReplicaSet absorbs it.
	if len(all) > 0 && toAdd != 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	for i, rs := range all {
		if _, err := s.scaleReplicaSet(rs, sizes[i], d, op); err != nil {
			return err
		}
	}
	return nil
}

// findActiveOrLatest returns the only active ReplicaSet, or the newest one
// when none is active, or nil when several are.
func findActiveOrLatest(newRS *api.ReplicaSet, oldRSs []*api.ReplicaSet) *api.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	old := append([]*api.ReplicaSet(nil), oldRSs...)
	sortNewestFirst(old)
	all := active(withNew(old, newRS))
	switch len(all) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return old[0]
	case 1:
		return all[0]
	}
	return nil
}

// isSaturated: the new ReplicaSet was sized for the current replicas and all
// of them are available.
func isSaturated(d *api.Deployment, rs *api.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := replicasAnnotation(rs, annotationDesiredReplicas)
	n := replicasOf(d)
	return ok && rsReplicas(rs) == n && desired == n && rs.Status.AvailableReplicas == n
}

// proportion is rs's share of toAdd, bounded by what is left to add.
func proportion(rs *api.ReplicaSet, d *api.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := replicaSetFraction(rs, d)
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// replicaSetFraction is how many replicas rs gains or loses if it keeps its
// share of the Deployment's maximum size through the change. The previous
// maximum comes from the max-replicas annotation written when rs was last
// sized.
func replicaSetFraction(rs *api.ReplicaSet, d *api.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	maxNow := replicasOf(d) + maxSurge(d)
	maxBefore, ok := replicasAnnotation(rs, annotationMaxReplicas)
	if !ok {
		maxBefore = d.Status.Replicas
	}
	if maxBefore == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)) * float64(maxNow) / float64(maxBefore)
	return roundHalfAway(size) - rsReplicas(rs)
}

func roundHalfAway(f float64) int32 {
	if f < 0 {
		return int32(f - 0.5)
	}
	return int32(f + 0.5)
}

func (s *syncer) scaleReplicaSetAndRecordEvent(rs *api.ReplicaSet, size int32, d *api.Deployment) (bool, error) {
	if rsReplicas(rs) == size {
		return false, nil
	}
	op := "down"
	if rsReplicas(rs) < size {
		op = "up"
	}
	return s.scaleReplicaSet(rs, size, d, op)
}

// scaleReplicaSet sets rs's size and its desired/max-replicas annotations,
// and reports whether the size changed.
func (s *syncer) scaleReplicaSet(rs *api.ReplicaSet, size int32, d *api.Deployment, op string) (bool, error) {
	resize := rsReplicas(rs) != size
	desired, maxTotal := replicasOf(d), replicasOf(d)+maxSurge(d)
	if !resize && !replicasAnnotationsNeedUpdate(rs, desired, maxTotal) {
		return false, nil
	}
	from := rsReplicas(rs)
	err := s.updateReplicaSet(rs, func(rs *api.ReplicaSet) {
		setRSReplicas(rs, size)
		setReplicasAnnotations(rs, desired, maxTotal)
	})
	if err != nil {
		return false, err
	}
	if !resize {
		return false, nil
	}
	s.eventf(d, api.EventTypeNormal, eventScaling, "Scaled %s replica set %s to %d from %d", op, rs.Name, size, from)
	if s.onScale != nil {
		s.onScale(rs, from, size)
	}
	return true, nil
}

// cleanupDeployment deletes the oldest old ReplicaSets beyond
// revisionHistoryLimit. Only empty ones go, and only once their controller
// has seen them emptied; the limit still counts the others, as in
// Kubernetes.
func (s *syncer) cleanupDeployment(oldRSs []*api.ReplicaSet, d *api.Deployment) error {
	limit, ok := revisionHistoryLimit(d)
	if !ok {
		return nil
	}
	var alive []*api.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(limit)
	if diff <= 0 {
		return nil
	}
	sortByRevision(alive)
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		if err := s.objs.deleteReplicaSet(rs); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deployment %q: delete old replica set %q: %w", d.Name, rs.Name, err)
		}
		s.log.Info("deleted old replica set", "replicaset", rs.Name, "revision", revisionOf(rs))
	}
	return nil
}
