package web

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerLimits bound the HTTP server against clients that never finish:
// every connection is held for at most ReadTimeout while its request
// arrives, WriteTimeout for the whole exchange (longer than the longest
// ?wait=), IdleTimeout between requests, and at most MaxConnections are
// open at once (more wait to be accepted).
type ServerLimits struct {
	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConnections    int
}

// NewHTTPServer is the gate's http.Server for handler.
func NewHTTPServer(handler http.Handler, l ServerLimits) *http.Server {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.ReadTimeout > 0 && l.ReadHeaderTimeout > l.ReadTimeout {
		l.ReadHeaderTimeout = l.ReadTimeout
	}
	return &http.Server{Handler: handler, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// Listen listens on addr, accepting at most maxConnections connections at
// once (0: no cap).
func Listen(addr string, maxConnections int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if maxConnections > 0 {
		ln = netutil.LimitListener(ln, maxConnections)
	}
	return ln, nil
}
