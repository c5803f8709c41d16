package localaws

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The SQS JSON protocol (what aws-sdk-go-v2 and botocore 1.31+ speak): X-Amz-Target
// AmazonSQS.<Operation>, JSON 1.0 bodies, errors by __type plus the query error code header
// older clients read.
const (
	sqsPrefix      = "AmazonSQS."
	sqsContentType = "application/x-amz-json-1.0"

	// sqsMaxWait is SQS's longest long poll (WaitTimeSeconds).
	sqsMaxWait = 20 * time.Second
	// sqsDefaultVisibility is a queue's default visibility timeout.
	sqsDefaultVisibility = 30 * time.Second
)

// queue is one standard queue: messages in arrival order, each hidden until its
// visibility timeout ends once received.
type queue struct {
	name     string
	mu       sync.Mutex
	messages []*queueMessage
}

type queueMessage struct {
	id, body, receipt string
	visibleAt         time.Time
	receives          int
	sent              time.Time
}

func newQueues(names []string) map[string]*queue {
	qs := make(map[string]*queue, len(names))
	for _, n := range names {
		qs[n] = &queue{name: n}
	}
	return qs
}

// QueueURL is the URL of a local queue served at endpoint (e.g. http://127.0.0.1:4566).
func QueueURL(endpoint, name string) string {
	return strings.TrimSuffix(endpoint, "/") + "/" + localAccount + "/" + name
}

// SendQueueMessage appends a message to a local queue, as SendMessage does; the runner's
// stream relay uses it as the entry-events function's on-failure destination.
func (s *Server) SendQueueMessage(queueName, body string) (id string, err error) {
	q := s.queues[queueName]
	if q == nil {
		return "", fmt.Errorf("no local queue %q", queueName)
	}
	return q.send(body), nil
}

func (q *queue) send(body string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := &queueMessage{id: uuid.NewString(), body: body, sent: time.Now()}
	q.messages = append(q.messages, m)
	return m.id
}

// receive returns up to max visible messages and hides them for visibility.
func (q *queue) receive(max int, visibility time.Duration) []*queueMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var out []*queueMessage
	for _, m := range q.messages {
		if len(out) == max {
			break
		}
		if m.visibleAt.After(now) {
			continue
		}
		m.receipt = uuid.NewString()
		m.receives++
		m.visibleAt = now.Add(visibility)
		c := *m
		out = append(out, &c)
	}
	return out
}

// byReceipt finds the message whose latest receipt handle is h.
func (q *queue) byReceipt(h string) int {
	return slices.IndexFunc(q.messages, func(m *queueMessage) bool { return m.receipt != "" && m.receipt == h })
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sqsError writes an SQS JSON-protocol error: the __type its clients decode, and the query
// error code header (x-amzn-query-error) that botocore reads for the classic error codes.
func sqsError(w http.ResponseWriter, shape, queryCode, message string) {
	w.Header().Set("x-amzn-query-error", queryCode+";Sender")
	writeAWSError(w, sqsContentType, http.StatusBadRequest, "com.amazonaws.sqs#"+shape, message)
}

// sqsRequest is the union of the request members of the operations served.
type sqsRequest struct {
	QueueURL            string   `json:"QueueUrl"`
	QueueName           string   `json:"QueueName"`
	QueueNamePrefix     string   `json:"QueueNamePrefix"`
	MessageBody         *string  `json:"MessageBody"`
	ReceiptHandle       string   `json:"ReceiptHandle"`
	MaxNumberOfMessages int      `json:"MaxNumberOfMessages"`
	VisibilityTimeout   *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds     int      `json:"WaitTimeSeconds"`
	AttributeNames      []string `json:"AttributeNames"`
}

// serveSQS answers the SQS operations `rlctl events redrive` and a user's first AWS CLI
// calls need: GetQueueUrl, ListQueues, GetQueueAttributes, SendMessage, ReceiveMessage,
// DeleteMessage, ChangeMessageVisibility.
func (s *Server) serveSQS(w http.ResponseWriter, r *http.Request, op string) {
	var in sqsRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil && err != io.EOF {
		sqsError(w, "InvalidParameterValue", "InvalidParameterValue", "request body is not JSON")
		return
	}
	endpoint := "http://" + r.Host
	if op == "ListQueues" {
		urls := []string{}
		for name := range s.queues {
			if strings.HasPrefix(name, in.QueueNamePrefix) {
				urls = append(urls, QueueURL(endpoint, name))
			}
		}
		slices.Sort(urls)
		writeJSON(w, sqsContentType, http.StatusOK, map[string]any{"QueueUrls": urls})
		return
	}
	name := in.QueueName
	if op != "GetQueueUrl" {
		name = in.QueueURL[strings.LastIndex(in.QueueURL, "/")+1:]
	}
	q := s.queues[name]
	if q == nil {
		sqsError(w, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
		return
	}
	s.logger.Debug("localaws: sqs", "op", op, "queue", name)
	switch op {
	case "GetQueueUrl":
		writeJSON(w, sqsContentType, http.StatusOK, map[string]string{"QueueUrl": QueueURL(endpoint, name)})
	case "GetQueueAttributes":
		q.mu.Lock()
		visible, hidden := 0, 0
		now := time.Now()
		for _, m := range q.messages {
			if m.visibleAt.After(now) {
				hidden++
			} else {
				visible++
			}
		}
		q.mu.Unlock()
		writeJSON(w, sqsContentType, http.StatusOK, map[string]any{"Attributes": map[string]string{
			"ApproximateNumberOfMessages":           strconv.Itoa(visible),
			"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(hidden),
			"QueueArn":                              fmt.Sprintf("arn:aws:sqs:%s:%s:%s", localRegion, localAccount, name),
		}})
	case "SendMessage":
		if in.MessageBody == nil || *in.MessageBody == "" {
			sqsError(w, "InvalidParameterValue", "InvalidParameterValue", "The request must contain the parameter MessageBody.")
			return
		}
		id := q.send(*in.MessageBody)
		writeJSON(w, sqsContentType, http.StatusOK, map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(*in.MessageBody)})
	case "ReceiveMessage":
		s.receiveMessage(r.Context(), w, q, in)
	case "DeleteMessage":
		q.mu.Lock()
		i := q.byReceipt(in.ReceiptHandle)
		if i >= 0 {
			q.messages = slices.Delete(q.messages, i, i+1)
		}
		q.mu.Unlock()
		if i < 0 {
			sqsError(w, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
			return
		}
		writeJSON(w, sqsContentType, http.StatusOK, struct{}{})
	case "ChangeMessageVisibility":
		if in.VisibilityTimeout == nil {
			sqsError(w, "InvalidParameterValue", "InvalidParameterValue", "The request must contain the parameter VisibilityTimeout.")
			return
		}
		q.mu.Lock()
		i := q.byReceipt(in.ReceiptHandle)
		if i >= 0 {
			q.messages[i].visibleAt = time.Now().Add(time.Duration(*in.VisibilityTimeout) * time.Second)
		}
		q.mu.Unlock()
		if i < 0 {
			sqsError(w, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
			return
		}
		writeJSON(w, sqsContentType, http.StatusOK, struct{}{})
	default:
		s.logger.Warn("localaws: unsupported sqs operation", "op", op)
		writeAWSError(w, sqsContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %s is not supported locally", op))
	}
}

type sqsMessageWire struct {
	MessageID     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes"`
}

// receiveMessage long-polls up to WaitTimeSeconds for visible messages.
func (s *Server) receiveMessage(ctx context.Context, w http.ResponseWriter, q *queue, in sqsRequest) {
	max := in.MaxNumberOfMessages
	if max == 0 {
		max = 1
	}
	if max < 1 || max > 10 {
		sqsError(w, "InvalidParameterValue", "InvalidParameterValue",
			fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max))
		return
	}
	visibility := sqsDefaultVisibility
	if in.VisibilityTimeout != nil {
		visibility = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	deadline := time.Now().Add(min(time.Duration(in.WaitTimeSeconds)*time.Second, sqsMaxWait))
	var got []*queueMessage
	for {
		got = q.receive(max, visibility)
		if len(got) > 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	msgs := make([]sqsMessageWire, 0, len(got))
	for _, m := range got {
		msgs = append(msgs, sqsMessageWire{MessageID: m.id, ReceiptHandle: m.receipt, MD5OfBody: md5Hex(m.body), Body: m.body,
			Attributes: map[string]string{
				"ApproximateReceiveCount": strconv.Itoa(m.receives),
				"SentTimestamp":           strconv.FormatInt(m.sent.UnixMilli(), 10),
			}})
	}
	writeJSON(w, sqsContentType, http.StatusOK, map[string]any{"Messages": msgs})
}
