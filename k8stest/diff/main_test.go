package diff

import (
	"os"
	"testing"

	"github.com/mini-deploy/mini-deploy/k8stest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
