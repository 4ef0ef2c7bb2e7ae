package main

// The dashboard in a real browser: headless Chromium driven through the
// DevTools protocol (chromedp) against a real daemon and the Docker engine.
// Without Chromium the test skips, except under CI=true, where it fails.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mini-deploy/mini-deploy/deploytest"
)

// browserBound bounds the whole browser session; domWait one wait on the DOM.
const (
	browserBound = 6 * time.Minute
	domWait      = 120 * time.Second
)

var dashboardURL = regexp.MustCompile(`^(http://127\.0\.0\.1:\d+)/\?token=[0-9a-f]{48}\n$`)

// chromium finds the browser, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium on PATH: the dashboard's browser test needs it (Debian/Ubuntu: apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// dashView is what the page shows, read from its DOM.
type dashView struct {
	Conn string `json:"conn"`
	RS   []struct {
		Name     string `json:"name"`
		Image    string `json:"image"`
		Revision int    `json:"revision"`
		Replicas int    `json:"replicas"`
		Ready    int    `json:"ready"`
	} `json:"rs"`
	Series []struct {
		Label string  `json:"label"`
		Image string  `json:"image"`
		RPS   float64 `json:"rps"`
	} `json:"series"`
	ErrorsTotal float64  `json:"errorsTotal"`
	Pods        []string `json:"pods"`
	Endpoints   int      `json:"endpoints"`
	Ready       int      `json:"ready"`
	Rollout     string   `json:"rollout"`
	Overflow    bool     `json:"overflow"`
	Paused      string   `json:"paused"`
}

const viewJS = `(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const dep = document.querySelector('[data-deployment="kubia"]');
  const svc = document.querySelector('[data-service="kubia"]');
  const err = svc && svc.querySelector('[data-errors-total]');
  const steps = dep && dep.querySelector('[data-rollout]');
  return {
    conn: document.querySelector('#conn').dataset.state,
    rs: all('[data-deployment="kubia"] [data-rs]').map((e) => ({name: e.dataset.rs, image: e.dataset.image,
      revision: Number(e.dataset.revision), replicas: Number(e.dataset.replicas), ready: Number(e.dataset.ready)})),
    series: svc ? [...svc.querySelectorAll('[data-series]')].map((e) => ({label: e.dataset.label, image: e.dataset.image, rps: Number(e.dataset.rps)})) : [],
    errorsTotal: err ? Number(err.dataset.errorsTotal) : -1,
    pods: all('tr[data-pod]').map((e) => e.dataset.pod + " " + e.dataset.status),
    endpoints: svc ? svc.querySelectorAll('[data-endpoint="ready"]').length : 0,
    ready: dep ? Number(dep.querySelector('[data-ready]').textContent) : -1,
    rollout: steps ? steps.dataset.rollout + " " + steps.dataset.stepsDone + "/" + steps.dataset.steps : "",
    overflow: document.documentElement.scrollWidth > window.innerWidth + 1,
    paused: dep ? dep.dataset.paused : "",
  };
})()`

func (v dashView) rs(image string) (replicas, ready int, ok bool) {
	for _, r := range v.RS {
		if r.Image == image {
			return r.Replicas, r.Ready, true
		}
	}
	return 0, 0, false
}

func (v dashView) rps(image string) float64 {
	for _, s := range v.Series {
		if s.Image == image {
			return s.RPS
		}
	}
	return 0
}

// browser is one Chromium tab on the dashboard.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string // screenshots
}

func (b *browser) view() dashView {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[dashView](viewJS))
	if err != nil {
		b.t.Fatalf("read the dashboard's DOM: %v", err)
	}
	return v
}

// waitView polls the DOM until cond holds; every view seen goes to check
// first, so that what must hold throughout (no failed request) is checked
// throughout.
func (b *browser) waitView(what string, cond func(dashView) bool) dashView {
	b.t.Helper()
	deadline := time.Now().Add(domWait)
	var v dashView
	for {
		v = b.view()
		if v.ErrorsTotal > 0 {
			b.shot("failed-requests")
			b.t.Fatalf("the chart shows %v failed requests while waiting for %s: %+v", v.ErrorsTotal, what, v)
		}
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			b.t.Fatalf("the dashboard did not show %s within %v; last view: %+v", what, domWait, v)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// click clicks a button of the page. The page re-renders on each change, so a
// button can be replaced between finding and clicking it: try again then.
func (b *browser) click(sel string) {
	b.t.Helper()
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("click %s: %v", sel, err)
}

// answer fills the page's dialog (value "" leaves it) and confirms it.
func (b *browser) answer(value string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS("#dialog-ok"))}
	if value != "" {
		steps = append(steps, chromedp.SetValue(chromedp.CSS("#dialog-input"), value))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS("#dialog-ok")), chromedp.WaitNotVisible(chromedp.CSS("#dialog")))
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("answer the dialog with %q: %v", value, err)
	}
}

// shot saves a screenshot of the viewport as name.png and returns its path.
func (b *browser) shot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot %s: %s (%d KB)", name, path, len(png)>>10)
	return path
}

// The issue's proof: the page opened with the token shows the pods and the
// Service; a v1 -> v2 rollout under load, started from the page, shows the
// new ReplicaSet growing, the old one shrinking and the v2 traffic rising
// with no failed request; rollout undo from the page brings v1 back; Scale
// scales. Without the token: 401. Screenshots go to the test's artifact
// directory (go test -artifacts), and the mid-rollout one to
// $DASHBOARD_SCREENSHOT when set (make screenshot).
func TestE2EDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromium(t)
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created", "service/kubia created", "deployment.apps/kubia ready (3/3)")

	out := e.ok("dashboard")
	m := dashboardURL.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("mini-deploy dashboard printed %q, want http://127.0.0.1:PORT/?token=<48 hex digits>", out)
	}
	pageURL, base := strings.TrimSpace(out), m[1]
	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/", "/events", "/static/app.js", "/k/api/v1/pods", "/?token=" + strings.Repeat("0", 48)} {
		resp, err := noRedirect.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %s, want 401", path, resp.Status)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), browserBound)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 800),
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	b := &browser{t: t, ctx: bctx, dir: t.ArtifactDir()}
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	if loc, err := chromedp.Run(bctx, chromedp.Location()); err != nil || loc != base+"/" {
		t.Errorf("after opening the URL the page is at %q (%v), want %s/ (the token traded for a cookie)", loc, err, base)
	}
	v := b.waitView("3 ready v1 pods and the Service's 3 endpoints", func(v dashView) bool {
		r, ready, ok := v.rs("luksa/kubia:v1")
		return v.Conn == "live" && ok && r == 3 && ready == 3 && len(v.Pods) == 3 && v.Endpoints == 3
	})
	t.Logf("before the rollout: %+v", v)

	opts2 := deploytest.IssueMix
	opts2.Duration, opts2.Rate = 4*time.Minute, 200
	load := deploytest.StartLoad(t, url, opts2)
	b.waitView("v1 traffic in the chart", func(v dashView) bool { return v.rps("luksa/kubia:v1") > 0 })

	// v1 -> v2, from the page.
	b.click(`button[data-action="image"][data-target="deployments/default/kubia"]`)
	b.answer("luksa/kubia:v2")
	v = b.waitView("the rollout under way: v2 serving beside v1, the old ReplicaSet shrinking", func(v dashView) bool {
		_, newReady, okNew := v.rs("luksa/kubia:v2")
		oldReplicas, _, okOld := v.rs("luksa/kubia:v1")
		return okNew && okOld && newReady >= 1 && oldReplicas >= 1 && oldReplicas < 3 && v.rps("luksa/kubia:v2") > 0
	})
	t.Logf("mid-rollout: %+v", v)
	mid := b.shot("mid-rollout")
	if dst := os.Getenv("DASHBOARD_SCREENSHOT"); dst != "" && mid != "" {
		data, err := os.ReadFile(mid)
		if err == nil {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			t.Errorf("copy the screenshot to %s: %v", dst, err)
		}
	}
	// maxSurge 1, maxUnavailable 0, 3 replicas: `rollout plan` says 6 steps.
	if !strings.HasPrefix(v.Rollout, "progress ") || !strings.HasSuffix(v.Rollout, "/6") {
		t.Errorf("mid-rollout the Deployment shows %q, want a rollout in progress with its 6 steps", v.Rollout)
	}
	v = b.waitView("v2 complete: the new ReplicaSet at 3, the old at 0, v2 traffic only", func(v dashView) bool {
		newR, newReady, _ := v.rs("luksa/kubia:v2")
		oldR, _, _ := v.rs("luksa/kubia:v1")
		return newR == 3 && newReady == 3 && oldR == 0 && v.rps("luksa/kubia:v2") > 0 && v.rps("luksa/kubia:v1") == 0
	})
	t.Logf("after the rollout: %+v", v)
	b.shot("after-rollout")

	// rollout undo, from the page: v1 comes back.
	b.click(`button[data-action="undo"][data-target="deployments/default/kubia"]`)
	b.answer("")
	v = b.waitView("v1 back at 3 after rollout undo, v1 traffic only", func(v dashView) bool {
		oldR, oldReady, _ := v.rs("luksa/kubia:v1")
		newR, _, _ := v.rs("luksa/kubia:v2")
		return oldR == 3 && oldReady == 3 && newR == 0 && v.rps("luksa/kubia:v1") > 0 && v.rps("luksa/kubia:v2") == 0
	})
	t.Logf("after undo: %+v", v)
	b.shot("after-undo")
	load.Check(t, "dashboard: v1 -> v2 -> undo")
	answers(t, url, "v1", 6)

	// Scale, from the page.
	b.click(`button[data-action="scale"][data-target="deployments/default/kubia"]`)
	b.answer("4")
	b.waitView("4 ready pods after Scale", func(v dashView) bool { return v.Ready == 4 && len(v.Pods) == 4 && v.Endpoints == 4 })
	if got := e.ok("get", "deploy", "kubia", "-o", "jsonpath={.spec.replicas}"); got != "4" {
		t.Errorf("after Scale to 4 on the page, the Deployment's replicas are %q", got)
	}

	// Pause and resume; delete a pod (its ReplicaSet replaces it).
	b.click(`button[data-action="pause"][data-target="deployments/default/kubia"]`)
	b.waitView("the Deployment paused", func(v dashView) bool { return v.Paused == "true" })
	b.click(`button[data-action="resume"][data-target="deployments/default/kubia"]`)
	b.waitView("the Deployment resumed", func(v dashView) bool { return v.Paused == "false" })
	victim := strings.Fields(b.view().Pods[0])[0]
	b.click(`button[data-action="delete-pod"][data-target="pods/default/` + victim + `"]`)
	b.answer("")
	b.waitView("pod "+victim+" replaced", func(v dashView) bool {
		running := 0
		for _, p := range v.Pods {
			if strings.HasPrefix(p, victim+" ") {
				return false
			}
			if strings.HasSuffix(p, " Running") {
				running++
			}
		}
		return running == 4 && v.Ready == 4
	})

	// Dark mode, and a phone's width: nothing wider than the screen.
	b.click("#theme") // auto -> dark
	if theme, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.dataset.theme || ""`)); err != nil || theme != "dark" {
		t.Errorf("theme after one click: %q (%v), want dark", theme, err)
	}
	b.shot("dark")
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if v := b.view(); v.Overflow {
		t.Errorf("at a phone's width (390 px) the page is wider than the screen")
	}
	b.shot("phone")
	fmt.Fprintln(os.Stderr) // keep chromedp's and the test's output apart
}
