package template_test

import (
	"reflect"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
)

func TestRoutes(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		want    []template.Route
		wantErr bool
	}{
		{
			name: "template with short tags",
			path: "testdata/template.yaml",
			want: []template.Route{
				{Method: "GET", Path: "/admin/ingress_webhooks", Function: "AdminFunction"},
				{Method: "POST", Path: "/admin/ingress_webhooks", Function: "AdminFunction"},
				{Method: "POST", Path: "/public/ingress_webhooks/{id}", Function: "IngressFunction"},
			},
		},
		{name: "no HttpApi events", path: "testdata/no_routes.yaml", wantErr: true},
		{name: "path from !Sub", path: "testdata/sub_path.yaml", wantErr: true},
		{name: "missing file", path: "testdata/absent.yaml", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []template.Route
			tpl, err := template.Load(tt.path)
			if err == nil {
				got, err = tpl.Routes()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Routes(%q) error = %v; want error %v", tt.path, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Routes(%q) = %v; want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestFunctionsMergeGlobalsAndMarkWhatOnlyAWSResolves(t *testing.T) {
	tpl, err := template.Load("testdata/template.yaml")
	if err != nil {
		t.Fatalf("Load = %v; want nil", err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatalf("Functions = %v; want nil", err)
	}
	byID := map[string]template.Function{}
	for _, f := range fns {
		byID[f.LogicalID] = f
	}
	ingress := byID["IngressFunction"]
	tests := []struct {
		name      string
		got, want any
	}{
		{"functions only, sorted", len(fns) == 2 && fns[0].LogicalID == "AdminFunction", true},
		{"own handler", ingress.Handler, "bootstrap"},
		{"global variable merged", ingress.Env["LOG_LEVEL"], "INFO"},
		{"own variable wins over global", ingress.Env["SHARED"], "own"},
		{"Ref to a resource", ingress.Env["TABLE_NAME"], "!Ref Table"},
		{"GetAtt short form", ingress.Env["TABLE_ARN"], "!GetAtt Table.Arn"},
		{"GetAtt list form", ingress.Env["STREAM"], "!GetAtt Table.StreamArn"},
		{"Ref to a parameter is its default", ingress.Env["STAGE"], "dev"},
		{"Ref to a pseudo parameter", ingress.Env["REGION"], "!Ref AWS::Region"},
		{"events by type", ingress.Events, map[string]string{"Ingress": "HttpApi", "Schedule": "Schedule"}},
		{"global timeout", ingress.Timeout, "10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestIsUnresolved(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"!Ref Table", true},
		{"!GetAtt Table.Arn", true},
		{"!Sub arn:${AWS::Partition}", true},
		{"!Join [a b]", true},
		{"rocketlead-local", false},
		{"", false},
		{"!Reference", false},
	}
	for _, tt := range tests {
		if got := template.IsUnresolved(tt.v); got != tt.want {
			t.Errorf("IsUnresolved(%q) = %t; want %t", tt.v, got, tt.want)
		}
	}
}

func TestProjectTemplateServesTheIngressRoute(t *testing.T) {
	const path = "../../template.yaml"
	tpl, err := template.Load(path)
	if err != nil {
		t.Fatalf("Load(%q) = %v; want nil", path, err)
	}
	routes, err := tpl.Routes()
	if err != nil {
		t.Fatalf("Routes(%q) = %v; want nil", path, err)
	}
	want := template.Route{Method: "POST", Path: "/public/ingress_webhooks/{id}", Function: "IngressFunction"}
	for _, r := range routes {
		if r == want {
			return
		}
	}
	t.Errorf("Routes(%q) = %v; want it to contain %v", path, routes, want)
}
