package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// holdEnv makes the test binary, run again as a child, open the store in
// the directory it names, say "locked" and hold it until stdin closes.
const holdEnv = "MINI_DEPLOY_STORE_TEST_HOLD"

func TestHoldLockHelper(t *testing.T) {
	dir := os.Getenv(holdEnv)
	if dir == "" {
		t.Skip("helper for the lock tests, run as a child process")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
	os.Exit(0)
}

// startHolder runs a child process that holds dir and returns once it does.
func startHolder(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLockHelper$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd, stdin
}

func TestOpenHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin := startHolder(t, dir)

	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	checkErr(t, err, ErrLocked, fmt.Sprintf("state directory %s is in use by another mini-deploy daemon (pid %d)", dir, cmd.Process.Pid))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open took %v to give up", d)
	}

	// A clean exit hands the directory over.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	openStore(t, dir)
}

// A daemon killed with SIGKILL leaves its owner file behind, but the kernel
// drops its lock, so the next daemon starts without any cleanup.
func TestOpenAfterOwnerWasKilled(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := startHolder(t, dir)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) {
		t.Fatalf("holder: %v", err)
	}
	openStore(t, dir)
	if pid := readOwner(dir); pid != os.Getpid() {
		t.Errorf("owner file names pid %d, want %d", pid, os.Getpid())
	}
}

// The owner file is written without following a symbolic link put in its
// place: the store refuses to open instead of overwriting the link's target.
func TestOpenDoesNotFollowAnOwnerFileSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, OwnerFile)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("Open with a symlinked owner file = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the owner file's link target was overwritten: %q", b)
	}
}

// A state.db that is not a database the store can read is ErrCorrupt, with
// its path, not a generic failure.
func TestOpenCorruptFileIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(deployment("kubia", "luksa/kubia:v1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, DBFile)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Both meta pages, where bbolt finds everything else.
	if _, err := f.Write([]byte(strings.Repeat("garbage!", 2*4096/8))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path+" is corrupt") {
		t.Errorf("Open(corrupt) = %v, want ErrCorrupt naming %s", err, path)
	}
}
