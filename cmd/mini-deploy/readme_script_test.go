package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMENoSleep runs the README's script that tells the seed's story
// with apply, wait, diff and rollout status, as written there, and checks
// that it sleeps nowhere, asks mini-deploy for nothing else but starting the
// daemon and the Service's URL, and shows v1 turn into v2.
func TestREADMENoSleep(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- script:no-sleep -->\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```sh block after <!-- script:no-sleep -->")
	}
	script := string(m[1])
	if regexp.MustCompile(`\bsleep\b`).MatchString(script) {
		t.Errorf("the README's script sleeps:\n%s", script)
	}
	allowed := regexp.MustCompile(`^mini-deploy (up|apply -f|wait --for=condition=Available|diff -f|rollout status|get svc kubia -o jsonpath=)`)
	for _, use := range regexp.MustCompile(`mini-deploy [^|;#)\n]*`).FindAllString(script, -1) {
		if !allowed.MatchString(use) {
			t.Errorf("the README's script runs %q: only apply, wait, diff and rollout status (and up, get for the URL)", use)
		}
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	os.Symlink(filepath.Join(root, "examples"), filepath.Join(work, "examples"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", script)
	sh.Dir = work
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(e.bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "MINI_DEPLOY_HOME="+e.home)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's script: %v\n%s", err, out)
	}
	text := string(out)
	v1 := strings.Index(text, "This is v1 running in pod kubia-")
	diff := strings.Index(text, "\n+        - image: luksa/kubia:v2\n")
	done := strings.Index(text, "deployment \"kubia\" successfully rolled out\n")
	v2 := strings.Index(text, "This is v2 running in pod kubia-")
	if v1 < 0 || diff < v1 || done < diff || v2 < done {
		t.Errorf("the README's script: want v1, the diff, the rollout, then v2, in that order:\n%s", text)
	}
	t.Logf("the README's script:\n%s", text)
}
