package orchestrator

import (
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func TestQueueDeduplicates(t *testing.T) {
	q := newQueue()
	k := api.Key{Kind: "ReplicaSet", Namespace: "default", Name: "a"}
	q.Add(k)
	q.Add(k)
	q.Add(api.Key{Kind: "ReplicaSet", Namespace: "default", Name: "b"})
	if got := q.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
}

func TestQueueNeverProcessesAKeyTwiceAtOnce(t *testing.T) {
	q := newQueue()
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
	q := newQueue()
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
	q := newQueue()
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
