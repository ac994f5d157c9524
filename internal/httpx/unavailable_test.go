package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

type downError struct{ down bool }

func (e *downError) Error() string     { return "store down" }
func (e *downError) Unavailable() bool { return e.down }

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&downError{true}, true},
		{fmt.Errorf("rooms: %w", &downError{true}), true},
		{errors.Join(errors.New("x"), &downError{true}), true},
		{&downError{false}, false},
		{errors.New("plain"), false},
		{nil, false},
	} {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if status, code, _ := StoreUnavailable(); status != http.StatusServiceUnavailable || code != "store_unavailable" {
		t.Fatalf("StoreUnavailable() = %d %s", status, code)
	}
}
