//go:build tools

package main

import (
	_ "github.com/docker/docker/client"
	_ "github.com/docker/go-connections/nat"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/bbolt"
	_ "gopkg.in/yaml.v3"
)

func main() {}
