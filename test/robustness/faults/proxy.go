package faults

import (
	"io"
	"math/rand"
	"net"
	"sync"
	"time"
)

// Rule is what happens to traffic from one source IP.
type Rule struct {
	// Blackhole cuts every connection from the source and holds new ones open without
	// forwarding a byte, as a partition does: the sender sees silence, not a refusal.
	Blackhole bool
	// Delay holds every chunk, in both directions, this long before forwarding it.
	Delay time.Duration
	// Loss is the probability, per forwarded chunk, that the connection is cut (lost packets
	// that TCP gives up on); new connections are refused with the same probability.
	Loss float64
}

// Proxy forwards connections from its listener to one target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	rules  map[string]Rule
	links  map[*link]struct{}
	rnd    *rand.Rand
	closed bool
	wg     sync.WaitGroup
}

type link struct {
	src        string
	client     net.Conn
	server     net.Conn // nil while blackholed
	once       sync.Once
	blackholed bool
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		if l.server != nil {
			l.server.Close()
		}
	})
}

// Listen starts a proxy on addr (e.g. "127.0.0.21:0") forwarding to target. seed makes its
// loss decisions reproducible.
func Listen(addr, target string, seed int64) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, rules: map[string]Rule{}, links: map[*link]struct{}{},
		rnd: rand.New(rand.NewSource(seed))}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set installs the rule for traffic from srcIP. Blackholing cuts that source's open
// connections at once; lifting a blackhole closes the connections it held, so both ends
// reconnect to a clean stream.
func (p *Proxy) Set(srcIP string, r Rule) {
	p.mu.Lock()
	old := p.rules[srcIP]
	if r == (Rule{}) {
		delete(p.rules, srcIP)
	} else {
		p.rules[srcIP] = r
	}
	var cut []*link
	for l := range p.links {
		if l.src != srcIP {
			continue
		}
		if (r.Blackhole && !l.blackholed) || (old.Blackhole && !r.Blackhole && l.blackholed) {
			cut = append(cut, l)
		}
	}
	p.mu.Unlock()
	for _, l := range cut {
		l.close()
	}
}

// Clear lifts every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	var srcs []string
	for s := range p.rules {
		srcs = append(srcs, s)
	}
	p.mu.Unlock()
	for _, s := range srcs {
		p.Set(s, Rule{})
	}
}

// Close stops accepting and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) rule(src string) Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rules[src]
}

func (p *Proxy) lose(r Rule) bool {
	if r.Loss <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.Float64() < r.Loss
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		src, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		p.wg.Add(1)
		go p.serve(&link{src: src, client: c})
	}
}

// register adds l unless the proxy is closed; it decides under the lock whether l starts
// blackholed, so that a Set racing with the accept cannot leave it forwarding.
func (p *Proxy) register(l *link) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Rule{}, false
	}
	r := p.rules[l.src]
	l.blackholed = r.Blackhole
	p.links[l] = struct{}{}
	return r, true
}

func (p *Proxy) unregister(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.close()
}

func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	r, ok := p.register(l)
	if !ok {
		l.client.Close()
		return
	}
	defer p.unregister(l)
	if l.blackholed {
		_, _ = io.Copy(io.Discard, l.client) // until the sender or Set closes it
		return
	}
	if p.lose(r) {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	l.server = server
	p.mu.Unlock()
	if p.rule(l.src).Blackhole {
		return // a partition began while dialling
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(l, server, l.client); done <- struct{}{} }()
	go func() { p.pump(l, l.client, server); done <- struct{}{} }()
	<-done
	l.close()
	<-done
}

type chunk struct {
	b   []byte
	due time.Time
}

// pump copies src to dst, applying the source's rule to every chunk as it arrives; delayed
// chunks keep their order because one writer sends them in arrival order.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	queue := make(chan chunk, 1024)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for c := range queue {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				l.close()
				for range queue {
				}
				return
			}
		}
	}()
	defer func() { close(queue); <-writerDone }()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r := p.rule(l.src)
			if r.Blackhole || p.lose(r) {
				l.close()
				return
			}
			b := append([]byte(nil), buf[:n]...)
			queue <- chunk{b: b, due: time.Now().Add(r.Delay)}
		}
		if err != nil {
			return
		}
	}
}
