package rooms_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// storeDown is an adapter's error for a store it cannot reach (as
// adapters/redis.UnavailableError): it says so with Unavailable.
type storeDown struct{}

func (storeDown) Error() string     { return "store: connection refused" }
func (storeDown) Unavailable() bool { return true }

// A shared store that cannot be reached is 503 store_unavailable, however
// deeply the package wrapped the error; other errors are not.
func TestStoreUnavailableIs503(t *testing.T) {
	for _, err := range []error{storeDown{}, fmt.Errorf("rooms: %w", storeDown{})} {
		status, code, _ := rooms.HTTPStatus(err)
		if status != http.StatusServiceUnavailable || code != "store_unavailable" {
			t.Errorf("%v: %d %s, want 503 store_unavailable", err, status, code)
		}
	}
	err := errors.New("something else")
	status, code, _ := rooms.HTTPStatus(err)
	if status == http.StatusServiceUnavailable || code == "store_unavailable" {
		t.Errorf("a plain error mapped to %d %s", status, code)
	}
}
