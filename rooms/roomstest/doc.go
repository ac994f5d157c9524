// Package roomstest holds the conformance suites of rooms' seams: StoreSuite
// for a rooms.Store and BusSuite for a rooms.Bus. An implementation's tests
// call them with a constructor; the in-memory defaults and adapters/redis
// run the same suites, so a shared implementation behaves as the default
// one does. The suites use only the seams' public API and the
// rooms.Manager, so an implementation outside this module can run them too.
package roomstest
