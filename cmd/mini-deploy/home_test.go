package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// noEngine points the Docker client at a socket nobody serves, so that a
// daemon a test starts in-process can never touch the real engine.
func noEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-engine.sock"))
}

// A state directory anyone may write to is refused by every verb that
// writes there, with the fix in the message.
func TestHomeWritableByOthersIsRefused(t *testing.T) {
	noEngine(t)
	home := t.TempDir()
	if err := os.Chmod(home, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, store.DBFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "state directory " + home + " is writable by others than you (mode 0777)"
	for _, verb := range []string{"daemon", "down"} {
		_, errOut, code := cli(t, home, verb)
		if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, `"chmod go-w `+home+`"`) {
			t.Errorf("%s in a 0777 home: exit %d %q, want an error saying %q and how to fix it", verb, code, errOut, want)
		}
	}
	if _, err := os.Stat(filepath.Join(home, pidName)); !os.IsNotExist(err) {
		t.Errorf("the daemon wrote its pid into the refused home: %v", err)
	}
	// up refuses it before it starts anything.
	g := &globalOptions{home: home, namespace: "default", out: &strings.Builder{}, errOut: &strings.Builder{}}
	if err := startDaemon(context.Background(), g, defaultDaemonFlags()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("up in a 0777 home: %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(home, logName)); !os.IsNotExist(err) {
		t.Errorf("up opened its log in the refused home: %v", err)
	}
}

// A state directory of another user is refused, with whose it is and what
// to do.
func TestHomeOfAnotherUserIsRefused(t *testing.T) {
	home := t.TempDir()
	other := 65534 // nobody
	if os.Getuid() == 0 {
		if err := os.Chown(home, other, other); err != nil {
			t.Fatal(err)
		}
	} else {
		// Without root no directory can be given away; / is root's.
		home, other = "/", 0
	}
	_, err := prepareHome(home)
	want := "state directory " + home + " belongs to uid " + strconv.Itoa(other) + ", not to you"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chown") {
		t.Errorf("prepareHome(%s owned by %d) = %v, want %q and how to fix it", home, other, err, want)
	}
}

func TestHomeIsMadePrivateAndAPrivateOneIsAccepted(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a", "home")
	got, err := prepareHome(home)
	if err != nil || got != home {
		t.Fatalf("prepareHome(new) = %q, %v", got, err)
	}
	fi, err := os.Stat(home)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new home: %v %v, want mode 0700", fi.Mode(), err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareHome(home); err != nil {
		t.Errorf("a home readable by others but writable only by its owner is refused: %v", err)
	}
}

// symlinkVictim puts a symbolic link at home/name to a file of the user's
// and returns that file's path.
func symlinkVictim(t *testing.T, home, name string) string {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(home, name)); err != nil {
		t.Fatal(err)
	}
	return victim
}

func checkVictim(t *testing.T, victim string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("the file a symbolic link points to was written: %q %v", b, err)
	}
}

// A pid file that is a symbolic link is not followed: the daemon refuses
// to start rather than overwrite what it points to.
func TestDaemonDoesNotFollowAPidFileSymlink(t *testing.T) {
	noEngine(t)
	home := t.TempDir()
	victim := symlinkVictim(t, home, pidName)
	_, errOut, code := cli(t, home, "daemon")
	if code != 1 || !strings.Contains(errOut, filepath.Join(home, pidName)+" is a symbolic link") || !strings.Contains(errOut, "rm ") {
		t.Errorf("daemon with a symlinked pid file: exit %d %q", code, errOut)
	}
	checkVictim(t, victim)
}

// The daemon's log, which `up` opens, is not followed either.
func TestUpDoesNotFollowALogSymlink(t *testing.T) {
	home := t.TempDir()
	victim := symlinkVictim(t, home, logName)
	g := &globalOptions{home: home, namespace: "default", out: &strings.Builder{}, errOut: &strings.Builder{}}
	err := startDaemon(context.Background(), g, defaultDaemonFlags())
	if err == nil || !strings.Contains(err.Error(), filepath.Join(home, logName)+" is a symbolic link") {
		t.Errorf("up with a symlinked log: %v", err)
	}
	checkVictim(t, victim)
}

// The socket is private from the moment it exists, whatever the umask.
func TestSocketIsCreatedPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), socketName)
	ln, err := listenPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket mode %v, want no access for group or others", fi.Mode())
	}
	// The process's umask is back.
	if now := syscall.Umask(0); now != 0 {
		t.Errorf("umask after listen = %04o, want 0 as before", now)
	}
}

// TestListenInPlace: a data plane's socket appears under its name only once
// it accepts connections (a scan that found it refusing would remove it),
// private, and is left for the caller to remove.
func TestListenInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "123.sock")
	ln, err := listenInPlace(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the name it was bound under is left behind: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("socket mode %v; want it private to its owner", fi.Mode().Perm())
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the socket at its name: %v", err)
	}
	c.Close()
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Close removed the socket the caller owns: %v", err)
	}
}
