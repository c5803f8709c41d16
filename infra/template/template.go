// Package template reads template.yaml, the AWS SAM template of the service, for everything
// outside AWS that needs it: the local runner (infra/local) serves its HttpApi routes, and the
// checks (infra/checks/samtemplate, infra/checks/lambdacontract) test it. It runs on a
// developer machine or in CI, never in Lambda.
//
// CloudFormation intrinsic functions are processed once, here, the same way for every reader:
// a Ref to a parameter resolves to the parameter's default; what only AWS can resolve (a Ref
// to a resource or a pseudo parameter, Fn::GetAtt, Fn::Sub, Fn::Join) becomes a marker string
// ("!Ref Table", "!GetAtt Table.Arn", "!Sub ...", "!Join ...") that IsUnresolved recognises, so
// a check can tell which resource a value points at and nothing resolves silently to null.
package template

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// Markers that stand for intrinsic functions only AWS can resolve.
const (
	RefMarker    = "!Ref "
	GetAttMarker = "!GetAtt "
	SubMarker    = "!Sub "
	JoinMarker   = "!Join "
)

// IsUnresolved reports whether v is a marker for a value only AWS can resolve.
func IsUnresolved(v string) bool {
	for _, m := range []string{RefMarker, GetAttMarker, SubMarker, JoinMarker} {
		if strings.HasPrefix(v, m) {
			return true
		}
	}
	return false
}

// Template is a SAM template with its intrinsic functions processed.
type Template struct {
	// Path is the file it was read from.
	Path string
	// Data is the file's content as read, for readers that parse it their own way.
	Data []byte
	// Doc is the processed document as generic JSON values.
	Doc map[string]any
}

// Load reads and processes the SAM template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	processed, err := intrinsics.ProcessYAML(data, ProcessorOptions())
	if err != nil {
		return nil, fmt.Errorf("process intrinsics of template %s: %w", path, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(processed, &doc); err != nil {
		return nil, fmt.Errorf("decode processed template %s: %w", path, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("template %s: empty document", path)
	}
	return &Template{Path: path, Data: data, Doc: doc}, nil
}

// ProcessorOptions are the intrinsic-function handlers Load uses, for a reader that parses
// Data itself (goformation's typed parser) and must see the same values.
func ProcessorOptions() *intrinsics.ProcessorOptions {
	return &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": func(name string, input, template any) any {
				if id, ok := input.(string); ok && (ResourceType(template, id) != "" || strings.HasPrefix(id, "AWS::")) {
					return RefMarker + id
				}
				return intrinsics.Ref(name, input, template)
			},
			"Fn::GetAtt": func(_ string, input, _ any) any {
				switch v := input.(type) {
				case string:
					return GetAttMarker + v
				case []any:
					parts := make([]string, 0, len(v))
					for _, p := range v {
						parts = append(parts, fmt.Sprint(p))
					}
					return GetAttMarker + strings.Join(parts, ".")
				}
				return GetAttMarker + fmt.Sprint(input)
			},
			"Fn::Sub": func(_ string, input, _ any) any {
				switch v := input.(type) {
				case string:
					return SubMarker + v
				case []any:
					if len(v) > 0 {
						if s, ok := v[0].(string); ok {
							return SubMarker + s
						}
					}
				}
				return SubMarker + fmt.Sprint(input)
			},
			"Fn::Join": func(_ string, input, _ any) any { return JoinMarker + fmt.Sprint(input) },
		},
	}
}

// ResourceType returns the Type of the resource named id in a generic template document, or "".
func ResourceType(doc any, id string) string {
	m, _ := doc.(map[string]any)
	resources, _ := m["Resources"].(map[string]any)
	res, _ := resources[id].(map[string]any)
	typ, _ := res["Type"].(string)
	return typ
}

// Route is one HttpApi route of the template.
type Route struct {
	// Method is the upper-case HTTP method, or ANY.
	Method string
	// Path is the route's path template, like /public/ingress_webhooks/{id}.
	Path string
	// Function is the logical id of the function the route invokes.
	Function string
}

// Function is an AWS::Serverless::Function with the template's Globals merged in, as SAM's
// transform merges them: the function's own value wins, Environment.Variables merge by key.
type Function struct {
	// LogicalID is the resource's logical id.
	LogicalID string
	// Runtime, Handler, Timeout and MemorySize are the effective values, printed as text.
	Runtime, Handler, Timeout, MemorySize string
	// Env holds the declared environment variables; a value may be unresolved, and a variable
	// declared without a value is "".
	Env map[string]string
	// Events maps each event name to its Type (HttpApi, DynamoDB, ...).
	Events map[string]string
	// Routes are its HttpApi routes, sorted by path and method.
	Routes []Route
	// Properties are the resource's own Properties, processed, without Globals.
	Properties map[string]any
}

// Functions returns every AWS::Serverless::Function, sorted by logical id. An HttpApi event
// whose Path or Method is missing or given by an intrinsic function is an error: nothing
// outside AWS can serve it.
func (t *Template) Functions() ([]Function, error) {
	globals, _ := t.Doc["Globals"].(map[string]any)
	g, _ := globals["Function"].(map[string]any)
	resources, _ := t.Doc["Resources"].(map[string]any)
	if resources == nil {
		return nil, fmt.Errorf("template %s: no Resources mapping", t.Path)
	}
	var fns []Function
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		p, _ := res["Properties"].(map[string]any)
		prop := func(name string) string {
			for _, src := range []map[string]any{p, g} {
				if v, ok := src[name]; ok && v != nil {
					return fmt.Sprint(v)
				}
			}
			return ""
		}
		f := Function{
			LogicalID: id, Runtime: prop("Runtime"), Handler: prop("Handler"), Timeout: prop("Timeout"),
			MemorySize: prop("MemorySize"), Env: map[string]string{}, Events: map[string]string{}, Properties: p,
		}
		for _, src := range []map[string]any{g, p} {
			env, _ := src["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			for k, v := range vars {
				f.Env[k] = ""
				if v != nil {
					f.Env[k] = fmt.Sprint(v)
				}
			}
		}
		events, _ := p["Events"].(map[string]any)
		for name, e := range events {
			ev, _ := e.(map[string]any)
			typ, _ := ev["Type"].(string)
			f.Events[name] = typ
			if typ != "HttpApi" {
				continue
			}
			route, err := httpAPIRoute(ev["Properties"], id)
			if err != nil {
				return nil, fmt.Errorf("template %s: function %s event %s: %w", t.Path, id, name, err)
			}
			f.Routes = append(f.Routes, route)
		}
		slices.SortFunc(f.Routes, compareRoutes)
		fns = append(fns, f)
	}
	slices.SortFunc(fns, func(a, b Function) int { return cmp.Compare(a.LogicalID, b.LogicalID) })
	return fns, nil
}

// Routes returns the HttpApi routes of every function, sorted by path, method and function;
// a template without any is an error.
func (t *Template) Routes() ([]Route, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var routes []Route
	for _, f := range fns {
		routes = append(routes, f.Routes...)
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("template %s: no HttpApi events on any AWS::Serverless::Function", t.Path)
	}
	slices.SortFunc(routes, compareRoutes)
	return routes, nil
}

func compareRoutes(a, b Route) int {
	return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Function, b.Function))
}

func httpAPIRoute(properties any, function string) (Route, error) {
	props, _ := properties.(map[string]any)
	path, okPath := props["Path"].(string)
	method, okMethod := props["Method"].(string)
	if props["Path"] == nil || props["Method"] == nil {
		return Route{}, fmt.Errorf("HttpApi event without Path and Method (the $default route is not supported locally)")
	}
	if !okPath || IsUnresolved(path) || !strings.HasPrefix(path, "/") {
		return Route{}, fmt.Errorf("path must be a literal starting with /")
	}
	if !okMethod || IsUnresolved(method) || method == "" {
		return Route{}, fmt.Errorf("method must be a literal")
	}
	return Route{Method: strings.ToUpper(method), Path: path, Function: function}, nil
}
