package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func deployment(name, image string) *api.Deployment {
	replicas := int32(3)
	labels := map[string]string{"app": name}
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: name, Labels: labels},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: labels},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: labels},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: name, Image: image}}},
			},
		},
	}
}

func key(name string) api.Key {
	return api.Key{Kind: api.KindDeployment, Namespace: "default", Name: name}
}

func rv(t *testing.T, obj api.Object) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(obj.Meta().ResourceVersion, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", obj.Meta().ResourceVersion, err)
	}
	return n
}

func mustCreate(t *testing.T, s *Store, obj api.Object) api.Object {
	t.Helper()
	out, err := s.Create(obj)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return out
}

func TestCreateStampsMetadata(t *testing.T) {
	s := openStore(t, t.TempDir())
	in := deployment("kubia", "luksa/kubia:v1")
	in.APIVersion = ""
	in.UID = "chosen-by-client"
	out := mustCreate(t, s, in)

	m := out.Meta()
	if m.Namespace != "default" {
		t.Errorf("namespace = %q, want default", m.Namespace)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(m.UID) {
		t.Errorf("uid = %q, want a random UUID", m.UID)
	}
	if m.ResourceVersion != "1" || m.Generation != 1 || m.CreationTimestamp.IsZero() {
		t.Errorf("resourceVersion %q generation %d creationTimestamp %v, want 1, 1, set",
			m.ResourceVersion, m.Generation, m.CreationTimestamp)
	}
	if out.GetTypeMeta().APIVersion != "apps/v1" {
		t.Errorf("apiVersion = %q, want the kind's default", out.GetTypeMeta().APIVersion)
	}
	if in.Namespace != "" || in.ResourceVersion != "" {
		t.Errorf("the caller's object was changed: %+v", in.ObjectMeta)
	}
	if s.ResourceVersion() != 1 {
		t.Errorf("ResourceVersion() = %d, want 1", s.ResourceVersion())
	}

	// Neither the caller's object nor a returned one is shared with the store.
	in.Spec.Template.Spec.Containers[0].Image = "changed-by-caller"
	out.(*api.Deployment).Spec.Template.Spec.Containers[0].Image = "changed-by-caller"
	got, err := s.Get(api.Key{Kind: api.KindDeployment, Name: "kubia"})
	if err != nil {
		t.Fatal(err)
	}
	if img := got.(*api.Deployment).Spec.Template.Spec.Containers[0].Image; img != "luksa/kubia:v1" {
		t.Errorf("stored image = %q, want luksa/kubia:v1", img)
	}
	if got.Meta().UID != m.UID {
		t.Errorf("Get uid = %q, Create returned %q", got.Meta().UID, m.UID)
	}
}

func TestErrorMessages(t *testing.T) {
	s := openStore(t, t.TempDir())
	created := mustCreate(t, s, deployment("kubia", "v1"))

	_, err := s.Create(deployment("kubia", "v1"))
	checkErr(t, err, ErrAlreadyExists, `deployments.apps "kubia" already exists`)

	_, err = s.Get(key("nope"))
	checkErr(t, err, ErrNotFound, `deployments.apps "nope" not found`)
	_, err = s.Get(api.Key{Kind: api.KindReplicationController, Name: "kubia"})
	checkErr(t, err, ErrNotFound, `replicationcontrollers "kubia" not found`)
	_, err = s.Delete(api.Key{Kind: api.KindRollingUpdate, Name: "x"}, "")
	checkErr(t, err, ErrNotFound, `rollingupdates "x" not found`)

	stale := created.DeepCopy()
	stale.Meta().ResourceVersion = "99"
	_, err = s.Update(stale)
	checkErr(t, err, ErrConflict, `Operation cannot be fulfilled on deployments.apps "kubia": the object has been modified; please apply your changes to the latest version and try again`)

	other := created.DeepCopy()
	other.Meta().UID = "other"
	_, err = s.Update(other)
	checkErr(t, err, ErrConflict, fmt.Sprintf(`Operation cannot be fulfilled on deployments.apps "kubia": Precondition failed: UID in precondition: other, UID in object meta: %s`, created.Meta().UID))

	if _, err := s.Create(deployment("", "v1")); err == nil {
		t.Error("create without a name succeeded")
	}
	bad := deployment("x", "v1")
	bad.Kind = "Pod"
	if _, err := s.Create(bad); err == nil {
		t.Error("create of an unregistered kind succeeded")
	}
}

func checkErr(t *testing.T, err, sentinel error, msg string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v, want %v", err, sentinel)
		return
	}
	if err.Error() != msg {
		t.Errorf("error %q\n want %q", err, msg)
	}
}

func TestListSortedByNamespaceThenName(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, nn := range [][2]string{{"default", "b"}, {"a-b", "z"}, {"a", "y"}, {"default", "a"}, {"a", "x"}} {
		d := deployment(nn[1], "v1")
		d.Namespace = nn[0]
		mustCreate(t, s, d)
	}
	mustCreate(t, s, &api.Service{TypeMeta: api.TypeMeta{Kind: api.KindService}, ObjectMeta: api.ObjectMeta{Name: "kubia"}})

	list := func(ns string) string {
		objs, err := s.List(api.KindDeployment, ns)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		for _, o := range objs {
			out += o.Meta().Namespace + "/" + o.Meta().Name + " "
		}
		return out
	}
	if got, want := list(""), "a/x a/y a-b/z default/a default/b "; got != want {
		t.Errorf("List all = %q, want %q", got, want)
	}
	if got, want := list("a"), "a/x a/y "; got != want {
		t.Errorf("List a = %q, want %q", got, want)
	}
	if got := list("none"); got != "" {
		t.Errorf("List none = %q, want nothing", got)
	}
	if _, err := s.List("Pod", ""); err == nil {
		t.Error("List of an unregistered kind succeeded")
	}
}

func TestGenerationFollowsSpecOnly(t *testing.T) {
	s := openStore(t, t.TempDir())
	d := mustCreate(t, s, deployment("kubia", "v1")).(*api.Deployment)
	created := d.CreationTimestamp

	d.Labels["tier"] = "web"
	d.Annotations = map[string]string{"note": "x"}
	d.Status.ObservedGeneration = 1
	d.CreationTimestamp = api.Time{Time: created.Add(-time.Hour)}
	d.Generation = 42
	d = update(t, s, d)
	if d.Generation != 1 || d.ResourceVersion != "2" || d.Labels["tier"] != "web" || d.Status.ObservedGeneration != 1 {
		t.Errorf("metadata update: generation %d rv %s labels %v status %+v, want 1, 2, tier=web, observed 1",
			d.Generation, d.ResourceVersion, d.Labels, d.Status)
	}
	if !d.CreationTimestamp.Equal(created.Time) {
		t.Errorf("creationTimestamp changed to %v", d.CreationTimestamp)
	}

	d.Spec.Template.Spec.Containers[0].Image = "v2"
	d = update(t, s, d)
	if d.Generation != 2 {
		t.Errorf("spec update: generation %d, want 2", d.Generation)
	}

	// UpdateStatus takes only the status: the spec and labels given are ignored.
	st := d.DeepCopy().(*api.Deployment)
	st.Spec.Template.Spec.Containers[0].Image = "ignored"
	st.Labels = nil
	st.Status.ObservedGeneration = 2
	st.Status.ReadyReplicas = 3
	out, err := s.UpdateStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	d = out.(*api.Deployment)
	if d.Generation != 2 || d.Spec.Template.Spec.Containers[0].Image != "v2" || d.Labels["tier"] != "web" ||
		d.Status.ReadyReplicas != 3 || d.ResourceVersion != "4" {
		t.Errorf("UpdateStatus: generation %d image %s labels %v status %+v rv %s",
			d.Generation, d.Spec.Template.Spec.Containers[0].Image, d.Labels, d.Status, d.ResourceVersion)
	}

	// An Event has no spec: its generation stays 1 whatever changes.
	ev := &api.Event{TypeMeta: api.TypeMeta{Kind: api.KindEvent}, ObjectMeta: api.ObjectMeta{Name: "kubia.1"}, Reason: "Created", Count: 1}
	e := mustCreate(t, s, ev).(*api.Event)
	e.Count = 2
	e.Message = "again"
	e = update(t, s, e)
	if e.Generation != 1 || e.Count != 2 {
		t.Errorf("event update: generation %d count %d, want 1, 2", e.Generation, e.Count)
	}

	ru := &api.RollingUpdate{TypeMeta: api.TypeMeta{Kind: api.KindRollingUpdate}, ObjectMeta: api.ObjectMeta{Name: "kubia"},
		Spec: api.RollingUpdateSpec{From: "kubia-v1", To: "kubia-v2"}}
	r := mustCreate(t, s, ru).(*api.RollingUpdate)
	r.Status.Phase = "Running"
	r = update(t, s, r)
	if r.Generation != 1 {
		t.Errorf("rolling update status change: generation %d, want 1", r.Generation)
	}
	r.Spec.Image = "v2"
	r = update(t, s, r)
	if r.Generation != 2 {
		t.Errorf("rolling update spec change: generation %d, want 2", r.Generation)
	}
}

func update[T api.Object](t *testing.T, s *Store, obj T) T {
	t.Helper()
	out, err := s.Update(obj)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	return out.(T)
}

func TestUpdateThatChangesNothingWritesNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	d := mustCreate(t, s, deployment("kubia", "v1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := s.Watch(ctx)

	same, err := s.Update(d)
	if err != nil {
		t.Fatal(err)
	}
	if same.Meta().ResourceVersion != d.Meta().ResourceVersion {
		t.Errorf("no-op update took resourceVersion %s", same.Meta().ResourceVersion)
	}
	if _, err := s.UpdateStatus(d); err != nil {
		t.Fatal(err)
	}
	d.Meta().Labels["x"] = "y"
	changed, err := s.Update(d)
	if err != nil {
		t.Fatal(err)
	}
	ev := <-events
	if ev.Type != Modified || ev.Object.Meta().ResourceVersion != changed.Meta().ResourceVersion || s.ResourceVersion() != 2 {
		t.Errorf("first event %v rv %s (store at %d), want the label change at 2",
			ev.Type, ev.Object.Meta().ResourceVersion, s.ResourceVersion())
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	s := openStore(t, t.TempDir())
	for round := range 20 {
		name := fmt.Sprintf("kubia-%d", round)
		base := mustCreate(t, s, deployment(name, "v1"))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i := range errs {
			obj := base.DeepCopy().(*api.Deployment)
			obj.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("v%d", i+2)
			wg.Go(func() {
				<-start
				_, errs[i] = s.Update(obj)
			})
		}
		close(start)
		wg.Wait()
		var won, lost int
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrConflict):
				lost++
			default:
				t.Fatalf("update: %v", err)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("round %d: %d won, %d conflicted; want one each", round, won, lost)
		}
	}
}

func TestDelete(t *testing.T) {
	s := openStore(t, t.TempDir())
	d := mustCreate(t, s, deployment("kubia", "v1"))
	_, err := s.Delete(key("kubia"), "99")
	checkErr(t, err, ErrConflict, `Operation cannot be fulfilled on deployments.apps "kubia": the object has been modified; please apply your changes to the latest version and try again`)

	gone, err := s.Delete(api.Key{Kind: api.KindDeployment, Name: "kubia"}, d.Meta().ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	if gone.Meta().UID != d.Meta().UID || gone.Meta().ResourceVersion != "2" || s.ResourceVersion() != 2 {
		t.Errorf("deleted object uid %s rv %s (store at %d), want uid %s at 2",
			gone.Meta().UID, gone.Meta().ResourceVersion, s.ResourceVersion(), d.Meta().UID)
	}
	if _, err := s.Get(key("kubia")); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(key("kubia"), ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func TestTxnIsAllOrNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	existing := mustCreate(t, s, deployment("existing", "v1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := s.Watch(ctx)

	boom := errors.New("boom")
	err := s.Txn(func(tx *Tx) error {
		if _, err := tx.Create(deployment("a", "v1")); err != nil {
			return err
		}
		if _, err := tx.Get(key("a")); err != nil {
			return fmt.Errorf("a transaction must read its own writes: %w", err)
		}
		if _, err := tx.Delete(key("existing"), ""); err != nil {
			return err
		}
		if _, err := tx.Create(deployment("a", "v1")); !errors.Is(err, ErrAlreadyExists) {
			return fmt.Errorf("duplicate in one transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Txn = %v, want boom", err)
	}
	if _, err := s.Get(key("a")); !errors.Is(err, ErrNotFound) {
		t.Errorf("a was stored by a failed transaction: %v", err)
	}
	if _, err := s.Get(key("existing")); err != nil {
		t.Errorf("existing was deleted by a failed transaction: %v", err)
	}
	if s.ResourceVersion() != 1 {
		t.Errorf("ResourceVersion() = %d after a failed transaction, want 1", s.ResourceVersion())
	}

	func() {
		defer func() { recover() }()
		s.Txn(func(tx *Tx) error {
			tx.Create(deployment("b", "v1"))
			panic("in the middle")
		})
	}()
	if _, err := s.Get(key("b")); !errors.Is(err, ErrNotFound) {
		t.Errorf("b was stored by a transaction that panicked: %v", err)
	}

	err = s.Txn(func(tx *Tx) error {
		if _, err := tx.Create(deployment("c", "v1")); err != nil {
			return err
		}
		_, err := tx.Update(existing)
		if err != nil {
			return err
		}
		_, err = tx.Delete(key("existing"), "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ADDED c 2", "DELETED existing 3"}
	for _, w := range want {
		ev := <-events
		if got := fmt.Sprintf("%v %s %s", ev.Type, ev.Object.Meta().Name, ev.Object.Meta().ResourceVersion); got != w {
			t.Errorf("event %q, want %q", got, w)
		}
	}
}

// A burst of writes reaches every watcher whole and in order, while one
// watcher reads slowly and another reads nothing until the burst is over:
// neither may hold up the writers or lose an event.
func TestWatchDeliversABurstInOrder(t *testing.T) {
	writes, perTxn := 10000, 100
	if testing.Short() {
		writes = 1000
	}
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, stalled := s.Watch(ctx), s.Watch(ctx)

	check := func(name string, ch <-chan Event, pause func(i int)) {
		for i := range writes {
			pause(i)
			ev, ok := <-ch
			if !ok {
				t.Errorf("%s: channel closed after %d events", name, i)
				return
			}
			if ev.Type != Added || rv(t, ev.Object) != uint64(i)+1 || ev.Object.Meta().Name != fmt.Sprintf("ev-%05d", i) {
				t.Errorf("%s: event %d is %v %s at %s", name, i, ev.Type, ev.Object.Meta().Name, ev.Object.Meta().ResourceVersion)
				return
			}
			ev.Object.Meta().Labels["seen-by"] = name // each receiver owns its copy
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		check("slow", slow, func(i int) {
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		})
	})

	start := time.Now()
	for n := 0; n < writes; n += perTxn {
		err := s.Txn(func(tx *Tx) error {
			for i := n; i < n+perTxn; i++ {
				ev := &api.Event{TypeMeta: api.TypeMeta{Kind: api.KindEvent},
					ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("ev-%05d", i), Labels: map[string]string{"app": "kubia"}},
					Reason:     "Created", Message: "Created pod: kubia-" + strconv.Itoa(i)}
				if _, err := tx.Create(ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d writes in %v", writes, time.Since(start))

	check("stalled", stalled, func(int) {})
	wg.Wait()
}

func TestWatchEnds(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := s.Watch(ctx)
	closing := s.Watch(context.Background())
	mustCreate(t, s, deployment("a", "v1"))
	mustCreate(t, s, deployment("b", "v1"))
	cancel()
	for range cancelled {
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var names string
	for ev := range closing {
		names += ev.Object.Meta().Name
	}
	if names != "ab" {
		t.Errorf("events before close = %q, want ab", names)
	}
	if _, ok := <-s.Watch(context.Background()); ok {
		t.Error("Watch on a closed store delivered an event")
	}
	if _, err := s.Get(key("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Create(deployment("c", "v1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Close: %v, want ErrClosed", err)
	}
}

func TestPrune(t *testing.T) {
	s := openStore(t, t.TempDir())
	for i := range 5 {
		mustCreate(t, s, &api.Event{TypeMeta: api.TypeMeta{Kind: api.KindEvent},
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("kubia.%d", i)}, Count: int32(i)})
	}
	n, err := s.Prune(api.KindEvent, func(o api.Object) bool { return o.(*api.Event).Count >= 3 })
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	left, _ := s.List(api.KindEvent, "")
	if len(left) != 2 || left[0].Meta().Name != "kubia.3" {
		t.Errorf("left after prune: %d objects", len(left))
	}
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := mustCreate(t, s, deployment("kubia", "v1"))
	mustCreate(t, s, deployment("other", "v1"))
	if _, err := s.Delete(key("other"), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	got, err := s.Get(key("kubia"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta().UID != d.Meta().UID || got.(*api.Deployment).Spec.Template.Spec.Containers[0].Image != "v1" {
		t.Errorf("reopened object differs: %+v", got)
	}
	if s.ResourceVersion() != 3 {
		t.Errorf("ResourceVersion() after reopen = %d, want 3", s.ResourceVersion())
	}
	if next := mustCreate(t, s, deployment("next", "v1")); next.Meta().ResourceVersion != "4" {
		t.Errorf("first write after reopen got resourceVersion %s, want 4", next.Meta().ResourceVersion)
	}
}

func TestSecondOpenInProcessIsLocked(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	checkErr(t, err, ErrLocked, fmt.Sprintf("state directory %s is in use by another mini-deploy daemon (pid %d)", dir, os.Getpid()))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

// A limited watch whose reader stops reading is cut off once its backlog
// passes the limit: what waits for it stays bounded, and its channel closes
// so the reader knows to list again. An unlimited watch beside it gets all.
func TestWatchLimitedCutsOffAStalledReader(t *testing.T) {
	const limit, writes = 10, 500
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stalled := s.WatchLimited(ctx, limit)
	all := s.Watch(ctx)
	for i := range writes {
		ev := &api.Event{TypeMeta: api.TypeMeta{Kind: api.KindEvent},
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("ev-%05d", i)}, Reason: "Created"}
		if _, err := s.Create(ev); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case _, ok := <-stalled:
			if !ok {
				done = true
				break
			}
			got++
		case <-timeout:
			t.Fatalf("the stalled watch never closed (%d events read)", got)
		}
	}
	// At most the batch its goroutine held when it stalled, plus the queue
	// that overflowed: never the whole history.
	if got > 2*limit+1 {
		t.Fatalf("stalled watch delivered %d events, want at most %d", got, 2*limit+1)
	}
	for i := range writes {
		if _, ok := <-all; !ok {
			t.Fatalf("the unlimited watch closed after %d events", i)
		}
	}
}
