package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// install writes a unit systemd accepts, that runs this binary's daemon on
// this home under systemd's restarts, and stops only the control plane.
func TestInstallWritesASystemdUnit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "state dir") // a space, quoted in ExecStart
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, _ = filepath.EvalSymlinks(self)

	for _, tc := range []struct {
		scope    string
		flag     string
		wantedBy string
		after    bool
	}{
		{"system", "--user=false", "WantedBy=multi-user.target", true},
		{"user", "--user", "WantedBy=default.target", false},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"--home", home, "install", tc.flag, "--unit-dir", dir, "--log-level=debug"}, nil, &out, &errOut)
			if code != 0 {
				t.Fatalf("install: exit %d: %s", code, errOut.String())
			}
			path := filepath.Join(dir, unitName)
			unit, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Wrote "+path) || !strings.Contains(out.String(), "enable --now mini-deploy") {
				t.Errorf("install said:\n%s", out.String())
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(string(unit), "\n") {
				lines[l] = true
			}
			exec := "ExecStart=" + self + ` daemon "--home=` + home + `" --supervised --address=127.0.0.1`
			var execLine string
			for l := range lines {
				if strings.HasPrefix(l, "ExecStart=") {
					execLine = l
				}
			}
			if !strings.HasPrefix(execLine, exec) || !strings.Contains(execLine, " --log-level=debug") {
				t.Errorf("ExecStart line:\n%s\nwant it to start with\n%s\nand carry --log-level=debug", execLine, exec)
			}
			for _, want := range []string{"[Unit]", "[Service]", "[Install]", "Type=simple", "Restart=on-failure", "KillMode=process", tc.wantedBy} {
				if !lines[want] {
					t.Errorf("no line %q in the %s unit:\n%s", want, tc.scope, unit)
				}
			}
			if got := lines["After=docker.service network-online.target"]; got != tc.after {
				t.Errorf("After=docker.service: %v, want %v, in:\n%s", got, tc.after, unit)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("unit mode %v, want 0644", fi.Mode().Perm())
			}
			verifyUnit(t, path)

			// Again: up to date. Changed flags: refused without --force.
			out.Reset()
			if code := run(context.Background(), []string{"--home", home, "install", tc.flag, "--unit-dir", dir, "--log-level=debug"}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "is up to date") {
				t.Errorf("install again: exit %d: %s", code, out.String())
			}
			errOut.Reset()
			if code := run(context.Background(), []string{"--home", home, "install", tc.flag, "--unit-dir", dir}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "exists and differs") || !strings.Contains(errOut.String(), "--force") {
				t.Errorf("install over a different unit: exit %d: %s", code, errOut.String())
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, unit) {
				t.Error("a refused install changed the unit")
			}
			if code := run(context.Background(), []string{"--home", home, "install", tc.flag, "--unit-dir", dir, "--force"}, nil, &out, &errOut); code != 0 {
				t.Errorf("install --force: exit %d: %s", code, errOut.String())
			}
			if after, _ := os.ReadFile(path); bytes.Contains(after, []byte("--log-level=debug")) {
				t.Error("install --force left the old flags")
			}
		})
	}

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--home", home, "install", "--print", "--log-format=yaml"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `--log-format "yaml"`) {
		t.Errorf("install with a bad flag: exit %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"--home", "/tmp/a\nb", "install", "--print"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "cannot go in a systemd unit") {
		t.Errorf("install of a home with a newline: exit %d: %s", code, errOut.String())
	}
}

// verifyUnit runs systemd-analyze verify on the unit (in system mode: user
// mode needs a running user manager), which fails on a unit systemd would
// refuse or warn about.
func verifyUnit(t *testing.T, path string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing (apt-get install systemd); CI checks the unit with it")
		}
		t.Log("no systemd-analyze: the unit is checked line by line only")
		return
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// It may warn about the machine itself (no docker.service here): only
	// what it says about our unit's own lines counts.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, filepath.Base(path)) && !strings.Contains(l, "docker.service") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	if err != nil {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}
