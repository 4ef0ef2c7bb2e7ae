//go:build !unix

package deploytest

import "time"

// processAlive cannot tell here: never reap.
func processAlive(string) bool { return true }

// machineLock is a no-op here; portMu still serializes this process.
func machineLock(string, time.Duration) (func(), error) { return func() {}, nil }
