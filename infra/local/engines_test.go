package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunAppliesEngineAndFaultFlags(t *testing.T) {
	tests := []struct {
		name    string
		o       options
		wantErr string
	}{
		{name: "unknown fault kind", o: options{faults: "PutItem:explode:0.1"}, wantErr: "-faults"},
		{name: "probability out of range", o: options{faults: "PutItem:lost:2"}, wantErr: "-faults"},
		{name: "endpoint without scheme", o: options{dynamoEndpoint: "127.0.0.1:8000"}, wantErr: "-dynamodb-endpoint"},
		// The injector sits between the runner's own clients and the engine: a 500 on every
		// call makes even the table creation fail, after the SDK's retries.
		{name: "every DynamoDB call fails", o: options{faults: "*:error:1"}, wantErr: "InternalServerError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.addr, tt.o.awsAddr, tt.o.template = "127.0.0.1:0", "127.0.0.1:0", "../../template.yaml"
			err := run(context.Background(), tt.o, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%+v) = %v; want an error naming %s", tt.o, err, tt.wantErr)
			}
		})
	}
}
