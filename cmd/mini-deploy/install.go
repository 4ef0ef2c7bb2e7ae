package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type installOptions struct {
	*globalOptions
	flags   daemonFlags
	user    bool
	unitDir string
	print   bool
	force   bool
}

// unitName is the file name of the systemd unit install writes.
const unitName = "mini-deploy.service"

func newInstallCommand(g *globalOptions) *cobra.Command {
	o := &installOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Write a systemd unit that runs the daemon at boot and restarts it if it fails",
		Long: `Write a systemd unit, mini-deploy.service, that runs this binary's daemon with
this state directory and the daemon flags given here:

  - as root, a system unit in /etc/systemd/system, started at boot after Docker;
  - with --user (the default for other users), a user unit in
    ~/.config/systemd/user, started when the user's systemd starts (run
    "loginctl enable-linger USER" to start it at boot).

systemd then restarts the control plane when it fails (Restart=on-failure) and
stops only the control plane (KillMode=process): the data plane keeps serving
the Services and the pods keep running while it is down, as they do when "up"
started it. Nothing is started: the command prints what to run.`,
		Example: `  # as root: a system unit, then enable and start it
  mini-deploy install
  systemctl daemon-reload && systemctl enable --now mini-deploy

  # see the unit without writing it
  mini-deploy install --print`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("user") {
				o.user = os.Geteuid() != 0
			}
			return runInstall(cmd.Context(), o)
		},
	}
	o.flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&o.user, "user", false, "write a user unit (the default when not root)")
	cmd.Flags().StringVar(&o.unitDir, "unit-dir", "", "write the unit in this directory instead of systemd's (for packaging)")
	cmd.Flags().BoolVar(&o.print, "print", false, "print the unit instead of writing it")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace a mini-deploy.service that differs")
	return cmd
}

func runInstall(ctx context.Context, o *installOptions) error {
	if _, err := o.flags.logger(o.errOut); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mini-deploy binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	home, err := filepath.Abs(o.home)
	if err != nil {
		return err
	}
	unit, err := systemdUnit(self, home, o.flags, o.user)
	if err != nil {
		return err
	}
	if o.print {
		_, err := o.out.Write(unit)
		return err
	}

	dir := o.unitDir
	if dir == "" {
		dir = "/etc/systemd/system"
		if o.user {
			config, err := os.UserConfigDir()
			if err != nil {
				return fmt.Errorf("find the user's systemd directory: %w; pass --unit-dir", err)
			}
			dir = filepath.Join(config, "systemd", "user")
		}
	}
	path := filepath.Join(dir, unitName)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, unit):
		fmt.Fprintf(o.out, "%s is up to date\n", path)
		return nil
	case err == nil && !o.force:
		return fmt.Errorf("%s exists and differs from the unit this command writes: see the difference with \"mini-deploy install --print | diff %s -\", and pass --force to replace it", path, path)
	case err != nil && !os.IsNotExist(err):
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := writeAside(path, unit, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Wrote %s\n", path)

	systemctl := "systemctl"
	if o.user {
		systemctl = "systemctl --user"
	}
	fmt.Fprintf(o.out, "Start it now and at every boot:\n  %s daemon-reload && %s enable --now mini-deploy\n", systemctl, systemctl)
	c := o.client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if info, err := c.Info(ctx); err == nil {
		fmt.Fprintf(o.out, "A daemon that \"up\" started runs now (pid %d): stop it first with \"kill %d\" (the Services and pods keep running), then start the unit.\n", info.PID, info.PID)
	}
	return nil
}

// writeAside writes data to a new file beside path and renames it over path,
// so that a reader (systemd) never sees half of it.
func writeAside(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// systemdUnit renders the unit that runs bin's daemon on home with flags.
// --supervised tells the daemon that systemd, not its data plane, starts it
// again when it fails.
func systemdUnit(bin, home string, flags daemonFlags, user bool) ([]byte, error) {
	args := append([]string{bin, "daemon", "--home=" + home, "--supervised"}, flags.args()...)
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "\n\"\\%$") {
			return nil, fmt.Errorf("argument %q cannot go in a systemd unit: it holds a newline, quote, backslash, %% or $", a)
		}
		quoted[i] = a
		if strings.ContainsAny(a, " \t'") {
			quoted[i] = `"` + a + `"`
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by \"mini-deploy install\" (%s). Run it again to update this file.\n", version)
	b.WriteString("[Unit]\n")
	b.WriteString("Description=mini-deploy: Deployments, ReplicaSets and Services on this machine's Docker engine\n")
	b.WriteString("Documentation=https://github.com/mini-deploy/mini-deploy\n")
	if !user {
		// A user manager cannot order itself after system units.
		b.WriteString("After=docker.service network-online.target\n")
		b.WriteString("Wants=network-online.target\n")
	}
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=simple\n")
	fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(quoted, " "))
	b.WriteString("# The control plane only: the data plane it started keeps serving the\n")
	b.WriteString("# Services while it is stopped or restarting, and the pods keep running.\n")
	b.WriteString("KillMode=process\n")
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=1s\n")
	b.WriteString("TimeoutStopSec=60s\n")
	b.WriteString("\n[Install]\n")
	if user {
		b.WriteString("WantedBy=default.target\n")
	} else {
		b.WriteString("WantedBy=multi-user.target\n")
	}
	return b.Bytes(), nil
}
