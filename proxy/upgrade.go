package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A client that asks to switch protocols (a WebSocket handshake: GET with
// "Connection: Upgrade" and "Upgrade: websocket") has its request forwarded
// with those two headers, which are otherwise hop-by-hop and dropped. If the
// pod answers 101 Switching Protocols, the proxy hands the client the 101,
// takes the client's connection from the HTTP server, and from then on copies
// bytes both ways without reading them: a tunnel. The pod decides; a pod that
// declines answers an ordinary response, which is forwarded as any other.
//
// A tunnel is not a request in flight: it may last for hours, and Drain
// waiting for it would hold every rollout up for the whole grace period.
// Instead Drain, once the pod's requests are done, closes the pod's tunnels,
// as the pod's own exit would a moment later; the client reconnects and its
// new handshake goes to a ready pod. A pod that only left the endpoint set
// (not ready for a moment, or a selector switched) keeps its tunnels, as
// established connections outlive an endpoint change in Kubernetes.

// upgradeTo returns the protocol r asks to switch to, or "".
func upgradeTo(r *http.Request) string {
	if !r.ProtoAtLeast(1, 1) || !namedIn(r.Header["Connection"], "upgrade") {
		return ""
	}
	return r.Header.Get("Upgrade")
}

// tunnel is one switched connection: the client's and the pod's, spliced.
type tunnel struct {
	client net.Conn
	pod    *upstreamConn
	once   sync.Once
}

func (tn *tunnel) close() {
	tn.once.Do(func() {
		tn.client.Close()
		tn.pod.Close()
	})
}

// switchProtocols completes a switch the pod accepted with resp: it takes
// over the client's connection, sends it the 101 and starts the tunnel. It
// returns an error, with c closed, only when nothing has reached the client.
func (p *Proxy) switchProtocols(w http.ResponseWriter, c *upstreamConn, resp *http.Response, upgrade string, ep Endpoint) (int, error) {
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, upgrade) {
		c.Close()
		return 0, fmt.Errorf("pod switched to protocol %q, the client asked for %q", got, upgrade)
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		c.Close()
		return 0, fmt.Errorf("switch to %s: %w", upgrade, err)
	}
	// From here the client's connection is ours: failures close it.
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	connection := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if isHopByHop(k) || (connection != nil && namedIn(connection, k)) {
			continue
		}
		for _, v := range vv {
			writeField(brw.Writer, k, v)
		}
	}
	brw.WriteString("Connection: Upgrade\r\n")
	writeField(brw.Writer, "Upgrade", resp.Header.Get("Upgrade"))
	brw.WriteString("\r\n")
	tn := &tunnel{client: client, pod: c}
	if err := brw.Flush(); err != nil {
		tn.close()
		return http.StatusSwitchingProtocols, nil
	}
	if !p.addTunnel(ep.Addr, tn) {
		tn.close() // the proxy shut down while the pod was answering
		return http.StatusSwitchingProtocols, nil
	}
	go p.pipe(tn, brw.Reader, ep)
	return http.StatusSwitchingProtocols, nil
}

// pipe copies bytes both ways until either side closes or fails, then
// closes both. Bytes either side sent right behind the handshake are already
// in the buffered readers, so those are what it copies from.
func (p *Proxy) pipe(tn *tunnel, fromClient *bufio.Reader, ep Endpoint) {
	defer p.removeTunnel(ep.Addr, tn)
	defer tn.close()
	done := make(chan struct{}, 2)
	var last atomic.Int64 // unix nanoseconds of the last byte either way
	last.Store(time.Now().UnixNano())
	go func() {
		copyMarking(tn.pod.Conn, fromClient, &last)
		done <- struct{}{}
	}()
	go func() {
		copyMarking(tn.client, tn.pod.br, &last)
		done <- struct{}{}
	}()
	// A tunnel idle both ways for TunnelIdleTimeout is closed: a client
	// that went away without a FIN (a laptop lid, a NAT that forgot it)
	// would otherwise hold two connections for good.
	idle := p.opts.TunnelIdleTimeout
	var tmu sync.Mutex
	var timer *time.Timer
	stopped := false
	check := func() {
		since := time.Since(time.Unix(0, last.Load()))
		if since >= idle {
			p.log.Info("tunnel closed after being idle", slog.String("pod", ep.Pod), slog.Duration("idle", since.Round(time.Second)))
			tn.close()
			return
		}
		tmu.Lock()
		defer tmu.Unlock()
		if !stopped {
			timer.Reset(idle - since)
		}
	}
	tmu.Lock()
	timer = time.AfterFunc(idle, check)
	tmu.Unlock()
	defer func() {
		tmu.Lock()
		stopped = true
		timer.Stop()
		tmu.Unlock()
	}()
	<-done
	p.log.Debug("tunnel closed", slog.String("pod", ep.Pod), slog.String("addr", ep.Addr))
}

// addTunnel records tn under the pod's address, unless the proxy is shut
// down.
func (p *Proxy) addTunnel(addr string, tn *tunnel) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.tunnels[addr] == nil {
		p.tunnels[addr] = make(map[*tunnel]struct{})
	}
	p.tunnels[addr][tn] = struct{}{}
	return true
}

func (p *Proxy) removeTunnel(addr string, tn *tunnel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.tunnels[addr], tn)
	if len(p.tunnels[addr]) == 0 {
		delete(p.tunnels, addr)
	}
}

// closeTunnels closes the tunnels to addr, or every tunnel when addr is "".
func (p *Proxy) closeTunnels(addr string) {
	p.mu.Lock()
	var tns []*tunnel
	for a, set := range p.tunnels {
		if addr != "" && a != addr {
			continue
		}
		for tn := range set {
			tns = append(tns, tn)
		}
	}
	p.mu.Unlock()
	for _, tn := range tns {
		tn.close()
	}
	if len(tns) > 0 {
		p.log.Info("tunnels closed", slog.String("addr", addr), slog.Int("count", len(tns)))
	}
}

// copyMarking copies src to dst until either fails, storing the time of each
// chunk in last.
func copyMarking(dst io.Writer, src io.Reader, last *atomic.Int64) {
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
