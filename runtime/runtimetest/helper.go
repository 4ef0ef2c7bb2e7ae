package runtimetest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// The helper image is what the suite runs in every container: the program
// in ./helper, FROM scratch.
const (
	HelperImage = "mini-deploy-runtimetest/helper:latest"
	// HelperLog is what the helper writes when it starts: a line on stdout,
	// then one on stderr.
	HelperLog = "helper started\nhelper stderr\n"
	// HelperStopExitCode is the helper's exit code on SIGTERM; it is not 0
	// so that a test can tell it from a default.
	HelperStopExitCode = 3
)

// HelperExec is what Exec returns for the helper's "exec CODE WORDS..."
// command, for fakes that have no process to run (fake.SetExec).
func HelperExec(_ rt.Container, cmd []string, out io.Writer) (rt.ExecResult, error) {
	if len(cmd) < 3 || cmd[1] != "exec" {
		io.WriteString(out, "exec: "+strings.Join(cmd, " ")+": not found\n")
		return rt.ExecResult{ExitCode: 127}, nil
	}
	code, _ := strconv.Atoi(cmd[2])
	io.WriteString(out, strings.Join(cmd[3:], " ")+"\nexec stderr\n")
	return rt.ExecResult{ExitCode: code}, nil
}

// BuildHelper compiles the helper statically with the Go toolchain running
// the tests and builds HelperImage from it through r, so a real engine
// needs no registry. The build is cached by Go and by the engine, so it is
// fast after the first time.
func BuildHelper(t testing.TB, r rt.Runtime) {
	t.Helper()
	dir := t.TempDir()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "helper"),
		"github.com/mini-deploy/mini-deploy/runtime/runtimetest/helper")
	build.Env = append(slices.Clone(os.Environ()), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY helper /helper\nENTRYPOINT [\"/helper\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.BuildImage(t.Context(), rt.BuildOptions{Dir: dir, Tags: []string{HelperImage}}); err != nil {
		t.Fatalf("building %s: %v", HelperImage, err)
	}
}
