package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// A gate is an HTTP proxy in front of a server that forwards the first few
// requests and holds the later ones until the script opens it. Scripts use
// it to stop an upload at a known point (after the first N batches) rather
// than racing a kill against a client that may already be done.
type gate struct {
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	pass   int // requests still forwarded at once
	held   int // requests held so far
	opened bool
	open   chan struct{}
	wg     sync.WaitGroup // held requests not yet answered
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	switch {
	case g.opened:
	case g.pass > 0:
		g.pass--
	default:
		g.held++
		g.wg.Add(1)
		defer g.wg.Done()
		g.mu.Unlock()
		select {
		case <-g.open:
		case <-r.Context().Done(): // the client went away while held
			return
		}
		g.proxy.ServeHTTP(w, r)
		return
	}
	g.mu.Unlock()
	g.proxy.ServeHTTP(w, r)
}

// gates are a script's gates by name, its Value under gatesKey. Script
// commands run one at a time on the script's goroutine, so the map needs
// no lock.
type gates map[string]*gate

const gatesKey = "gates"

func scriptGate(ts *testscript.TestScript, name string) *gate {
	g := ts.Value(gatesKey).(gates)[name]
	if g == nil {
		ts.Fatalf("no gate %s", name)
	}
	return g
}

// gateCmds are the testscript commands that drive gates.
var gateCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// gate NAME UPSTREAM N: start a gate in front of UPSTREAM (host:port)
	// that forwards the first N requests and holds the rest; its address
	// goes to the file NAME. When a held request is released and UPSTREAM
	// does not answer, the gate closes the client's connection without a
	// word, as a server that died would.
	"gate": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 || neg {
			ts.Fatalf("usage: gate NAME UPSTREAM N")
		}
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		up, err := url.Parse("http://" + args[1])
		ts.Check(err)
		proxy := httputil.NewSingleHostReverseProxy(up)
		proxy.Transport = &http.Transport{DisableKeepAlives: true}
		proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			if c, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
				c.Close()
				return
			}
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
		g := &gate{proxy: proxy, pass: n, open: make(chan struct{})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		srv := &http.Server{Handler: g}
		go srv.Serve(ln)
		ts.Defer(func() {
			srv.Close()
			g.release()
		})
		gs := ts.Value(gatesKey).(gates)
		if gs[args[0]] != nil {
			ts.Fatalf("gate %s already exists", args[0])
		}
		gs[args[0]] = g
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(ln.Addr().String()+"\n"), 0o644))
	},
	// waitheld NAME: wait until gate NAME holds a request, which means the
	// client has had answers to the first N.
	"waitheld": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 || neg {
			ts.Fatalf("usage: waitheld NAME")
		}
		g := scriptGate(ts, args[0])
		poll(ts, fmt.Sprintf("a request held at gate %s", args[0]), func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.held > 0
		})
	},
	// gateopen NAME: forward the held requests and all later ones; returns
	// once every held request has been answered (or its connection closed).
	"gateopen": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 || neg {
			ts.Fatalf("usage: gateopen NAME")
		}
		scriptGate(ts, args[0]).release()
	},
}

// release opens g and waits for the requests it held.
func (g *gate) release() {
	g.mu.Lock()
	if !g.opened {
		g.opened = true
		close(g.open)
	}
	g.mu.Unlock()
	g.wg.Wait()
}
