package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// seed is what the runner creates at start, in the shape of the -seed-file JSON.
type seed struct {
	OrganizationID string `json:"organizationId"`
	PoolID         string `json:"tableId"`
	WebhookID      string `json:"webhookId"`
	Token          string `json:"token"`
	URL            string `json:"url"`
	LeadStateID    string `json:"leadStateId"`
	CustomFieldID  string `json:"customFieldId"`
}

// seedData creates an organization's pool with a default lead state, a lead source select
// field and one webhook, through the same store the functions use.
func seedData(ctx context.Context, db *dynamodb.Client, table string, key []byte, baseURL string) (*seed, error) {
	s := &seed{
		OrganizationID: uuid.NewString(),
		PoolID:         uuid.NewString(),
		WebhookID:      uuid.NewString(),
		LeadStateID:    uuid.NewString(),
		CustomFieldID:  uuid.NewString(),
	}
	store := dynamo.New(db, table)
	if err := store.CreatePool(ctx,
		&lead.Pool{ID: s.PoolID, OrganizationID: s.OrganizationID, Name: "Inbound leads"},
		&lead.State{ID: s.LeadStateID, Name: "New"}); err != nil {
		return nil, err
	}
	if err := store.PutCustomField(ctx, &lead.CustomField{
		ID: s.CustomFieldID, OrganizationID: s.OrganizationID, Name: "Lead source", Type: lead.CustomSelect,
		Options: []string{"instagram_ad", "facebook_ad", "google_ad", "website", "referral"},
	}); err != nil {
		return nil, err
	}
	hasher, err := lead.NewHasher(key)
	if err != nil {
		return nil, err
	}
	if s.Token, err = lead.NewToken(); err != nil {
		return nil, err
	}
	if err := store.CreateWebhook(ctx, &lead.Webhook{
		ID: s.WebhookID, OrganizationID: s.OrganizationID, PoolID: s.PoolID, Name: "Local webhook",
		TokenHash: hasher.Hash(s.Token), CreatedAt: time.Now(),
	}); err != nil {
		return nil, err
	}
	s.URL = baseURL + "/public/ingress_webhooks/" + s.WebhookID
	return s, nil
}

// writeFile writes the seed atomically, so a script polling for the file never reads half.
func (s *seed) writeFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write seed file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write seed file: %w", err)
	}
	return nil
}

func (s *seed) print(w io.Writer, awsAddr string) {
	fmt.Fprintf(w, `RocketLead ingress webhooks — local runner

  webhook URL  %s
  token        %s
  organization %s
  pool         %s (default lead state %s)
  lead source  custom field %s (select: instagram_ad, facebook_ad, google_ad, website, referral)
  AWS APIs     http://%s  (DynamoDB table %s, Secrets Manager, EventBridge, the failure queue $QUEUE)

Send a lead:

curl -i -X POST '%s' \
  -H 'Content-Type: application/json' \
  -H 'x-rocketlead-ingress-token: %s' \
  -d '{"data":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace","phone":"+44 20 7946 0958","age":36,"newsletter":true,"interests":["analytics","engines"]},"customFieldData":{"%s":"instagram_ad"}}'

Set the variables the README's examples use, in the terminal you send from:

%s

Look at the table (--endpoint-url because older AWS CLI v1 releases ignore AWS_ENDPOINT_URL;
AWS_DEFAULT_REGION because v1 ignores AWS_REGION):

AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url http://%s dynamodb scan --table-name %s

Each table.entry.added event is printed below as one JSON line (-events-file PATH also appends it there).
Ctrl-C stops.
`, s.URL, s.Token, s.OrganizationID, s.PoolID, s.LeadStateID, s.CustomFieldID, awsAddr, localTable,
		s.URL, s.Token, s.CustomFieldID, s.exports(awsAddr), awsAddr, localTable)
}

// exports is the one shell line that sets the variables the README's examples use: the
// webhook's URL, token and id, the pool, organization and custom field ids, the API base and
// the AWS address rlctl takes as --endpoint. The README's doc test runs it too.
func (s *seed) exports(awsAddr string) string {
	api := strings.TrimSuffix(s.URL, "/public/ingress_webhooks/"+s.WebhookID)
	return fmt.Sprintf("export URL=%s TOKEN=%s ID=%s POOL=%s ORG=%s FIELD=%s API=%s ENDPOINT=http://%s QUEUE=%s",
		s.URL, s.Token, s.WebhookID, s.PoolID, s.OrganizationID, s.CustomFieldID, api, awsAddr,
		localaws.QueueURL("http://"+awsAddr, localFailureQueue))
}
