package k8stest

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// NodeName is the one node Kubelet plays.
const NodeName = "node-1"

// Kubelet stands in for the kubelet of one node, as far as the controllers
// can tell: it binds every new pod to NodeName (there is no scheduler),
// reports it Running but not Ready, and finishes a graceful deletion at once
// (the container "stopped"). A pod becomes Ready when the test calls SetReady,
// or by itself in a namespace set to AutoReady. It runs no container and
// decides nothing a controller decides.
type Kubelet struct {
	client kubernetes.Interface
	lister corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	auto   map[string]time.Duration // namespace: ready this long after Running
	holdNS map[string]bool          // namespaces whose deletions stay pending
	nextIP int
}

func startKubelet(ctx context.Context, client kubernetes.Interface) (*Kubelet, error) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName}}
	node, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create node %s: %w", NodeName, err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("node %s status: %w", NodeName, err)
	}

	kctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Pods()
	k := &Kubelet{
		client: client,
		lister: inf.Lister(),
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		cancel: cancel,
		done:   make(chan struct{}),
		auto:   map[string]time.Duration{},
		holdNS: map[string]bool{},
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	factory.Start(kctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		cancel()
		return nil, fmt.Errorf("kubelet: pod cache did not sync")
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for k.next(kctx) {
			}
		})
	}
	go func() {
		<-kctx.Done()
		k.queue.ShutDown()
		wg.Wait()
		factory.Shutdown()
		close(k.done)
	}()
	return k, nil
}

func (k *Kubelet) stop() {
	k.cancel()
	<-k.done
}

// AutoReady makes every pod of namespace ns Ready after delay once it runs
// (0: at once).
func (k *Kubelet) AutoReady(ns string, delay time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.auto[ns] = delay
}

// HoldDeletions keeps the pods of namespace ns Terminating once deleted, as a
// kubelet does while a container takes its grace period to stop, until
// ReleaseDeletions.
func (k *Kubelet) HoldDeletions(ns string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.holdNS[ns] = true
}

// ReleaseDeletions finishes the held deletions of namespace ns.
func (k *Kubelet) ReleaseDeletions(ns string) {
	k.mu.Lock()
	delete(k.holdNS, ns)
	k.mu.Unlock()
	pods, _ := k.lister.Pods(ns).List(everything)
	for _, p := range pods {
		k.queue.Add(ns + "/" + p.Name)
	}
}

func (k *Kubelet) next(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.sync(ctx, key); err != nil && ctx.Err() == nil {
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

// sync moves one pod one step along its life: bound, Running, (Ready), gone.
func (k *Kubelet) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := k.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pods := k.client.CoreV1().Pods(ns)
	k.mu.Lock()
	held := k.holdNS[ns]
	delay, auto := k.auto[ns]
	k.mu.Unlock()

	switch {
	case pod.DeletionTimestamp != nil:
		if held {
			return nil
		}
		zero := int64(0)
		err := pods.Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Spec.NodeName == "":
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
		}
		err := pods.Bind(ctx, b, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Status.Phase != corev1.PodRunning:
		k.mu.Lock()
		k.nextIP++
		ip := fmt.Sprintf("10.244.%d.%d", k.nextIP/250, k.nextIP%250+2)
		k.mu.Unlock()
		p := pod.DeepCopy()
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.HostIP = "127.0.0.1"
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		p.Status.StartTime = &now
		p.Status.ContainerStatuses = nil
		for _, c := range p.Spec.Containers {
			started := true
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: c.Image, Started: &started,
				ContainerID: "fake://" + string(p.UID) + "/" + c.Name,
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		setReady(p, false, now)
		_, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case auto && !isReady(pod):
		if wait := time.Until(pod.Status.StartTime.Add(delay)); wait > 0 {
			k.queue.AddAfter(key, wait)
			return nil
		}
		return k.SetReady(ctx, ns, name, true)
	}
	return nil
}

// SetReady sets a running pod's Ready condition, as the kubelet does when its
// readiness probe starts or stops passing.
func (k *Kubelet) SetReady(ctx context.Context, ns, name string, ready bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := k.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s/%s is %s, not Running: it cannot be made ready", ns, name, pod.Status.Phase)
		}
		if isReady(pod) == ready {
			return nil
		}
		setReady(pod, ready, metav1.Now())
		_, err = k.client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

func setReady(p *corev1.Pod, ready bool, now metav1.Time) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	for i := range p.Status.ContainerStatuses {
		p.Status.ContainerStatuses[i].Ready = ready
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		found := false
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == t {
				found = true
				if c.Status != status {
					c.Status, c.LastTransitionTime = status, now
				}
			}
		}
		if !found {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
		}
	}
}

// isReady says whether pod's Ready condition is True.
func isReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
