package app

import (
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// Function is one Lambda function of template.yaml: which main package builds it and which
// builder makes its handler.
type Function struct {
	// LogicalID is the function's logical id in template.yaml.
	LogicalID string
	// Folder is the folder under functions/ holding its main package.
	Folder string
	// HTTP builds the handler of a function behind HttpApi routes; nil for the others.
	HTTP Builder[apigw.Handler]
	// Stream builds the handler of a function fed by the table's stream; nil for the others.
	Stream Builder[dynamo.StreamHandler]
}

// Functions lists every function of template.yaml, the one place that says which logical id
// is built from which folder and runs which handler. The Makefile reads the LogicalID and
// Folder of each line below (keep one function per line, in this shape); the local runner
// registers the handlers by logical id; infra/checks/samtemplate fails when the template,
// the Makefile, functions/*/main.go and this table disagree.
//
// It is a function, not a variable, so that a Lambda binary, which never calls it, does not
// link every other function's builder.
func Functions() []Function {
	return []Function{
		{LogicalID: "IngressFunction", Folder: "ingress", HTTP: Ingest},
		{LogicalID: "EntryEventsFunction", Folder: "entry-events", Stream: EntryEvents},
		{LogicalID: "CreateWebhookFunction", Folder: "admin-create", HTTP: CreateWebhook},
		{LogicalID: "RotateWebhookFunction", Folder: "admin-rotate", HTTP: RotateWebhook},
		{LogicalID: "ListWebhooksFunction", Folder: "admin-list", HTTP: ListWebhooks},
		{LogicalID: "DeleteWebhookFunction", Folder: "admin-delete", HTTP: DeleteWebhook},
		{LogicalID: "ShowSchemaFunction", Folder: "admin-schema-get", HTTP: ShowSchema},
		{LogicalID: "PatchSchemaFunction", Folder: "admin-schema-patch", HTTP: PatchSchema},
		{LogicalID: "UpdateWebhookFunction", Folder: "admin-update", HTTP: UpdateWebhook},
		{LogicalID: "ListRejectedFunction", Folder: "admin-rejected-list", HTTP: ListRejected},
		{LogicalID: "ShowRejectedFunction", Folder: "admin-rejected-get", HTTP: ShowRejected},
		{LogicalID: "ReplayRejectedFunction", Folder: "admin-rejected-replay", HTTP: ReplayRejected},
		{LogicalID: "DiscardRejectedFunction", Folder: "admin-rejected-delete", HTTP: DiscardRejected},
	}
}
