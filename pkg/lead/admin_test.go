package lead

import (
	"strings"
	"testing"
)

func TestNameField(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Zapier", "Zapier", true},
		{"  padded  ", "padded", true},
		{strings.Repeat("é", 200), strings.Repeat("é", 200), true},
		{strings.Repeat("é", 201), "", false},
		{"", "", false},
		{" \t ", "", false},
		{"tab\tinside", "", false},
		{"bad \xff utf8", "", false},
	}
	for _, tt := range tests {
		got, details := nameField("name", tt.in)
		if (len(details) == 0) != tt.ok || got != tt.want {
			t.Errorf("nameField(%q) = %q, %v; want %q, ok %v", tt.in, got, details, tt.want, tt.ok)
		}
	}
}
