package fake_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"
)

func TestContract(t *testing.T) {
	f := fake.New()
	f.AddImage(runtimetest.HelperImage, fake.WithLog(runtimetest.HelperLog), fake.WithStopExitCode(runtimetest.HelperStopExitCode))
	f.SetExec(runtimetest.HelperExec)
	runtimetest.Run(t, func(*testing.T) rt.Runtime { return f }, runtimetest.Options{
		AddForeign: func(t *testing.T, labels map[string]string) string {
			return f.AddForeign(rt.ContainerSpec{Name: "foreign-" + t.Name(), Image: runtimetest.HelperImage, Labels: labels})
		},
		IsRunning:         func(_ *testing.T, id string) bool { return f.IsRunning(id) },
		AddForeignNetwork: func(_ *testing.T, name string) { f.AddForeignNetwork(name) },
	})
}

func TestActions(t *testing.T) {
	ctx := t.Context()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	id, err := f.Create(ctx, rt.ContainerSpec{Name: "kubia-v1-abcde", Image: "luksa/kubia:v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		f.Start(ctx, id),
		f.Kill(ctx, "kubia-v1-abcde", "SIGHUP"),
		f.Stop(ctx, id, time.Second),
		f.Remove(ctx, id),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"create kubia-v1-abcde", "start kubia-v1-abcde", "kill kubia-v1-abcde SIGHUP", "stop kubia-v1-abcde", "remove kubia-v1-abcde"}
	if got := f.Actions(); !slices.Equal(got, want) {
		t.Errorf("Actions() = %q, want %q", got, want)
	}
	f.ResetActions()
	if got := f.Actions(); len(got) != 0 {
		t.Errorf("Actions() after ResetActions = %q", got)
	}
}

func TestFaults(t *testing.T) {
	ctx := t.Context()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	f.AddImage("luksa/kubia:broken", fake.WithCrash(1))
	boom := errors.New("boom")

	t.Run("create fails for an image", func(t *testing.T) {
		f.FailCreate("luksa/kubia:v1", boom)
		if _, err := f.Create(ctx, rt.ContainerSpec{Name: "a", Image: "luksa/kubia:v1"}); !errors.Is(err, boom) {
			t.Errorf("Create = %v, want boom", err)
		}
		f.FailCreate("luksa/kubia:v1", nil)
		if _, err := f.Create(ctx, rt.ContainerSpec{Name: "a", Image: "luksa/kubia:v1"}); err != nil {
			t.Errorf("Create after clearing the fault = %v", err)
		}
	})

	t.Run("next creates fail", func(t *testing.T) {
		f.FailNext("create", 2, boom)
		for i := range 3 {
			_, err := f.Create(ctx, rt.ContainerSpec{Image: "luksa/kubia:v1"})
			if (i < 2) != errors.Is(err, boom) {
				t.Errorf("create %d: %v", i, err)
			}
		}
	})

	t.Run("exit and crash", func(t *testing.T) {
		events := f.Events(ctx)
		<-events // resync
		id, _ := f.Create(ctx, rt.ContainerSpec{Name: "exits", Image: "luksa/kubia:v1"})
		f.Start(ctx, id)
		if err := f.Exit(id, 42); err != nil {
			t.Fatal(err)
		}
		c, _ := f.Inspect(ctx, id)
		if c.State != rt.StateExited || c.ExitCode != 42 {
			t.Errorf("after Exit: %q %d", c.State, c.ExitCode)
		}
		if ev := <-events; ev.Type != rt.EventStart {
			t.Errorf("event %+v, want start", ev)
		}
		if ev := <-events; ev.Type != rt.EventDie || ev.ExitCode != 42 {
			t.Errorf("event %+v, want die 42", ev)
		}

		crash, _ := f.Create(ctx, rt.ContainerSpec{Name: "crash", Image: "luksa/kubia:broken"})
		if err := f.Start(ctx, crash); err != nil {
			t.Fatal(err)
		}
		if c, _ := f.Inspect(ctx, crash); c.State != rt.StateExited || c.ExitCode != 1 {
			t.Errorf("broken image after Start: %q %d, want exited 1", c.State, c.ExitCode)
		}
	})

	t.Run("slow start", func(t *testing.T) {
		f.SetStartDelay(100 * time.Millisecond)
		defer f.SetStartDelay(0)
		id, _ := f.Create(ctx, rt.ContainerSpec{Name: "slow", Image: "luksa/kubia:v1"})
		begin := time.Now()
		if err := f.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begin); d < 100*time.Millisecond {
			t.Errorf("Start took %v, want the 100ms delay", d)
		}
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		id2, _ := f.Create(ctx, rt.ContainerSpec{Name: "slow2", Image: "luksa/kubia:v1"})
		if err := f.Start(short, id2); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Start with a short context = %v", err)
		}
	})

	t.Run("engine unavailable", func(t *testing.T) {
		events := f.Events(ctx)
		<-events
		f.SetUnavailable(true)
		if err := f.Ping(ctx); !errors.Is(err, rt.ErrEngineUnavailable) {
			t.Errorf("Ping = %v", err)
		}
		if _, err := f.List(ctx, nil); !errors.Is(err, rt.ErrEngineUnavailable) {
			t.Errorf("List = %v", err)
		}
		f.SetUnavailable(false)
		if ev := <-events; ev.Type != rt.EventResync {
			t.Errorf("event after the engine came back = %+v, want resync", ev)
		}
	})

	t.Run("addresses are reused", func(t *testing.T) {
		if _, err := f.EnsureNetwork(ctx, "pods", nil); err != nil {
			t.Fatal(err)
		}
		a, _ := f.Create(ctx, rt.ContainerSpec{Name: "ip-a", Image: "luksa/kubia:v1", Network: "pods"})
		f.Start(ctx, a)
		ca, _ := f.Inspect(ctx, a)
		f.Remove(ctx, a)
		b, _ := f.Create(ctx, rt.ContainerSpec{Name: "ip-b", Image: "luksa/kubia:v1", Network: "pods"})
		f.Start(ctx, b)
		cb, _ := f.Inspect(ctx, b)
		if ca.IPs["pods"] == "" || ca.IPs["pods"] != cb.IPs["pods"] {
			t.Errorf("IPs %v then %v, want the freed address reused", ca.IPs, cb.IPs)
		}
	})
}
