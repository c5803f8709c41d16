package localaws_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// The read-only calls a user tries first against the runner's AWS address, made with the
// real SDK clients (the AWS CLI sends the same JSON requests).

func TestDescribeTableReportsAReadyTableAsDeclared(t *testing.T) {
	e := newEnv(t, nil)
	out, err := e.ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable(%q) = %v; want nil", table, err)
	}
	d := out.Table
	var attrs []string
	for _, a := range d.AttributeDefinitions {
		attrs = append(attrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	slices.Sort(attrs)
	var gsiStatus types.IndexStatus
	if len(d.GlobalSecondaryIndexes) == 1 {
		gsiStatus = d.GlobalSecondaryIndexes[0].IndexStatus
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"TableStatus", d.TableStatus, types.TableStatusActive},
		{"TableArn", aws.ToString(d.TableArn), "arn:aws:dynamodb:us-east-1:123456789012:table/" + table},
		{"AttributeDefinitions", attrs, []string{"gsi1pk:S", "gsi1sk:S", "pk:S", "sk:S"}},
		{"GSI count", len(d.GlobalSecondaryIndexes), 1},
		{"GSI status", gsiStatus, types.IndexStatusActive},
		{"StreamSpecification", d.StreamSpecification, &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}},
		{"LatestStreamArn has stream", strings.Contains(aws.ToString(d.LatestStreamArn), ":table/"+table+"/stream/"), true},
		{"BillingMode", d.BillingModeSummary != nil && d.BillingModeSummary.BillingMode == types.BillingModePayPerRequest, true},
		{"CreationDateTime set", d.CreationDateTime != nil && time.Since(*d.CreationDateTime) < time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("DescribeTable(%q).%s = %#v; want %#v", table, tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestTableExistsWaiter(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name    string
		table   string
		wantErr bool
	}{
		{name: "created table is ready at once", table: table},
		{name: "unknown table times out", table: "no-such-table", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := dynamodb.NewTableExistsWaiter(e.ddb, func(o *dynamodb.TableExistsWaiterOptions) {
				o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
			})
			err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tt.table)}, 300*time.Millisecond)
			if (err != nil) != tt.wantErr {
				t.Errorf("TableExistsWaiter.Wait(%q) = %v; want error %v", tt.table, err, tt.wantErr)
			}
		})
	}
}

func TestListTables(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, name := range []string{"b-extra", "a-extra"} {
		if err := localaws.CreateTable(ctx, e.ddb, name); err != nil {
			t.Fatalf("CreateTable(%q) = %v; want nil", name, err)
		}
	}
	if _, err := e.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("b-extra")}); err != nil {
		t.Fatalf("DeleteTable(b-extra) = %v; want nil", err)
	}
	tests := []struct {
		name     string
		in       dynamodb.ListTablesInput
		want     []string
		wantLast string
	}{
		{name: "all, in name order, deleted gone", want: []string{"a-extra", table}},
		{name: "first page", in: dynamodb.ListTablesInput{Limit: aws.Int32(1)}, want: []string{"a-extra"}, wantLast: "a-extra"},
		{name: "next page", in: dynamodb.ListTablesInput{Limit: aws.Int32(1), ExclusiveStartTableName: aws.String("a-extra")}, want: []string{table}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.ddb.ListTables(ctx, &tt.in)
			if err != nil {
				t.Fatalf("ListTables = %v; want nil", err)
			}
			if !reflect.DeepEqual(out.TableNames, tt.want) || aws.ToString(out.LastEvaluatedTableName) != tt.wantLast {
				t.Errorf("ListTables = %v last %q; want %v last %q", out.TableNames, aws.ToString(out.LastEvaluatedTableName), tt.want, tt.wantLast)
			}
		})
	}
}

func TestListAndDescribeSecrets(t *testing.T) {
	const name, value = "rocketlead/test/token-key", "s3cret-value"
	e := newEnv(t, map[string]string{name: value, "another": "x"})
	ctx := context.Background()
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name

	list, err := e.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatalf("ListSecrets = %v; want nil", err)
	}
	var names []string
	for _, s := range list.SecretList {
		names = append(names, aws.ToString(s.Name))
	}
	if want := []string{"another", name}; !reflect.DeepEqual(names, want) {
		t.Errorf("ListSecrets names = %v; want %v", names, want)
	}

	tests := []struct {
		name     string
		id       string
		wantCode string
	}{
		{name: "by name", id: name},
		{name: "by ARN", id: arn},
		{name: "unknown", id: "nope", wantCode: "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(tt.id)})
			if tt.wantCode != "" {
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
					t.Errorf("DescribeSecret(%q) = %v; want %s", tt.id, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("DescribeSecret(%q) = %v; want nil", tt.id, err)
			}
			if aws.ToString(out.Name) != name || aws.ToString(out.ARN) != arn || len(out.VersionIdsToStages) != 1 || out.CreatedDate == nil {
				t.Errorf("DescribeSecret(%q) = name %q ARN %q versions %v created %v; want %q %q, one version, a date",
					tt.id, aws.ToString(out.Name), aws.ToString(out.ARN), out.VersionIdsToStages, out.CreatedDate, name, arn)
			}
		})
	}
}
