package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The state directory holds the socket that controls every container of
// this user, the store and the daemon's pid. A directory another user owns
// or can write to could hand the daemon a symbolic link in place of its pid
// file (and have it overwrite a file of the user's) or a socket of someone
// else's daemon, so it is used only if it is ours.

// prepareHome makes the state directory, private, if it does not exist, and
// refuses one that exists but is not ours: owned by another user, or
// writable by group or others. It returns the absolute path.
func prepareHome(home string) (string, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", fmt.Errorf("create state directory %s: %w", abs, err)
		}
	}
	return abs, checkHome(abs)
}

// checkHome refuses a state directory that is not the user's alone.
func checkHome(home string) error {
	fi, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory: pass another --home", home)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("state directory %s belongs to uid %d, not to you (uid %d): mini-deploy trusts only a directory of its own user; pass another --home, or take it over with \"chown %d %s\"",
			home, st.Uid, uid, uid, home)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("state directory %s is writable by others than you (mode %04o): mini-deploy trusts only a private directory; run \"chmod go-w %s\" (or \"chmod 700 %s\")",
			home, perm, home, home)
	}
	return nil
}

// writeFileNoFollow writes a file of the state directory without following
// a symbolic link put in its place.
func writeFileNoFollow(path string, data []byte) error {
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openNoFollow opens a file of the state directory for writing, created
// 0600, refusing a symbolic link in its place with an error that says what
// to do.
func openNoFollow(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, which mini-deploy does not follow in its state directory: remove it (\"rm %s\")", path, path)
	}
	return f, err
}

// listenSocket listens on a unix socket only its owner may use. A socket
// file left by a daemon that died is removed first, but one that answers
// belongs to a live daemon and is left alone.
func listenSocket(path string) (net.Listener, error) {
	if _, err := os.Lstat(path); err == nil {
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			conn.Close()
			return nil, fmt.Errorf("another daemon answers on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := listenPrivate(path)
	if err != nil {
		if strings.Contains(err.Error(), "invalid argument") && len(path) > 100 {
			return nil, fmt.Errorf("listen on %s: the path is too long for a unix socket; use a shorter --home", path)
		}
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// listenPrivate creates the socket file private from its first moment: the
// umask is narrowed around the bind, instead of a chmod after it that would
// leave a moment in which the socket has the process's umask. The umask is
// the process's: 077 rather than 177 keeps a directory another goroutine
// makes meanwhile usable (0700); a socket needs no x bit, so it is
// srwx------, its owner's alone.
func listenPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
