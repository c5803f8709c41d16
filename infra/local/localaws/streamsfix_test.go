package localaws

import "testing"

func TestFixEmptyMaps(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "top-level empty map",
			in:   `{"Records":[{"dynamodb":{"NewImage":{"e":{},"n":{"N":"1.50"}}}}]}`,
			want: `{"Records":[{"dynamodb":{"NewImage":{"e":{"M":{}},"n":{"N":"1.50"}}}}]}`},
		{name: "nested in a map and a list",
			in:   `{"Records":[{"dynamodb":{"NewImage":{"m":{"M":{"x":{}}},"l":{"L":[{},{"S":"a"}]}}}}],"NextShardIterator":"it"}`,
			want: `{"NextShardIterator":"it","Records":[{"dynamodb":{"NewImage":{"l":{"L":[{"M":{}},{"S":"a"}]},"m":{"M":{"x":{"M":{}}}}}}}]}`},
		{name: "nothing to fix is left byte for byte",
			in:   `{"Records": [{"dynamodb":{"ApproximateCreationDateTime":1.7e9,"NewImage":{"s":{"S":"x"}}}}]}`,
			want: `{"Records": [{"dynamodb":{"ApproximateCreationDateTime":1.7e9,"NewImage":{"s":{"S":"x"}}}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fixEmptyMaps([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("fixEmptyMaps(%s) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
	if _, err := fixEmptyMaps([]byte(`not json`)); err == nil {
		t.Errorf("fixEmptyMaps(not json) = nil error; want an error")
	}
}
