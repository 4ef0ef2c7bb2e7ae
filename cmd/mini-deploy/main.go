// Command mini-deploy gives one machine's Docker engine what Kubernetes
// gives a cluster: ReplicationControllers, ReplicaSets, Deployments with
// zero-downtime rollouts, and Services, through kubectl's verbs.
//
// The binary is two programs. `mini-deploy daemon` is the control plane: it
// owns the state directory, runs the controllers and the Service proxies and
// answers on a unix socket. Every other verb is a thin client of that
// socket, shaped after kubectl so that the seed's commands work as written;
// `up` starts the daemon in the background when none answers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/client"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

// Files of the state directory the CLI knows about.
const (
	socketName = "mini-deploy.sock"
	pidName    = "daemon.pid"
	logName    = "daemon.log"
)

// globalOptions are the flags every verb shares, and the process's streams.
type globalOptions struct {
	home      string
	namespace string
	// commandLine is what --record writes as the change-cause.
	commandLine string

	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

func (g *globalOptions) socket() string { return filepath.Join(g.home, socketName) }

// client is a client of the daemon whose warnings go to stderr, as
// kubectl prints them.
func (g *globalOptions) client() *client.Client {
	c := client.New(g.socket())
	c.OnWarning = func(text string) { fmt.Fprintf(g.errOut, "Warning: %s\n", text) }
	return c
}

// defaultHome is $MINI_DEPLOY_HOME, else ~/.mini-deploy.
func defaultHome() string {
	if h := os.Getenv("MINI_DEPLOY_HOME"); h != "" {
		return h
	}
	if dir, err := os.UserHomeDir(); err == nil {
		return filepath.Join(dir, ".mini-deploy")
	}
	return ".mini-deploy"
}

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "mini-deploy",
		Short: "Kubernetes Deployments, Services and ReplicaSets on one machine's Docker engine",
		Long: `mini-deploy runs Kubernetes-style ReplicationControllers, ReplicaSets, Deployments
and Services on this machine's Docker engine, with kubectl's verbs.

  mini-deploy up -f examples/kubia/     start the control plane and apply manifests
  mini-deploy get all                   see what runs
  mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2
  mini-deploy rollout status deployment/kubia
  mini-deploy down                      remove everything and stop the control plane`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.in)
	root.SetOut(g.out)
	root.SetErr(g.errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "state directory of the daemon ($MINI_DEPLOY_HOME)")
	pf.StringVarP(&g.namespace, "namespace", "n", "default", "namespace of the objects")
	root.AddCommand(
		newDaemonCommand(g),
		newDataPlaneCommand(g),
		newUpgradeCommand(g),
		newInstallCommand(g),
		newUpCommand(g),
		newDownCommand(g),
		newApplyCommand(g),
		newGetCommand(g),
		newDescribeCommand(g),
		newDeleteCommand(g),
		newScaleCommand(g),
		newLogsCommand(g),
		newExecCommand(g),
		newSetCommand(g),
		newRolloutCommand(g),
		newRollingUpdateCommand(g),
		newLoadCommand(g),
		newExportCommand(g),
		newDashboardCommand(g),
		newVersionCommand(g),
		newWaitCommand(g),
		newDiffCommand(g),
		newLabelCommand(g),
		newAnnotateCommand(g),
		newEditCommand(g),
		newCreateCommand(g),
		newExposeCommand(g),
		newRunCommand(g),
		newPatchCommand(g),
		newReplaceCommand(g),
		newPortForwardCommand(g),
		newExplainCommand(g),
		newAPIResourcesCommand(g),
		newTopCommand(g),
	)
	usageErrors(root)
	addCompletion(root, g)
	return root
}

// run executes one command line and returns the exit code. Errors are
// printed once, here, as `error: ...`.
func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	g := &globalOptions{in: in, out: out, errOut: errOut,
		commandLine: strings.Join(append([]string{"mini-deploy"}, args...), " ")}
	root := newRootCommand(g)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var silent *exitError
		if !errors.As(err, &silent) {
			fmt.Fprintln(errOut, "error: "+err.Error())
			return 1
		}
		return max(silent.code, 1)
	}
	return 0
}

// exitError ends the program after the verb has already said why (a load
// run with failures, a rolling update that failed), with code, or 1.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		// The first signal lets the verb stop cleanly; a second one means
		// the user is done waiting.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "forced exit")
		os.Exit(130)
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// isTerminal reports whether w is a terminal, for live progress lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
