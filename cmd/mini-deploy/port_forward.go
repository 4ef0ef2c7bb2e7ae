package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
)

type portForwardOptions struct {
	*globalOptions
	args      []string
	addresses []string
}

func newPortForwardCommand(g *globalOptions) *cobra.Command {
	o := &portForwardOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "port-forward (pod/NAME | deploy/NAME | svc/NAME | ...) [LOCAL:]REMOTE...",
		Short: "Forward local ports to a pod, until Ctrl-C",
		Long: `Listen on local ports (on 127.0.0.1, or each --address) and forward each
connection to a port of one pod: the pod named, or a running pod of the
Deployment, ReplicaSet or ReplicationController, or a ready pod behind the
Service, whose REMOTE is then a Service port (forwarded to its targetPort).
LOCAL left out is REMOTE; an empty LOCAL (:8080) picks a free port.

Examples:
  mini-deploy port-forward deploy/kubia 8888:8080
  mini-deploy port-forward svc/kubia :80
  mini-deploy port-forward pod/kubia-6dd8-x2kqp 8080 --address=0.0.0.0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runPortForward(cmd.Context(), o)
		},
	}
	cmd.Flags().StringSliceVar(&o.addresses, "address", []string{"127.0.0.1"}, "addresses to listen on (comma-separated); localhost means 127.0.0.1")
	return cmd
}

// portPair is one LOCAL:REMOTE, REMOTE already a container port.
type portPair struct {
	local, remote int
	spec          string
}

func runPortForward(ctx context.Context, o *portForwardOptions) error {
	if len(o.args) < 2 {
		return errors.New("TYPE/NAME and list of ports are required for port-forward")
	}
	t, ports, err := parseOne("port-forward", o.args[:1])
	if err != nil {
		return err
	}
	if len(ports) > 0 {
		return fmt.Errorf("unexpected arguments: %v", ports)
	}
	c := o.client()
	defer c.Close()
	pod, svc, err := forwardTarget(ctx, c, o.namespace, t)
	if err != nil {
		return err
	}
	var pairs []portPair
	for _, spec := range o.args[1:] {
		p, err := parsePortPair(spec, svc, pod)
		if err != nil {
			return err
		}
		pairs = append(pairs, p)
	}
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range pairs {
		addr, err := c.PodAddr(ctx, o.namespace, pod.Name, p.remote)
		if err != nil {
			return err
		}
		for _, host := range o.addresses {
			if host == "localhost" {
				host = "127.0.0.1"
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p.local)))
			if err != nil {
				return fmt.Errorf("unable to listen on port %d: %w", p.local, err)
			}
			listeners = append(listeners, ln)
			local := ln.Addr().(*net.TCPAddr).Port
			fmt.Fprintf(o.out, "Forwarding from %s -> %d\n", net.JoinHostPort(host, strconv.Itoa(local)), p.remote)
			wg.Go(func() { o.serve(ctx, ln, local, addr) })
		}
	}
	<-ctx.Done()
	for _, ln := range listeners {
		ln.Close()
	}
	return nil
}

// serve accepts connections on ln and copies each to and from addr.
func (o *portForwardOptions) serve(ctx context.Context, ln net.Listener, local int, addr string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		fmt.Fprintf(o.out, "Handling connection for %d\n", local)
		wg.Go(func() {
			defer conn.Close()
			d := net.Dialer{Timeout: 10 * time.Second}
			up, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				fmt.Fprintf(o.errOut, "error: forwarding port %d to %s: %v\n", local, addr, err)
				return
			}
			defer up.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close(); up.Close() })
			defer stop()
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, conn); closeWrite(up); done <- struct{}{} }()
			go func() { io.Copy(conn, up); closeWrite(conn); done <- struct{}{} }()
			<-done
			<-done
		})
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// forwardTarget picks the pod to forward to, and the Service when the
// target is one.
func forwardTarget(ctx context.Context, c *client.Client, ns string, t target) (*api.Pod, *api.Service, error) {
	obj, err := c.Get(ctx, t.typ.kind, ns, t.name)
	if err != nil {
		return nil, nil, err
	}
	if pod, ok := obj.(*api.Pod); ok {
		return pod, nil, nil
	}
	svc, _ := obj.(*api.Service)
	pods, err := podsOf(ctx, c, obj)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == "Running" && (svc == nil || podReady(p)) {
			return p, svc, nil
		}
	}
	return nil, nil, fmt.Errorf("no running pod for %s/%s", t.typ.plural, t.name)
}

func podReady(p *api.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// parsePortPair reads LOCAL:REMOTE, REMOTE or :REMOTE; for a Service,
// REMOTE is one of its ports and becomes the pod's target port.
func parsePortPair(spec string, svc *api.Service, pod *api.Pod) (portPair, error) {
	localS, remoteS, ok := strings.Cut(spec, ":")
	if !ok {
		localS, remoteS = spec, spec
	}
	remote, err := strconv.Atoi(remoteS)
	if err != nil || remote <= 0 || remote > 65535 {
		return portPair{}, fmt.Errorf("error parsing remote port %q in %q", remoteS, spec)
	}
	local := 0
	if localS != "" {
		if local, err = strconv.Atoi(localS); err != nil || local < 0 || local > 65535 {
			return portPair{}, fmt.Errorf("error parsing local port %q in %q", localS, spec)
		}
	}
	if svc != nil {
		found := false
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) == remote {
				var cports []api.ContainerPort
				if len(pod.Spec.Containers) > 0 {
					cports = pod.Spec.Containers[0].Ports
				}
				remote, found = api.ResolvePort(cports, sp.TargetPort, sp.Port), true
				break
			}
		}
		if !found {
			return portPair{}, fmt.Errorf("Service %s does not have a service port %s", svc.Name, remoteS)
		}
	}
	return portPair{local: local, remote: remote, spec: spec}, nil
}
