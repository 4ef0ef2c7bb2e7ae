package workqueue

import (
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func TestQueueDeduplicates(t *testing.T) {
	q := New()
	k := api.Key{Kind: "ReplicaSet", Namespace: "default", Name: "a"}
	q.Add(k)
	q.Add(k)
	q.Add(api.Key{Kind: "ReplicaSet", Namespace: "default", Name: "b"})
	if got := q.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
}

func TestQueueNeverProcessesAKeyTwiceAtOnce(t *testing.T) {
	q := New()
	k := api.Key{Kind: "Service", Namespace: "default", Name: "kubia"}
	q.Add(k)
	got, ok := q.Get()
	if !ok || got != k {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	q.Add(k) // while processing
	if q.Len() != 0 {
		t.Fatalf("a key being processed must wait for Done")
	}
	q.Done(k)
	if q.Len() != 1 {
		t.Fatalf("a key added while processing must come back after Done")
	}
}

func TestQueueAddAfter(t *testing.T) {
	q := New()
	defer q.Shutdown()
	k := api.Key{Kind: "Deployment", Namespace: "default", Name: "kubia"}
	start := time.Now()
	q.AddAfter(k, 50*time.Millisecond)
	got, ok := q.Get()
	if !ok || got != k {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	if waited := time.Since(start); waited < 45*time.Millisecond {
		t.Fatalf("key came after %v, want >= 50ms", waited)
	}
}

func TestQueueShutdownWakesGet(t *testing.T) {
	q := New()
	done := make(chan bool)
	go func() {
		_, ok := q.Get()
		done <- ok
	}()
	q.Shutdown()
	if ok := <-done; ok {
		t.Fatal("Get after Shutdown returned ok")
	}
}

func TestQueueAddAfterKeepsOneEntryPerKeyAtTheEarlierTime(t *testing.T) {
	q := New()
	defer q.Shutdown()
	k := api.Key{Kind: "ReplicaSet", Namespace: "default", Name: "kubia"}
	for range 100 {
		q.AddAfter(k, time.Hour)
	}
	q.AddAfter(k, time.Minute)
	q.AddAfter(k, 2*time.Hour)
	q.mu.Lock()
	n, at := len(q.waiting), q.waiting[0].at
	q.mu.Unlock()
	if n != 1 {
		t.Fatalf("delay heap holds %d entries for one key, want 1", n)
	}
	if until := time.Until(at); until > time.Minute {
		t.Fatalf("key due in %v, want the earlier time (<= 1m)", until)
	}
}
