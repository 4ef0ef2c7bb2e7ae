// Command etcd is the stock etcd server, built from go.etcd.io/etcd/server/v3 so
// the side-by-side tests need nothing but the Go toolchain.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
