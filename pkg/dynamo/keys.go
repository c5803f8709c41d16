package dynamo

// The key attributes of the table and of its index gsi1, exported so that the template
// checks (infra/checks/samtemplate) compare template.yaml with what this package writes and queries.
const (
	// PartitionKey is the table's HASH key attribute.
	PartitionKey = attrPK
	// SortKey is the table's RANGE key attribute.
	SortKey = attrSK
	// GSI1PartitionKey is the HASH key attribute of the index GSI1Name.
	GSI1PartitionKey = attrGSI1PK
	// GSI1SortKey is the RANGE key attribute of the index GSI1Name.
	GSI1SortKey = attrGSI1SK
)
