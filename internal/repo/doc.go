// Package repo has no API: its tests check the repository itself. They fail
// when a tracked file is over 1 MiB or is an executable, when the binary of
// an example program is not ignored by .gitignore, and when a package imports
// another that docs/architecture.md's direction of imports forbids.
//
// The tests run git and go (both must be on PATH) from the module root.
package repo
