// Package samtemplate holds the tests that check template.yaml, the AWS SAM template
// of the service, against the Makefile and the functions/ tree: runtime and build
// settings of every function, routes, least-privilege policies and the table's
// durability settings, and the table of functions in pkg/app (lambdas.Functions) against the
// template, the Makefile and functions/*/main.go. They run only under go test (make lint
// runs them with -short, make test in full).
package samtemplate
