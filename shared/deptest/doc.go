// Package deptest holds the repository's structural tests: shared/ stays a
// pure leaf, the desktop and the cloud never import each other, and every
// package says what it is for in a doc comment. It has no code of its own;
// the rules live in its tests so that a violation fails `make test`.
package deptest
