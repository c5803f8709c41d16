// Package checks groups the test-only packages that check the deployment artefacts; it has
// no code of its own, and nothing under it runs outside go test (make lint, make test).
// samtemplate checks template.yaml against the Makefile, the code and the table of functions
// in pkg/app; lambdacontract runs every function binary under the AWS Lambda Runtime
// Interface Emulator, as sam local does.
package checks
