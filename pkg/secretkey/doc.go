// Package secretkey reads the server-side token hashing key from AWS Secrets Manager. The
// functions call it once per cold start; an empty or missing secret is an error, so a
// function never starts with a key that would accept every token.
package secretkey
