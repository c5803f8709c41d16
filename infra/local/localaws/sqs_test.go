package localaws_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// TestFailureQueueSpeaksSQSToTheSDK drives the local queue with the real SQS client
// (JSON protocol, MD5 checks on): GetQueueUrl, SendMessage, ReceiveMessage hides the message
// for its visibility timeout, ChangeMessageVisibility 0 shows it again with a new receipt,
// DeleteMessage removes it, and an unknown queue is QueueDoesNotExist.
func TestFailureQueueSpeaksSQSToTheSDK(t *testing.T) {
	srv := localaws.New(localaws.Options{Queues: []string{"failures"}})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := localaws.Config(hs.URL)
	cfg.RetryMaxAttempts = 1
	q := sqs.NewFromConfig(cfg)
	ctx := context.Background()

	u, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("failures")})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(u.QueueUrl)
	if url != localaws.QueueURL(hs.URL, "failures") {
		t.Errorf("GetQueueUrl = %s; want %s", url, localaws.QueueURL(hs.URL, "failures"))
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SendQueueMessage("failures", `{"b":2}`); err != nil {
		t.Fatal(err)
	}
	got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 2 || aws.ToString(got.Messages[0].Body) != `{"a":1}` || aws.ToString(got.Messages[1].Body) != `{"b":2}` {
		t.Fatalf("ReceiveMessage = %+v; want both messages in order", got.Messages)
	}
	again, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(again.Messages) != 0 {
		t.Fatalf("ReceiveMessage while hidden = %d messages, %v; want none", len(again.Messages), err)
	}
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
		ReceiptHandle: got.Messages[1].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	back, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil || len(back.Messages) != 1 || aws.ToString(back.Messages[0].Body) != `{"b":2}` {
		t.Fatalf("ReceiveMessage after delete and release = %+v, %v; want the second message only", back.Messages, err)
	}
	if aws.ToString(back.Messages[0].ReceiptHandle) == aws.ToString(got.Messages[1].ReceiptHandle) {
		t.Error("a message received again kept its old receipt handle")
	}
	_, err = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: got.Messages[1].ReceiptHandle})
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Errorf("DeleteMessage with a stale receipt handle = %v; want ReceiptHandleIsInvalid", err)
	}
	_, err = q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(hs.URL + "/123456789012/nope")})
	var missing *sqstypes.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("ReceiveMessage on an unknown queue = %v; want QueueDoesNotExist", err)
	}
}

// TestCreateTableEnablesTTLOnExpiresAt: DescribeTimeToLive reads as the template declares.
func TestCreateTableEnablesTTLOnExpiresAt(t *testing.T) {
	srv := localaws.New(localaws.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	db := dynamodb.NewFromConfig(localaws.Config(hs.URL))
	ctx := context.Background()
	if err := localaws.CreateTable(ctx, db, "t"); err != nil {
		t.Fatal(err)
	}
	out, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != "ENABLED" || aws.ToString(d.AttributeName) != "expiresAt" {
		t.Errorf("DescribeTimeToLive = %+v; want ENABLED on expiresAt", d)
	}
}
