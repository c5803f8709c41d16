// Package lambdacontract holds the Lambda contract tests and the cold-start benchmark; it
// has no code of its own.
//
// The tests build every function of template.yaml with the Makefile rule `sam build` runs
// (for the host architecture), start each bootstrap under the AWS Lambda Runtime Interface
// Emulator — what `sam local` runs inside its containers — with exactly the environment the
// template declares (values from infra/samlocal/env.json), point it at in-process local AWS
// endpoints through AWS_ENDPOINT_URL, and invoke it with the events of
// testdata/<LogicalId>/*.json, asserting the responses, the DynamoDB side effects and that
// every AWS call the binary made is granted by the function's IAM policy.
//
// BenchmarkColdstart (make coldstart) measures, per function and beside a hello-world Lambda
// built the same way (testdata/hello), the stripped arm64 bootstrap size, the time from
// process start under the emulator to the first response, and the emulator's INIT REPORT
// duration. TestColdstartSmoke runs that instrument once on hello-world and the ingress
// function, so make test keeps it working.
package lambdacontract
