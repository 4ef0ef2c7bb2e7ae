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
	last   map[string][2]uint64
	lastT  time.Time
	points []Point
	subs   map[chan Point]struct{}
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
// sends the rates since the previous call.
func (t *traffic) sample(now time.Time) {
	totals := map[string][2]uint64{}
	for _, c := range t.read() {
		k := SeriesKey(c.Service, c.Revision)
		v := totals[k]
		if c.Code == 0 || c.Code >= 500 {
			v[1] += c.Count
		} else {
			v[0] += c.Count
		}
		totals[k] = v
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	last, lastT := t.last, t.lastT
	t.last, t.lastT = totals, now
	if last == nil {
		return
	}
	secs := now.Sub(lastT).Seconds()
	if secs <= 0 {
		return
	}
	p := Point{T: now.UnixMilli(), Series: make(map[string][2]float64, len(totals))}
	for k, v := range totals {
		prev := last[k]
		var r [2]float64
		for i := range v {
			d := v[i]
			if d >= prev[i] {
				d -= prev[i]
			}
			r[i] = math.Round(float64(d)/secs*10) / 10
		}
		p.Series[k] = r
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
