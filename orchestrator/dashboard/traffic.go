package dashboard

import (
	"context"
	"math"
	"sync"
	"time"
)

// The chart: one point a second over the last five minutes.
const (
	SamplePeriod = time.Second
	Window       = 5 * time.Minute
)

// Point is the traffic of one sample period: for each Service and revision
// ("kubia/7c9d5f6b8"), requests per second answered and failed. A failure is
// a 5xx or no answer at all; a 4xx is the app's own answer.
type Point struct {
	T      int64                 `json:"t"` // unix milliseconds
	Series map[string][2]float64 `json:"s"` // [answered/s, failed/s]
}

// SeriesKey names a Service's revision in a Point.
func SeriesKey(service, revision string) string { return service + "/" + revision }

// traffic turns running totals into rates and keeps the last Window of them.
type traffic struct {
	read func() []RequestCount

	mu     sync.Mutex
	last   map[seriesID]uint64
	lastT  time.Time
	points []Point
	subs   map[chan Point]struct{}
}

// seriesID is one counter: a pod's answers with one code.
type seriesID struct {
	service, pod, revision string
	code                   int
}

func newTraffic(read func() []RequestCount) *traffic {
	return &traffic{read: read, subs: map[chan Point]struct{}{}}
}

func (t *traffic) run(ctx context.Context) {
	if t.read == nil {
		return
	}
	tick := time.NewTicker(SamplePeriod)
	defer tick.Stop()
	t.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.sample(now)
		}
	}
}

// sample reads the counters once and, from the second call on, records and
// sends the rates since the previous call. Differences are taken per
// counter: a counter that went (its pod left) adds nothing, one that is new
// or started again counts from 0.
func (t *traffic) sample(now time.Time) {
	cur := map[seriesID]uint64{}
	for _, c := range t.read() {
		cur[seriesID{c.Service, c.Pod, c.Revision, c.Code}] += c.Count
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	last, lastT := t.last, t.lastT
	t.last, t.lastT = cur, now
	if last == nil {
		return
	}
	secs := now.Sub(lastT).Seconds()
	if secs <= 0 {
		return
	}
	deltas := map[string][2]uint64{}
	for id, n := range cur {
		if prev, ok := last[id]; ok && n >= prev {
			n -= prev
		}
		k := SeriesKey(id.service, id.revision)
		v := deltas[k]
		if id.code == 0 || id.code >= 500 {
			v[1] += n
		} else {
			v[0] += n
		}
		deltas[k] = v
	}
	p := Point{T: now.UnixMilli(), Series: make(map[string][2]float64, len(deltas))}
	for k, v := range deltas {
		p.Series[k] = [2]float64{math.Round(float64(v[0])/secs*10) / 10, math.Round(float64(v[1])/secs*10) / 10}
	}
	t.points = append(t.points, p)
	if n := int(Window / SamplePeriod); len(t.points) > n {
		t.points = append(t.points[:0:0], t.points[len(t.points)-n:]...)
	}
	for ch := range t.subs {
		select {
		case ch <- p:
		default: // a slow page misses a point rather than slowing the others
		}
	}
}

// subscribe returns the history so far and a channel of the points to come.
func (t *traffic) subscribe() ([]Point, chan Point) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan Point, 16)
	t.subs[ch] = struct{}{}
	return append([]Point(nil), t.points...), ch
}

func (t *traffic) unsubscribe(ch chan Point) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.subs, ch)
}
