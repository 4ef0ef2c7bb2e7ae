package orchestrator_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/mini-deploy/mini-deploy/deploytest"
)

// wsClient is a WebSocket client of kubia's /ws that keeps a conversation
// going and reconnects when its connection ends, as a browser app would.
type wsClient struct {
	mu         sync.Mutex
	handshakes int      // connections opened
	failed     []string // handshakes that failed, and why
	wrongEcho  int      // echoes that were not what was sent
	greetings  []string // the first line of each connection, in order
}

// run converses until ctx ends: one message every 20 ms, a new connection
// whenever the old one ends.
func (c *wsClient) run(ctx context.Context, url string) {
	for n := 0; ctx.Err() == nil; {
		conn, err := websocket.Dial(url, "", "http://127.0.0.1/")
		if err != nil {
			c.mu.Lock()
			c.failed = append(c.failed, err.Error())
			c.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		var greeting string
		err = websocket.Message.Receive(conn, &greeting)
		c.mu.Lock()
		c.handshakes++
		if err == nil {
			c.greetings = append(c.greetings, greeting)
		}
		c.mu.Unlock()
		for err == nil && ctx.Err() == nil {
			n++
			sent, got := fmt.Sprintf("message %d", n), ""
			if err = websocket.Message.Send(conn, sent); err == nil {
				err = websocket.Message.Receive(conn, &got)
			}
			if err == nil && got != sent {
				c.mu.Lock()
				c.wrongEcho++
				c.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		conn.Close()
	}
}

// A WebSocket lives on one pod. A rollout ends it when its pod is drained,
// before the pod is stopped, instead of waiting for it; the client's
// reconnect lands on a ready pod. Not one handshake fails, not one echo is
// wrong, and every client ends up talking to v2.
func TestWebSocketsFollowTheRollout(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaDeploy))
	url := "ws" + strings.TrimPrefix(env.ServiceURL("kubia"), "http") + "/ws"

	// Bounded: the clients stop when the test is done or after two minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clients := make([]*wsClient, 4)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &wsClient{}
		wg.Go(func() { clients[i].run(ctx, url) })
	}
	time.Sleep(time.Second)
	if err := env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2"); err != nil {
		t.Fatal(err)
	}
	wait, cancelWait := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelWait()
	if err := env.WaitReady(wait, "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	// The last old pod may still be draining; its clients reconnect within
	// moments of its tunnels closing.
	if err := env.WaitFor(wait, "every WebSocket client on v2", func() bool {
		for _, c := range clients {
			c.mu.Lock()
			last := ""
			if len(c.greetings) > 0 {
				last = c.greetings[len(c.greetings)-1]
			}
			c.mu.Unlock()
			if !strings.Contains(last, "This is v2") {
				return false
			}
		}
		return true
	}); err != nil {
		t.Error(err)
	}
	time.Sleep(500 * time.Millisecond) // a few more echoes on v2
	cancel()
	wg.Wait()

	for i, c := range clients {
		if len(c.greetings) == 0 {
			t.Errorf("client %d: never greeted (failed handshakes: %v)", i, c.failed)
			continue
		}
		t.Logf("WebSocket client %d: %d connections, first %q, last %q", i, c.handshakes,
			strings.TrimSpace(c.greetings[0]), strings.TrimSpace(c.greetings[len(c.greetings)-1]))
		if len(c.failed) > 0 {
			t.Errorf("client %d: %d handshakes failed: %v", i, len(c.failed), c.failed)
		}
		if c.wrongEcho > 0 {
			t.Errorf("client %d: %d wrong echoes", i, c.wrongEcho)
		}
		if !strings.Contains(c.greetings[0], "This is v1") {
			t.Errorf("client %d: first greeting %q, want v1", i, c.greetings[0])
		}
	}
}
