// Package samlocal holds no Go code: env.json is the environment file of
// `sam local start-api --env-vars infra/samlocal/env.json` (it points the functions, run in
// sam's containers, at the local runner's AWS address), and events/ holds sample events for
// `sam local invoke -e`. The sam CLI reads them on a developer machine; the checks under
// infra/checks read them too, so they stay in step with template.yaml.
package samlocal
