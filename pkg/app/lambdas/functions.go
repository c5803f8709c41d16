// Package lambdas is the one table of the project's Lambda functions: logical id, folder
// under functions/ and handler builder. It links every function's builder, so no function's
// main imports it: each main imports only the builder it runs, and links only the AWS
// clients that builder calls.
package lambdas

import (
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
)

// Function is one Lambda function of template.yaml: which main package builds it and which
// builder makes its handler.
type Function struct {
	// LogicalID is the function's logical id in template.yaml.
	LogicalID string
	// Folder is the folder under functions/ holding its main package.
	Folder string
	// HTTP builds the handler of a function behind HttpApi routes; nil for the others.
	HTTP app.Builder[apigw.Handler]
	// Stream builds the handler of a function fed by the table's stream; nil for the others.
	Stream app.Builder[entryevents.Handler]
}

// Functions lists every function of template.yaml, the one place that says which logical id
// is built from which folder and runs which handler. The Makefile reads the LogicalID and
// Folder of each line below (keep one function per line, in this shape); the local runner
// registers the handlers by logical id; infra/checks/samtemplate fails when the template,
// the Makefile, functions/*/main.go and this table disagree.
func Functions() []Function {
	return []Function{
		{LogicalID: "IngressFunction", Folder: "ingress", HTTP: app.Ingest},
		{LogicalID: "EntryEventsFunction", Folder: "entry-events", Stream: entryevents.EntryEvents},
		{LogicalID: "CreateWebhookFunction", Folder: "admin-create", HTTP: app.CreateWebhook},
		{LogicalID: "RotateWebhookFunction", Folder: "admin-rotate", HTTP: app.RotateWebhook},
		{LogicalID: "ListWebhooksFunction", Folder: "admin-list", HTTP: app.ListWebhooks},
		{LogicalID: "DeleteWebhookFunction", Folder: "admin-delete", HTTP: app.DeleteWebhook},
		{LogicalID: "ShowSchemaFunction", Folder: "admin-schema-get", HTTP: app.ShowSchema},
		{LogicalID: "PatchSchemaFunction", Folder: "admin-schema-patch", HTTP: app.PatchSchema},
		{LogicalID: "UpdateWebhookFunction", Folder: "admin-update", HTTP: app.UpdateWebhook},
		{LogicalID: "ListRejectedFunction", Folder: "admin-rejected-list", HTTP: app.ListRejected},
		{LogicalID: "ShowRejectedFunction", Folder: "admin-rejected-get", HTTP: app.ShowRejected},
		{LogicalID: "ReplayRejectedFunction", Folder: "admin-rejected-replay", HTTP: app.ReplayRejected},
		{LogicalID: "DiscardRejectedFunction", Folder: "admin-rejected-delete", HTTP: app.DiscardRejected},
		{LogicalID: "SigningSecretFunction", Folder: "admin-signing-secret", HTTP: app.SetSigningSecret},
	}
}
