package dataplane

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// NodePort range, as Kubernetes' default.
const (
	nodePortMin = 30000
	nodePortMax = 32767
)

// AllocateNodePorts gives every port of svc without a nodePort a free one,
// keeping those the stored Service already had, and checks that the ports
// are free: in the store (another Service) and on the host (another program).
// Each newly taken port is held open in reserved until the proxy serves on
// it, so no other process or control plane can take it in between.
func (d *Manager) AllocateNodePorts(svc *api.Service, old *api.Service, others []*api.Service, reserved map[int32]net.Listener) error {
	used := map[int32]string{}
	for _, s := range others {
		if s.Name == svc.Name && api.KeyOf(s).Namespace == api.KeyOf(svc).Namespace {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				used[p.NodePort] = s.Name
			}
		}
	}
	mine := map[int32]bool{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			mine[p.NodePort] = true
		}
	}
	// A port that names no nodePort keeps the one its namesake had, as the
	// Kubernetes API server matches them: by port name, so that changing a
	// port's number keeps its node port, unless the new spec gives that
	// node port to another port.
	given := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		given[p.NodePort] = true
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 && old != nil {
			for _, op := range old.Spec.Ports {
				if op.Name == p.Name && op.NodePort != 0 && !given[op.NodePort] {
					p.NodePort = op.NodePort
				}
			}
		}
		if p.NodePort != 0 {
			if other, ok := used[p.NodePort]; ok {
				return fmt.Errorf("service %q: spec.ports[%d].nodePort: Invalid value: %d: provided port is already allocated (by service %q)", svc.Name, i, p.NodePort, other)
			}
			if !mine[p.NodePort] && !d.reservePort(p.NodePort, reserved) {
				return fmt.Errorf("service %q: spec.ports[%d].nodePort: Invalid value: %d: port %d on %s is in use by another program; choose another nodePort or leave it out to get a free one", svc.Name, i, p.NodePort, p.NodePort, d.address)
			}
			used[p.NodePort] = svc.Name
			continue
		}
		port, err := d.freeNodePort(used, reserved)
		if err != nil {
			return fmt.Errorf("service %q: %w", svc.Name, err)
		}
		p.NodePort = port
		used[port] = svc.Name
	}
	return nil
}

func (d *Manager) freeNodePort(used map[int32]string, reserved map[int32]net.Listener) (int32, error) {
	span := nodePortMax - nodePortMin + 1
	start := int(time.Now().UnixNano() % int64(span))
	for i := range span {
		port := int32(nodePortMin + (start+i)%span)
		if _, taken := used[port]; taken {
			continue
		}
		if d.reservePort(port, reserved) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free nodePort left in %d-%d", nodePortMin, nodePortMax)
}

// reservePort listens on port now and keeps the listener, in reserved (the
// apply's own, to undo) and in the data plane's, where the Service's proxy
// finds it even when the store's watch starts it before the apply returns.
// It reports false when another program has the port.
func (d *Manager) reservePort(port int32, reserved map[int32]net.Listener) bool {
	if _, ok := reserved[port]; ok {
		return true
	}
	l, err := net.Listen("tcp", net.JoinHostPort(d.address, strconv.Itoa(int(port))))
	if err != nil {
		return false
	}
	reserved[port] = l
	d.mu.Lock()
	d.reserved[port] = l
	d.mu.Unlock()
	return true
}

// ReleaseAll gives up every port still reserved, when the control plane stops.
func (d *Manager) ReleaseAll() { d.Release(d.reserved) }

// Release gives up the ports of an apply that failed or was a dry run.
func (d *Manager) Release(reserved map[int32]net.Listener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for port, l := range reserved {
		if d.reserved[port] == l {
			delete(d.reserved, port)
		}
		_ = l.Close()
	}
}
