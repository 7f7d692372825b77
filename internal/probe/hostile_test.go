package probe

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/control"
)

// rawServer accepts connections on loopback and hands each to serve.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer func() { _ = c.Close() }(); serve(c) }()
		}
	}()
	return l.Addr().String()
}

func TestHostilePeers(t *testing.T) {
	drip := func(c net.Conn) {
		// Read the request first: an answer sent before it races with the
		// client's write ("unsolicited response on idle channel").
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"))
		for range 100 {
			time.Sleep(200 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
	slowHeaders := func(c net.Conn) {
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		for range 100 {
			time.Sleep(200 * time.Millisecond)
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
		}
	}
	garbage := func(c net.Conn) {
		buf := make([]byte, 512)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("\x16\x03\x01\x00\x05garbage garbage garbage\r\n\r\n"))
	}
	reset := func(c net.Conn) {
		buf := make([]byte, 512)
		_, _ = c.Read(buf)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST on close
		}
	}
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
		want  string
	}{
		{"slowloris body", drip, "no complete answer within 1s"},
		{"slowloris headers", slowHeaders, "no complete answer within 1s"},
		{"garbage", garbage, ""},
		{"reset", reset, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := rawServer(t, tc.serve)
			start := time.Now()
			out := run(t, Options{Timeout: time.Second, ConnectTimeout: 500 * time.Millisecond}, a)
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %s", d)
			}
			if len(out.Results) != 0 || len(out.Errors) != 1 {
				t.Fatalf("want one error: %s", dump(out))
			}
			if !strings.Contains(out.Errors[0].Message, tc.want) || out.Errors[0].File == "" {
				t.Errorf("error %+v, want %q", out.Errors[0], tc.want)
			}
		})
	}

	// A known port: the failure is an error result of the service.
	t.Run("slowloris on a known port", func(t *testing.T) {
		a := rawServer(t, drip)
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		out := run(t, Options{Ports: []int{n}, Services: []string{"docker"}, Timeout: time.Second}, "127.0.0.1")
		want(t, out, "probe-docker-api-exposed", control.StatusError)
	})
}

func TestHostileHTTP(t *testing.T) {
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(`{"kind":"APIVersions"}`, 1000))
		for range 1 << 12 { // ~90 MB unless the reader stops
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("redirect followed to another host")
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.RedirectHandler(other.URL+"/api", http.StatusFound))
	defer redirect.Close()
	expired := httptest.NewUnstartedServer(dockerStandIn())
	expired.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	expired.StartTLS() // httptest's certificate is self-signed for example.com: unverifiable, as an expired one

	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, out *Outcome)
	}{
		{"huge body", huge.URL, func(t *testing.T, out *Outcome) {
			if len(out.Results) != 0 {
				t.Errorf("truncated body parsed: %s", dump(out))
			}
		}},
		{"redirect to another host", redirect.URL, func(t *testing.T, out *Outcome) {
			if len(out.Results) != 0 || len(out.Errors) != 1 || !strings.Contains(out.Errors[0].Message, "not followed") {
				t.Errorf("want one redirect error: %s", dump(out))
			}
		}},
		{"unverifiable certificate", expired.URL, func(t *testing.T, out *Outcome) {
			want(t, out, "probe-docker-api-exposed", control.StatusFail)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			out := run(t, Options{}, tc.url)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			tc.check(t, out)
		})
	}
}
