package k8stest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var everything = labels.Everything()

var (
	shared    *ControlPlane
	sharedErr error
)

// Main runs a package's tests against one shared control plane and returns
// the exit code; call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
//
// The control plane is stopped when the tests end, pass or fail.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "k8stest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8stest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	start := time.Now()
	shared, sharedErr = Start(ctx, dir)
	cancel()
	defer shared.Stop()
	if sharedErr == nil {
		fmt.Fprintf(os.Stderr, "k8stest: Kubernetes %s control plane ready in %.1fs\n", Version, time.Since(start).Seconds())
	}
	code := m.Run()
	if code != 0 && sharedErr == nil {
		fmt.Fprint(os.Stderr, "k8stest: control plane logs (tails):\n", shared.Logs())
	}
	return code
}

// Shared returns the package's control plane. Without one it fails the test
// under CI=true and skips it elsewhere, both saying how to build it.
func Shared(t testing.TB) *ControlPlane {
	t.Helper()
	switch {
	case sharedErr == nil && shared != nil:
		return shared
	case shared == nil:
		t.Fatal("k8stest: no control plane: call k8stest.Main from TestMain")
	case errors.Is(sharedErr, ErrNoBinaries) && os.Getenv("CI") != "true":
		t.Skipf("k8stest: %v", sharedErr)
	}
	t.Fatalf("k8stest: %v", sharedErr)
	return nil
}

// Namespace creates a namespace of its own for the test, named after it.
// Namespaces are not deleted (no namespace controller runs); the control
// plane is.
func (cp *ControlPlane) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + "-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cp.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}
