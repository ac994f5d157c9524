package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsAndScope(t *testing.T) {
	var buf bytes.Buffer
	l := Factory{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}.NewLogger("ice")
	l.Debugf("hidden %d", 1)
	l.Tracef("hidden %d", 2)
	l.Warnf("shown %d", 3)
	l.Error("also shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown 3") || !strings.Contains(out, "also shown") || !strings.Contains(out, "pion=ice") {
		t.Fatalf("log output:\n%s", out)
	}
}
