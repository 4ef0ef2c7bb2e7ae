// Package workqueue is the controllers' work queue: keys in, one worker per
// key at a time, delays and per-key back-off. Every controller of the control
// plane takes its keys from one Queue; to change how keys are retried or
// spaced, change this package.
package workqueue

import (
	"container/heap"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Queue is a de-duplicating work queue of object keys, in the manner of
// client-go's: a key added many times while it waits is processed once; a key
// is never processed by two workers at once (added while processing, it is
// processed again after); AddAfter delays a key; failures back off per key.
type Queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	order      []api.Key
	dirty      map[api.Key]bool
	processing map[api.Key]bool
	waiting    delayHeap
	waitingFor map[api.Key]*delayed // a key is at most once in waiting
	timer      *time.Timer
	failures   map[api.Key]int
	shutdown   bool
}

const (
	baseRetryDelay = 100 * time.Millisecond
	maxRetryDelay  = 30 * time.Second
)

// New returns an empty queue.
func New() *Queue {
	q := &Queue{
		dirty:      map[api.Key]bool{},
		processing: map[api.Key]bool{},
		waitingFor: map[api.Key]*delayed{},
		failures:   map[api.Key]int{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add makes key ready now.
func (q *Queue) Add(key api.Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key api.Key) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return // Done re-queues it
	}
	q.order = append(q.order, key)
	q.cond.Signal()
}

// AddAfter makes key ready after d. A key already waiting keeps one entry in
// the delay heap, due at the earlier of the two times.
func (q *Queue) AddAfter(key api.Key, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if w, ok := q.waitingFor[key]; ok {
		if at.Before(w.at) {
			w.at = at
			heap.Fix(&q.waiting, w.index)
			q.armLocked()
		}
		return
	}
	w := &delayed{key: key, at: at}
	q.waitingFor[key] = w
	heap.Push(&q.waiting, w)
	q.armLocked()
}

// AddRateLimited re-adds a key that failed, after a delay that doubles with
// each consecutive failure.
func (q *Queue) AddRateLimited(key api.Key) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	d := baseRetryDelay << min(n, 16)
	q.AddAfter(key, min(d, maxRetryDelay))
}

// Forget clears a key's failure count after a success.
func (q *Queue) Forget(key api.Key) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

func (q *Queue) armLocked() {
	if len(q.waiting) == 0 {
		return
	}
	d := time.Until(q.waiting[0].at)
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.promote)
		return
	}
	q.timer.Reset(d)
}

// promote moves due keys from the delay heap to the ready list.
func (q *Queue) promote() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for len(q.waiting) > 0 && !q.waiting[0].at.After(now) {
		d := heap.Pop(&q.waiting).(*delayed)
		delete(q.waitingFor, d.key)
		q.addLocked(d.key)
	}
	q.armLocked()
}

// Get blocks until a key is ready; ok is false once the queue shuts down.
func (q *Queue) Get() (key api.Key, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return api.Key{}, false
	}
	key = q.order[0]
	q.order = q.order[1:]
	delete(q.dirty, key)
	q.processing[key] = true
	return key, true
}

// Done ends processing of key.
func (q *Queue) Done(key api.Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		q.order = append(q.order, key)
		q.cond.Signal()
	}
}

// Shutdown wakes every Get with ok false.
func (q *Queue) Shutdown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	if q.timer != nil {
		q.timer.Stop()
	}
	q.cond.Broadcast()
}

// Len counts keys ready to be processed.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

type delayed struct {
	key   api.Key
	at    time.Time
	index int // in the heap, kept by Swap and Push for heap.Fix
}

type delayHeap []*delayed

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *delayHeap) Push(x any) {
	d := x.(*delayed)
	d.index = len(*h)
	*h = append(*h, d)
}
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
