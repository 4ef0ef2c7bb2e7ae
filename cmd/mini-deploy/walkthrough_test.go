package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/deploytest"
	"github.com/mini-deploy/mini-deploy/orchestrator"
)

// TestREADMEWalkthrough runs every command of the README's walk-through, in
// order, in one shell (so `URL=...` carries over), against a daemon of its
// own, and checks each command's exit status and the output the README shows.
// The README cannot rot: a changed verb, message or behaviour fails here.
//
// Shown output is matched line by line, in order, as a subsequence of the
// real output, after both are normalized (pod name suffixes, ReplicaSet
// hashes, node ports, ages and pids vary on every run). A line "..." in the
// README stands for any output.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("the walk-through runs the whole seed story on Docker")
	}
	engine := deploytest.RequireEngine(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	steps := walkthroughSteps(t, filepath.Join(root, "README.md"))
	if len(steps) < 10 {
		t.Fatalf("found %d walk-through commands in README.md; the markers or code blocks are off", len(steps))
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "mini-deploy"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	instance, _ := instanceOf(home)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		down := exec.CommandContext(ctx, filepath.Join(bin, "mini-deploy"), "down", "--home", home)
		_ = down.Run()
		walkStopDaemon(home)
		deploytest.RemoveMatching(engine, map[string]string{orchestrator.LabelInstance: instance})
	})

	var script strings.Builder
	script.WriteString("cd " + strconv.Quote(root) + "\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '@@@begin %d'\n{ %s\n} 2>&1\necho \"@@@end %d $?\"\n", i, s.command, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	sh.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "MINI_DEPLOY_HOME="+home)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through shell: %v\n%s", err, out)
	}
	results := splitResults(string(out))
	t.Logf("ran the README's %d walk-through commands", len(steps))
	for i, s := range steps {
		r, ok := results[i]
		if !ok {
			t.Fatalf("step %d (%s) did not run; output:\n%s", i, s.command, out)
		}
		if r.status != 0 {
			t.Errorf("$ %s\nexited %d:\n%s", s.command, r.status, r.output)
			continue
		}
		if missing := missingLines(s.expected, r.output); missing != "" {
			t.Errorf("$ %s\nthe README shows %q, which is not in the output:\n%s", s.command, missing, r.output)
		}
	}
}

type walkStep struct {
	command  string
	expected []string
}

// walkthroughSteps reads the console blocks between the walk-through markers.
func walkthroughSteps(t *testing.T, readme string) []walkStep {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []walkStep
	inside, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- walkthrough:begin"):
			inside = true
		case strings.HasPrefix(line, "<!-- walkthrough:end"):
			inside = false
		case !inside:
		case strings.HasPrefix(line, "```console"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case !inBlock:
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, walkStep{command: strings.TrimPrefix(line, "$ ")})
		case len(steps) > 0:
			steps[len(steps)-1].expected = append(steps[len(steps)-1].expected, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

type stepResult struct {
	status int
	output string
}

var markerRE = regexp.MustCompile(`^@@@(begin|end) (\d+)(?: (\d+))?$`)

func splitResults(out string) map[int]stepResult {
	results := map[int]stepResult{}
	var cur strings.Builder
	for _, line := range strings.Split(out, "\n") {
		m := markerRE.FindStringSubmatch(line)
		switch {
		case m == nil:
			cur.WriteString(line + "\n")
		case m[1] == "begin":
			cur.Reset()
		default:
			i, _ := strconv.Atoi(m[2])
			status, _ := strconv.Atoi(m[3])
			results[i] = stepResult{status: status, output: cur.String()}
		}
	}
	return results
}

// What differs between runs, and what it is normalized to.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`-[0-9a-z]{8,10}\b`), "-HASH"},                  // ReplicaSet hash
	{regexp.MustCompile(`-[bcdfghjklmnpqrstvwxz2456789]{5}\b`), "-POD"}, // pod suffix
	{regexp.MustCompile(`\b3[0-2]\d{3}\b`), "PORT"},                     // node port
	{regexp.MustCompile(`\b\d+[smhd](\d+[smh])?\b`), "AGE"},             // age
	{regexp.MustCompile(`pid \d+`), "pid N"},
	{regexp.MustCompile(`\s+`), " "},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return strings.TrimSpace(s)
}

// missingLines returns the first expected line not found, in order, in out.
func missingLines(expected []string, out string) string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		got = append(got, normalize(l))
	}
	j := 0
	for _, want := range expected {
		if strings.TrimSpace(want) == "..." || strings.TrimSpace(want) == "" {
			continue
		}
		w := normalize(want)
		for j < len(got) && got[j] != w {
			j++
		}
		if j == len(got) {
			return want
		}
		j++
	}
	return ""
}

// walkStopDaemon kills the daemon of home if `down` did not stop it.
func walkStopDaemon(home string) {
	b, err := os.ReadFile(filepath.Join(home, pidName))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
}
