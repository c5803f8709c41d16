// Package app builds the functions' handlers from configuration: the one place where
// environment, AWS clients and services are wired, shared by every function's main and by
// the local runner, so both run the same code. Secrets (the token hashing key) are read
// once per cold start, here, never per request; AWS endpoints come from the SDK's standard
// configuration, so one binary talks to AWS or to any local stand-in.
package app
