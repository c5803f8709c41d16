package lead

import "testing"

func TestCanonicalNumber(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0", "0", true},
		{"-0", "0", true},
		{"0.000", "0", true},
		{"25", "25", true},
		{"-25", "-25", true},
		{"1.50", "1.5", true},
		{"1e2", "100", true},
		{"1E+2", "100", true},
		{"1.5e-3", "0.0015", true},
		{"123.456e1", "1234.56", true},
		{"100", "100", true},
		{"0.1", "0.1", true},
		{"12345678901234567890.123456789", "12345678901234567890.123456789", true},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", true},
		{"123456789012345678901234567890123456789", "", false}, // 39 significant digits
		{"1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000", true},
		{"1e125", "1" + zeros(125), true},
		{"1e126", "", false},
		{"1e-130", "0." + zeros(129) + "1", true},
		{"1e-131", "", false},
		{"0e999999", "0", true},
		{"1e9999999", "", false},
		{"1e0000001", "10", true},
		{"1e-0000000000002", "0.01", true},
		{"2E+000", "2", true},
		{"1e0000000126", "", false},
		{"01", "", false},
		{"1.", "", false},
		{".5", "", false},
		{"+1", "", false},
		{"1e", "", false},
		{" 1", "", false},
		{"0x10", "", false},
		{"NaN", "", false},
		{"", "", false},
		{"-", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := CanonicalNumber(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CanonicalNumber(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func FuzzCanonicalNumber(f *testing.F) {
	for _, s := range []string{"0", "1.50", "1e2", "-0.001e-3", "99999999999999999999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := CanonicalNumber(s)
		if !ok {
			return
		}
		// The canonical form is itself canonical.
		c2, ok2 := CanonicalNumber(c)
		if !ok2 || c2 != c {
			t.Fatalf("CanonicalNumber(%q) = %q, then CanonicalNumber(%q) = %q, %v", s, c, c, c2, ok2)
		}
	})
}
