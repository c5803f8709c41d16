// Package samtemplate holds the tests that check template.yaml, the AWS SAM template
// of the service, against the Makefile and the functions/ tree: runtime and build
// settings of every function, routes, least-privilege policies and the table's
// durability settings.
package samtemplate
