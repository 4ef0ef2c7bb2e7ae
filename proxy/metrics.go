package proxy

import "time"

// Metrics receives the proxy's measurements. The orchestrator implements it
// with Prometheus; the proxy stays free of that dependency. Every method is
// called on the request path, so implementations must be cheap and safe for
// concurrent use.
type Metrics interface {
	// RequestDone reports a finished request: the endpoint that answered (the
	// zero Endpoint when none did, as for a 503), the status code sent to the
	// client and the time from arrival to the end of the response body.
	RequestDone(service string, ep Endpoint, method string, code int, d time.Duration)
	// Retry reports that a request is sent again because the attempt on from
	// failed before any response byte arrived.
	Retry(service string, from Endpoint)
	// InFlight moves the gauge of requests being served by delta (+1 or -1).
	InFlight(service string, delta int)
	// ReadyEndpoints reports the size of the endpoint set after each change.
	ReadyEndpoints(service string, n int)
	// Ejected reports that ep was taken out of rotation by passive health
	// checking (outlier.go).
	Ejected(service string, ep Endpoint)
	// EndpointGone reports that ep left the Service and its last request
	// has been counted: whatever the implementation keeps per endpoint can
	// go, so a Service whose pods come and go keeps no state for the dead.
	EndpointGone(service string, ep Endpoint)
}

// knownMethods are the methods a metric names; every other one is counted as
// OtherMethod, so that a client inventing methods cannot grow the metrics.
var knownMethods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE",
	"CONNECT": "CONNECT", "OPTIONS": "OPTIONS", "TRACE": "TRACE", "PATCH": "PATCH",
}

// OtherMethod stands for every method outside RFC 9110's and PATCH.
const OtherMethod = "OTHER"

// MethodLabel is method as RequestDone reports it: itself when it is a
// standard method, OtherMethod otherwise.
func MethodLabel(method string) string {
	if m, ok := knownMethods[method]; ok {
		return m
	}
	return OtherMethod
}
