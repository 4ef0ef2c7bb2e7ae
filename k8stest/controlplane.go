// Package k8stest runs a real Kubernetes control plane inside `go test`, so
// mini-deploy can be checked against the real thing instead of our reading
// of it.
//
// Start launches etcd, kube-apiserver and kube-controller-manager, built by
// `make k8s` (hack/k8s/build.sh) from the Go module proxy at one pinned
// version, on loopback addresses only, with their state in a temporary
// directory; Stop ends exactly the processes it started, by PID. There is no
// scheduler and no kubelet: Kubelet plays one node, binding pods to it, making
// them Running, Ready (or not) when the test says so, and completing graceful
// deletions. Everything else is Kubernetes' own code: the API server validates
// and stores, and the controller manager's Deployment, ReplicaSet,
// ReplicationController and garbage-collector controllers decide.
//
// A package shares one control plane among its tests: its TestMain calls Main,
// and each test calls Shared and works in a namespace of its own (Namespace).
// Without the binaries a test fails under CI=true and is skipped elsewhere,
// both with a message naming `make k8s`.
package k8stest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Version is the Kubernetes release hack/k8s/go.mod pins.
const Version = "v1.37.2"

// Controllers are the kube-controller-manager controllers Start runs: the
// ones whose decisions mini-deploy's controllers must match, and the garbage
// collector, which deletes what a deleted owner leaves behind.
var Controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"replicationcontroller-controller",
	"garbage-collector-controller",
}

const token = "mini-deploy-k8stest"

// BinDir is where `make k8s` puts the binaries: $MINI_DEPLOY_K8S_BIN, or
// mini-deploy/k8s-<Version> under $XDG_CACHE_HOME (default ~/.cache).
func BinDir() string {
	if d := os.Getenv("MINI_DEPLOY_K8S_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "mini-deploy", "k8s-"+Version)
}

// ErrNoBinaries says the control plane's binaries are not built.
var ErrNoBinaries = errors.New("the Kubernetes binaries are not built: run `make k8s` (cold: ~20-30 min, then cached)")

// missing returns an error naming the first binary not in BinDir.
func missing() error {
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		p := filepath.Join(BinDir(), name)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (no %s)", ErrNoBinaries, p)
		}
	}
	return nil
}

// ControlPlane is one running etcd, kube-apiserver and kube-controller-manager.
type ControlPlane struct {
	Dir    string // state, certificates, logs
	Config *rest.Config
	Client kubernetes.Interface
	// Kubelet plays the one node, "node-1".
	Kubelet *Kubelet

	procs []*process
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// Start runs a control plane with its state under dir and waits until the API
// server is ready and the controller manager runs. It returns what it started
// even on error, so the caller can Stop it.
func Start(ctx context.Context, dir string) (*ControlPlane, error) {
	cp := &ControlPlane{Dir: dir}
	if err := missing(); err != nil {
		return cp, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return cp, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	apiURL := fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	if err := cp.start(ctx, "etcd",
		"--name=k8stest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=k8stest="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return cp, err
	}

	saKey := filepath.Join(dir, "sa.key")
	if err := writeKey(saKey); err != nil {
		return cp, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return cp, err
	}
	if err := cp.start(ctx, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		// Without it: "cannot use public IP 127.0.0.1 with endpoint reconciler".
		"--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=AlwaysAllow",
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--disable-admission-plugins=ServiceAccount",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--profiling=false",
	); err != nil {
		return cp, err
	}

	cp.Config = &rest.Config{
		Host:            apiURL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
	}
	if err := cp.waitReady(ctx); err != nil {
		return cp, err
	}
	cp.Client, err = kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return cp, err
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(kubeconfigFormat, apiURL, token)), 0o600); err != nil {
		return cp, err
	}
	if err := cp.start(ctx, "kube-controller-manager",
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--controllers="+strings.Join(Controllers, ","),
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--profiling=false",
	); err != nil {
		return cp, err
	}
	cp.Kubelet, err = startKubelet(ctx, cp.Client)
	return cp, err
}

const kubeconfigFormat = `apiVersion: v1
kind: Config
clusters:
- name: k8stest
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: k8stest
  context: {cluster: k8stest, user: admin}
current-context: k8stest
`

// start runs one binary of BinDir with its output in dir/<name>.log. The
// child is killed if this process dies first (Pdeathsig), so a crashed test
// binary leaves nothing running.
func (cp *ControlPlane) start(ctx context.Context, name string, args ...string) error {
	log := filepath.Join(cp.Dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(BinDir(), name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	cp.procs = append(cp.procs, p)
	// A process that dies at once (a busy port, a bad flag) says why in its log.
	select {
	case <-p.done:
		return fmt.Errorf("%s exited at start: %s", name, tail(log))
	case <-time.After(300 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitReady polls the API server's /readyz until it answers ok.
func (cp *ControlPlane) waitReady(ctx context.Context) error {
	client, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range cp.procs {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited: %s", p.name, tail(p.log))
			default:
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.Config.Host+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("kube-apiserver not ready after 90s: %s", tail(filepath.Join(cp.Dir, "kube-apiserver.log")))
}

// Stop ends the kubelet and every process Start started (SIGTERM, then
// SIGKILL after 10 s), newest first. It is safe to call twice.
func (cp *ControlPlane) Stop() {
	if cp.Kubelet != nil {
		cp.Kubelet.stop()
	}
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	cp.procs = nil
}

// Logs returns the last lines of each process's log, for a failing test.
func (cp *ControlPlane) Logs() string {
	var b strings.Builder
	for _, p := range cp.procs {
		fmt.Fprintf(&b, "== %s\n%s\n", p.name, tail(p.log))
	}
	return b.String()
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeKey writes a new RSA key for signing service-account tokens.
func writeKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return os.WriteFile(path, b, 0o600)
}
