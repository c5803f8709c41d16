package front

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Route is one HTTP API route declared in template.yaml.
type Route struct {
	// Method is the upper-case HTTP method, or ANY.
	Method string
	// Path is the route's path template, like /public/ingress_webhooks/{id}.
	Path string
	// Function is the SAM logical id of the function the route invokes.
	Function string
}

// LoadRoutes reads the SAM template at templatePath and returns every HttpApi event of every
// AWS::Serverless::Function, sorted by path, method and function. CloudFormation short tags
// (!Ref, !GetAtt, !Sub, …) are kept as tagged nodes, so they do not break parsing; a Path or
// Method given by an intrinsic function cannot be resolved locally and is an error.
func LoadRoutes(templatePath string) ([]Route, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", templatePath, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("template %s: empty document", templatePath)
	}
	resources := mapValue(doc.Content[0], "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template %s: no Resources mapping", templatePath)
	}

	var routes []Route
	for i := 0; i+1 < len(resources.Content); i += 2 {
		logicalID, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(mapValue(res, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		evs := mapValue(mapValue(res, "Properties"), "Events")
		if evs == nil || evs.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(evs.Content); j += 2 {
			evName, ev := evs.Content[j].Value, evs.Content[j+1]
			if scalar(mapValue(ev, "Type")) != "HttpApi" {
				continue
			}
			r, err := httpAPIRoute(mapValue(ev, "Properties"), logicalID)
			if err != nil {
				return nil, fmt.Errorf("template %s: function %s event %s: %w", templatePath, logicalID, evName, err)
			}
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("template %s: no HttpApi events on any AWS::Serverless::Function", templatePath)
	}
	slices.SortFunc(routes, func(a, b Route) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Function, b.Function))
	})
	return routes, nil
}

func httpAPIRoute(props *yaml.Node, function string) (Route, error) {
	path, method := mapValue(props, "Path"), mapValue(props, "Method")
	if path == nil || method == nil {
		return Route{}, fmt.Errorf("HttpApi event without Path and Method (the $default route is not supported locally)")
	}
	if !plainScalar(path) || !strings.HasPrefix(path.Value, "/") {
		return Route{}, fmt.Errorf("path must be a literal starting with /")
	}
	if !plainScalar(method) || method.Value == "" {
		return Route{}, fmt.Errorf("method must be a literal")
	}
	return Route{Method: strings.ToUpper(method.Value), Path: path.Value, Function: function}, nil
}

// mapValue returns the value of key in mapping node n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of a scalar node, or "" for anything else.
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// plainScalar reports whether n is a scalar without a CloudFormation tag such as !Sub.
func plainScalar(n *yaml.Node) bool {
	// yaml.v3 resolves untagged scalars to standard tags (!!str, !!int); a local tag means an
	// intrinsic function we cannot evaluate.
	return n.Kind == yaml.ScalarNode && (n.Tag == "" || strings.HasPrefix(n.Tag, "!!"))
}
