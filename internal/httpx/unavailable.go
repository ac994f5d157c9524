package httpx

import (
	"errors"
	"net/http"
)

// Unavailable reports whether err, or an error it wraps, says that a shared
// store (Redis, SQL) could not be reached or did not answer in time: an
// error with a method Unavailable() bool that returns true. Adapters return
// such errors (adapters/redis: ErrUnavailable), so no package has to import
// an adapter to recognise them; each package's error mapping checks this
// first and answers StoreUnavailable.
func Unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// StoreUnavailable is the status, code and message of an Unavailable error:
// 503 store_unavailable. The client may retry the request.
func StoreUnavailable() (status int, code, message string) {
	return http.StatusServiceUnavailable, "store_unavailable", "the shared store is unreachable; try again shortly"
}
