// Package infra holds what runs outside Lambda; it has no code of its own. What runs where:
//
//   - local: the local runner (go run ./infra/local, make run), on a developer machine. Its
//     subpackages front (the API Gateway HTTP API stand-in) and localaws (DynamoDB, Secrets
//     Manager and EventBridge stand-ins on one AWS address) run inside it and in tests.
//   - template: the reader of template.yaml, used by the runner and by the checks.
//   - ops/rlctl: the operator CLI, on an operator's machine, against AWS or the runner.
//   - testsupport: helpers for tests under infra/, and testsupport/awstest, local AWS
//     endpoints for any test; they run only under go test.
//   - checks: test-only packages run by make lint and make test (samtemplate: the template
//     against the Makefile, the code and the functions table; lambdacontract: every function
//     binary under the Lambda Runtime Interface Emulator).
//   - samlocal: no Go; the env file of sam local start-api and sample events for sam local
//     invoke, read by the sam CLI (and by the checks).
package infra
