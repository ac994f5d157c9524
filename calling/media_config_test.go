package calling

import (
	"errors"
	"testing"
)

// MediaConfig's SendBatch and SocketBuffer at their limits and one past.
func TestMediaConfigLimits(t *testing.T) {
	for _, tc := range []struct {
		cfg     MediaConfig
		ok      bool
		batched bool
	}{
		{MediaConfig{ICEIPs: []string{"127.0.0.1"}}, true, true},
		{MediaConfig{ICEIPs: []string{"127.0.0.1"}, SendBatch: 1, SocketBuffer: 1}, true, true},
		{MediaConfig{ICEIPs: []string{"127.0.0.1"}, SendBatch: -1, SocketBuffer: -1}, true, false},
		{MediaConfig{ICEIPs: []string{"127.0.0.1"}, SendBatch: -2}, false, false},
		{MediaConfig{ICEIPs: []string{"127.0.0.1"}, SocketBuffer: -2}, false, false},
	} {
		m, err := newMedia(tc.cfg)
		if !tc.ok {
			if !errors.Is(err, ErrMediaConfig) {
				t.Errorf("%+v: err %v, want ErrMediaConfig", tc.cfg, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		if (m.batch != nil) != tc.batched {
			t.Errorf("%+v: batched %v, want %v", tc.cfg, m.batch != nil, tc.batched)
		}
		_ = m.closer.Close()
	}
}
