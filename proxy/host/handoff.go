package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// The handoff, as HAProxy's seamless reload and Envoy's hot restart do it:
// the listening sockets move to the new process, never closed, so no
// connection is refused and none waiting in the kernel's accept queue is
// lost.
//
//  1. The new process sends POST /handoff on the old one's socket.
//  2. The old one freezes (Apply and Drain now fail with ErrHandedOff, so the
//     control plane turns to the new process) and sends, in one message, a
//     header line naming the listeners, with their file descriptors
//     attached, followed by the State it serves, whose endpoints reflect
//     every drain so far.
//  3. The new process serves on the sockets with that State and answers
//     "ok". Only then does the old one close its copies of the sockets,
//     finish its requests in flight and exit. Without "ok" it thaws and
//     serves on as before.

// handoffHeader is the first line of the old process's message.
type handoffHeader struct {
	Addresses []string `json:"addresses"` // one per file descriptor, in order
	StateLen  int      `json:"stateLen"`
	Error     string   `json:"error,omitempty"`
}

// maxHandoffListeners bounds the descriptors one message carries.
const maxHandoffListeners = 1000

func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "handoff: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return
	}
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	h := s.host
	h.mu.Lock()
	if h.handedOff {
		h.mu.Unlock()
		sendHeader(uc, handoffHeader{Error: ErrHandedOff.Error()}, nil)
		return
	}
	h.handedOff = true
	state := h.currentLocked()
	// The descriptors are read, not duplicated (os.File's Fd would switch
	// the shared socket to blocking mode); they stay open because nothing
	// closes a listener of a frozen Host until the handoff is over.
	var hdr handoffHeader
	var fds []int
	for _, l := range state.Listeners {
		rc, err := h.running[l.Address].ln.SyscallConn()
		if err != nil {
			continue
		}
		if rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) }) != nil {
			continue
		}
		hdr.Addresses = append(hdr.Addresses, l.Address)
	}
	h.mu.Unlock()
	thaw := func() {
		h.mu.Lock()
		h.handedOff = false
		h.mu.Unlock()
	}
	body, _ := json.Marshal(state)
	hdr.StateLen = len(body)
	if len(fds) > maxHandoffListeners {
		thaw()
		sendHeader(uc, handoffHeader{Error: fmt.Sprintf("%d listeners; at most %d can be handed over", len(fds), maxHandoffListeners)}, nil)
		return
	}
	if err := sendHeader(uc, hdr, fds); err != nil {
		thaw()
		s.log.Warn("handoff failed", "error", err)
		return
	}
	if _, err := uc.Write(body); err != nil {
		thaw()
		s.log.Warn("handoff failed", "error", err)
		return
	}
	if l, err := readLine(rw.Reader); err != nil || l != "ok" {
		thaw()
		s.log.Warn("handoff not taken; serving on", "error", err, "answer", l)
		return
	}
	s.log.Info("listeners handed over; finishing the requests in flight", "listeners", len(fds))
	h.StopAccepting()
	s.finish("handoff")
}

func sendHeader(uc *net.UnixConn, hdr handoffHeader, fds []int) error {
	line, _ := json.Marshal(hdr)
	line = append(line, '\n')
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	_, _, err := uc.WriteMsgUnix(line, oob, nil)
	return err
}

// Takeover asks the data plane on socket for its listening sockets and the
// State it serves. On success the caller owns the listeners (by address) and
// must call the returned commit once it serves on them: the old process then
// lets go and exits. If the caller cannot serve, it closes the listeners and
// does not commit; the old process serves on.
func Takeover(ctx context.Context, socket string) (map[string]net.Listener, State, func() error, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, State{}, nil, fmt.Errorf("data plane %s: %w", socket, err)
	}
	uc := c.(*net.UnixConn)
	fail := func(err error) (map[string]net.Listener, State, func() error, error) {
		uc.Close()
		return nil, State{}, nil, fmt.Errorf("take over from the data plane on %s: %w", socket, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = uc.SetDeadline(dl)
	}
	if _, err := io.WriteString(uc, "POST /handoff HTTP/1.1\r\nHost: dataplane\r\nContent-Length: 0\r\n\r\n"); err != nil {
		return fail(err)
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(4*maxHandoffListeners))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return fail(err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return fail(err)
		}
		for _, m := range msgs {
			got, err := syscall.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	closeFDs := func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
	nl := bytes.IndexByte(buf[:n], '\n')
	if nl < 0 {
		closeFDs()
		return fail(errors.New("no header in the answer (is it a mini-deploy data plane?)"))
	}
	var hdr handoffHeader
	if err := json.Unmarshal(buf[:nl], &hdr); err != nil {
		closeFDs()
		return fail(fmt.Errorf("header: %w", err))
	}
	if hdr.Error != "" {
		closeFDs()
		return fail(errors.New(hdr.Error))
	}
	if len(fds) != len(hdr.Addresses) {
		closeFDs()
		return fail(fmt.Errorf("%d sockets for %d listeners", len(fds), len(hdr.Addresses)))
	}
	lns := make(map[string]net.Listener, len(fds))
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), hdr.Addresses[i])
		ln, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			closeAll()
			for _, rest := range fds[i+1:] {
				syscall.Close(rest)
			}
			return fail(err)
		}
		lns[hdr.Addresses[i]] = ln
	}
	body := make([]byte, hdr.StateLen)
	copied := copy(body, buf[nl+1:n])
	if _, err := io.ReadFull(bufio.NewReader(uc), body[copied:]); err != nil {
		closeAll()
		return fail(fmt.Errorf("state: %w", err))
	}
	var st State
	if err := json.Unmarshal(body, &st); err != nil {
		closeAll()
		return fail(fmt.Errorf("state: %w", err))
	}
	commit := func() error {
		defer uc.Close()
		_, err := io.WriteString(uc, "ok\n")
		return err
	}
	return lns, st, commit, nil
}
