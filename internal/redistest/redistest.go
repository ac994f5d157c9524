// Package redistest gives tests a Redis: the one the machine runs (its
// address in SWITCHBOARD_REDIS_ADDR) or a redis-server of the test's own on
// a spare loopback port, which the test may stop and start again.
//
// Without SWITCHBOARD_REDIS_ADDR, or without redis-server, a test is
// skipped, unless SWITCHBOARD_REQUIRE_REDIS=1 (as CI sets), which makes it
// fail instead.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Addr returns the address of the machine's Redis, after checking that it
// answers.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("SWITCHBOARD_REDIS_ADDR")
	if addr == "" {
		if required() {
			t.Fatal("SWITCHBOARD_REQUIRE_REDIS=1 but SWITCHBOARD_REDIS_ADDR is not set")
		}
		t.Skip("set SWITCHBOARD_REDIS_ADDR=127.0.0.1:6379 to run the tests against a real Redis")
	}
	if !ping(addr) {
		if required() {
			t.Fatalf("Redis at %s does not answer", addr)
		}
		t.Skipf("Redis at %s does not answer; start it or unset SWITCHBOARD_REDIS_ADDR", addr)
	}
	return addr
}

func required() bool { return os.Getenv("SWITCHBOARD_REQUIRE_REDIS") == "1" }

// ping sends PING and reads +PONG.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "+PONG")
}

// Server is a redis-server of the test's own. Its methods are for the
// test's goroutine.
type Server struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// Start starts a redis-server (nothing saved to disk) on a free loopback
// port; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if required() {
			t.Fatal("SWITCHBOARD_REQUIRE_REDIS=1 but redis-server is not installed")
		}
		t.Skip("redis-server is not installed; this test starts and stops its own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{t: t, port: port, dir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Restart starts the server again on the same port (empty: it keeps
// nothing) and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ping(s.Addr()) {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer within 10 s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig to the running server (SIGSTOP hangs it, SIGCONT
// resumes it).
func (s *Server) Signal(sig os.Signal) error {
	if s.cmd == nil {
		return os.ErrProcessDone
	}
	return s.cmd.Process.Signal(sig)
}
