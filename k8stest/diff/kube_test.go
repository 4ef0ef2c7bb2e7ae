package diff

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/k8stest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// kube is the real side: the scenario's Deployment in a namespace of its own
// on the shared control plane, rolled by kube-controller-manager, its pods
// run by k8stest's kubelet stand-in.
type kube struct {
	cp   *k8stest.ControlPlane
	ns   string
	name string
	kind string
	// readyOrder numbers pods in the order they were first made ready.
	readyOrder map[string]int
}

func newKube(t *testing.T, cp *k8stest.ControlPlane) *kube {
	return &kube{cp: cp, ns: cp.Namespace(t), readyOrder: map[string]int{}}
}

var bg = context.Background()

func (k *kube) create(t *testing.T, manifest string) {
	var head struct{ Kind string }
	if err := yaml.Unmarshal([]byte(manifest), &head); err != nil {
		t.Fatal(err)
	}
	k.kind = head.Kind
	var err error
	switch head.Kind {
	case "Deployment":
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict([]byte(manifest), &d); err != nil {
			t.Fatal(err)
		}
		k.name = d.Name
		_, err = k.cp.Client.AppsV1().Deployments(k.ns).Create(bg, &d, metav1.CreateOptions{})
	case "ReplicaSet":
		var rs appsv1.ReplicaSet
		if err := yaml.UnmarshalStrict([]byte(manifest), &rs); err != nil {
			t.Fatal(err)
		}
		k.name = rs.Name
		_, err = k.cp.Client.AppsV1().ReplicaSets(k.ns).Create(bg, &rs, metav1.CreateOptions{})
	case "ReplicationController":
		var rc corev1.ReplicationController
		if err := yaml.UnmarshalStrict([]byte(manifest), &rc); err != nil {
			t.Fatal(err)
		}
		k.name = rc.Name
		_, err = k.cp.Client.CoreV1().ReplicationControllers(k.ns).Create(bg, &rc, metav1.CreateOptions{})
	default:
		t.Fatalf("kind %q", head.Kind)
	}
	if err != nil {
		t.Fatalf("create %s: %v", head.Kind, err)
	}
}

func (k *kube) update(t *testing.T, change func(d *appsv1.Deployment)) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := k.cp.Client.AppsV1().Deployments(k.ns).Get(bg, k.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(d)
		_, err = k.cp.Client.AppsV1().Deployments(k.ns).Update(bg, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update deployment %s: %v", k.name, err)
	}
}

func (k *kube) setImage(t *testing.T, img string) {
	k.update(t, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img })
}

func (k *kube) scale(t *testing.T, n int32) {
	var err error
	switch k.kind {
	case "Deployment":
		k.update(t, func(d *appsv1.Deployment) { d.Spec.Replicas = &n })
	case "ReplicaSet":
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			rs, err := k.cp.Client.AppsV1().ReplicaSets(k.ns).Get(bg, k.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			rs.Spec.Replicas = &n
			_, err = k.cp.Client.AppsV1().ReplicaSets(k.ns).Update(bg, rs, metav1.UpdateOptions{})
			return err
		})
	case "ReplicationController":
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			rc, err := k.cp.Client.CoreV1().ReplicationControllers(k.ns).Get(bg, k.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			rc.Spec.Replicas = &n
			_, err = k.cp.Client.CoreV1().ReplicationControllers(k.ns).Update(bg, rc, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		t.Fatalf("scale %s %s: %v", k.kind, k.name, err)
	}
}

func (k *kube) setPaused(t *testing.T, paused bool) {
	k.update(t, func(d *appsv1.Deployment) { d.Spec.Paused = paused })
}

// undo does what `kubectl rollout undo` does, on the client as kubectl does:
// copy the previous revision's ReplicaSet template (without its
// pod-template-hash label) into the Deployment.
func (k *kube) undo(t *testing.T) {
	rss := k.replicaSets(t)
	d, err := k.cp.Client.AppsV1().Deployments(k.ns).Get(bg, k.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur := revNum(d.Annotations[revisionKey])
	var prev *appsv1.ReplicaSet
	for _, rs := range rss {
		if r := revNum(rs.Annotations[revisionKey]); r < cur && (prev == nil || r > revNum(prev.Annotations[revisionKey])) {
			prev = rs
		}
	}
	if prev == nil {
		t.Fatal("undo: no previous revision")
	}
	k.update(t, func(d *appsv1.Deployment) {
		tmpl := prev.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		d.Spec.Template = *tmpl
	})
}

const revisionKey = "deployment.kubernetes.io/revision"

func revNum(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

// replicaSets lists the namespace's ReplicaSets.
func (k *kube) replicaSets(t *testing.T) []*appsv1.ReplicaSet {
	l, err := k.cp.Client.AppsV1().ReplicaSets(k.ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*appsv1.ReplicaSet
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	return out
}

func (k *kube) pods(t *testing.T) []corev1.Pod {
	l, err := k.cp.Client.CoreV1().Pods(k.ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := l.Items[i], l.Items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	return l.Items
}

// revisions maps each owner's UID to its revision.
func (k *kube) revisions(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, rs := range k.replicaSets(t) {
		out[string(rs.UID)] = rs.Annotations[revisionKey]
	}
	rcs, err := k.cp.Client.CoreV1().ReplicationControllers(k.ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs.Items {
		out[string(rc.UID)] = ""
	}
	return out
}

func (k *kube) setReady(t *testing.T, rev string, n int, ready bool) int {
	revs := k.revisions(t)
	changed := 0
	for _, p := range k.pods(t) {
		if n >= 0 && changed >= n {
			break
		}
		ref := metav1.GetControllerOf(&p)
		if ref == nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		r, ok := revs[string(ref.UID)]
		if !ok || (rev != "" && r != rev) || podReady(&p) == ready {
			continue
		}
		// The controllers act while this loop runs (one pod at a time is
		// all a real kubelet offers), so a pod listed above may be gone.
		if err := k.cp.Kubelet.SetReady(bg, k.ns, p.Name, ready); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if _, seen := k.readyOrder[p.Name]; ready && !seen {
			k.readyOrder[p.Name] = len(k.readyOrder) + 1
		}
		changed++
	}
	return changed
}

func (k *kube) ready(t *testing.T, rev string, n int) int   { return k.setReady(t, rev, n, true) }
func (k *kube) unready(t *testing.T, rev string, n int) int { return k.setReady(t, rev, n, false) }

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// settle waits until the controllers and the kubelet are done: every object
// observed at its generation, every ReplicaSet at its size, every pod
// running, and nothing changing for a while.
func (k *kube) settle(t *testing.T) {
	deadline := time.Now().Add(90 * time.Second)
	last, same := "", 0
	for time.Now().Before(deadline) {
		fp, done := k.fingerprint(t)
		if done && fp == last {
			same++
			if same >= 4 {
				return
			}
		} else {
			same = 0
		}
		last = fp
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("kube-controller-manager: no steady state after 90s:\n%s", k.snapshot(t))
}

// fingerprint returns the resource versions of everything the scenario
// watches, and whether each controller has caught up with what it reads:
// every pod running, every owner's status counting its pods as they are,
// the Deployment's status summing its ReplicaSets'.
func (k *kube) fingerprint(t *testing.T) (string, bool) {
	var b strings.Builder
	done := true
	type counts struct{ pods, ready int32 }
	owned := map[string]*counts{}
	for _, p := range k.pods(t) {
		done = done && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
		b.WriteString("," + p.ResourceVersion)
		if ref := metav1.GetControllerOf(&p); ref != nil {
			c := owned[string(ref.UID)]
			if c == nil {
				c = &counts{}
				owned[string(ref.UID)] = c
			}
			c.pods++
			if podReady(&p) {
				c.ready++
			}
		}
	}
	check := func(uid string, spec, replicas, ready int32) {
		c := owned[uid]
		if c == nil {
			c = &counts{}
		}
		done = done && spec == replicas && c.pods == replicas && c.ready == ready
	}
	var sum [3]int32
	for _, rs := range k.replicaSets(t) {
		done = done && rs.Status.ObservedGeneration == rs.Generation
		check(string(rs.UID), *rs.Spec.Replicas, rs.Status.Replicas, rs.Status.ReadyReplicas)
		sum[0] += rs.Status.Replicas
		sum[1] += rs.Status.ReadyReplicas
		sum[2] += rs.Status.AvailableReplicas
		b.WriteString("," + rs.ResourceVersion)
	}
	rcs, err := k.cp.Client.CoreV1().ReplicationControllers(k.ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs.Items {
		done = done && rc.Status.ObservedGeneration == rc.Generation
		check(string(rc.UID), *rc.Spec.Replicas, rc.Status.Replicas, rc.Status.ReadyReplicas)
		b.WriteString("," + rc.ResourceVersion)
	}
	if k.kind == "Deployment" {
		d, err := k.cp.Client.AppsV1().Deployments(k.ns).Get(bg, k.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := d.Status
		done = done && st.ObservedGeneration == d.Generation &&
			st.Replicas == sum[0] && st.ReadyReplicas == sum[1] && st.AvailableReplicas == sum[2]
		b.WriteString("," + d.ResourceVersion)
	}
	return b.String(), done
}

func (k *kube) snapshot(t *testing.T) snapshot {
	d, err := k.cp.Client.AppsV1().Deployments(k.ns).Get(bg, k.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	s.Revision = d.Annotations[revisionKey]
	st := d.Status
	s.Status = [5]int32{st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.UnavailableReplicas}
	names := map[string]string{}
	for _, rs := range k.replicaSets(t) {
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		rev := rs.Annotations[revisionKey]
		names[rs.Name] = "web-<rev " + rev + ">"
		s.RS = append(s.RS, rsSnap{
			Revision: rev, Image: rs.Spec.Template.Spec.Containers[0].Image,
			Spec: *rs.Spec.Replicas, Replicas: rs.Status.Replicas,
			Ready: rs.Status.ReadyReplicas, Available: rs.Status.AvailableReplicas,
			DesiredAnn: rs.Annotations["deployment.kubernetes.io/desired-replicas"],
			MaxSurge:   rs.Annotations["deployment.kubernetes.io/max-replicas"],
		})
	}
	for _, c := range d.Status.Conditions {
		s.Conditions = append(s.Conditions, conditionString(string(c.Type), string(c.Status), c.Reason, c.Message, names))
	}
	return s.normal()
}

// survivors lists the ready order of the pods left (0: never made ready).
func (k *kube) survivors(t *testing.T) []int {
	var out []int
	for _, p := range k.pods(t) {
		if p.DeletionTimestamp == nil {
			out = append(out, k.readyOrder[p.Name])
		}
	}
	sort.Ints(out)
	return out
}
