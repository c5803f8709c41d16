// Package metrics writes CloudWatch Embedded Metric Format (EMF) documents: one JSON line per
// document on the function's standard output, which CloudWatch Logs turns into metrics with no
// extra AWS call. Each line is also the log line of its request or batch: its fields sit
// beside the metric values and the "_aws" metadata, so a request costs one line. It also carries the per-request count of AWS calls, retries and throttles
// in the context, for the log line and the metrics of each request.
//
// Dimensions stay low-cardinality (function, outcome); ids such as a webhook or a pool are
// properties of the document, searchable in Logs Insights, never dimensions.
package metrics
