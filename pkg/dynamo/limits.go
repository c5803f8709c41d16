package dynamo

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's documented limits on one action's expressions (Service quotas, "Expression
// parameters"): a request past one of them is a ValidationException, which would reach the
// caller as a 500. The writes that carry a request's keys are checked against them before
// they are sent (checkExpressions), and the check's failure is the caller's 400.
const (
	// maxExpressionBytes bounds each expression string (update, condition).
	maxExpressionBytes = 4 << 10
	// maxPlaceholderBytes bounds each expression attribute name or value token (#name, :val).
	maxPlaceholderBytes = 255
	// maxSubstitutionBytes bounds the sum of the lengths of all expression attribute names
	// and values of an action.
	maxSubstitutionBytes = 2 << 20
	// maxExpressionOperators bounds the operators and functions of an update expression;
	// checkExpressions holds every expression to it.
	maxExpressionOperators = 300
)

// poolReserveBytes is the part of the pool item kept for its attributes other than the
// schema (ids, name, lead states): the schema map may fill the rest of the item. A schema
// at the request limits (1,000 keys of 256 bytes, each "string[]") is about 265 KB, so every
// schema within the limits fits beside a reserve of this size in a 400 KB item.
const poolReserveBytes = 100 << 10

// checkExpressions reports whether one action's expressions, names and values are within
// DynamoDB's limits (sizes in bytes, as DynamoDB counts them: UTF-8).
func checkExpressions(exprs []string, names map[string]string, values map[string]types.AttributeValue) error {
	sub := 0
	for _, e := range exprs {
		if len(e) > maxExpressionBytes {
			return fmt.Errorf("an expression of %d bytes, above DynamoDB's %d", len(e), maxExpressionBytes)
		}
		if n := operators(e); n > maxExpressionOperators {
			return fmt.Errorf("an expression of %d operators, above DynamoDB's %d", n, maxExpressionOperators)
		}
	}
	for k, v := range names {
		if len(k) > maxPlaceholderBytes {
			return fmt.Errorf("a name placeholder of %d bytes, above DynamoDB's %d", len(k), maxPlaceholderBytes)
		}
		sub += len(k) + len(v)
	}
	for k, v := range values {
		if len(k) > maxPlaceholderBytes {
			return fmt.Errorf("a value placeholder of %d bytes, above DynamoDB's %d", len(k), maxPlaceholderBytes)
		}
		sub += len(k) + valueSize(v)
	}
	if sub > maxSubstitutionBytes {
		return fmt.Errorf("names and values of %d bytes, above DynamoDB's %d", sub, maxSubstitutionBytes)
	}
	return nil
}

// operators counts an expression's operators and functions on the large side: every
// comparison, arithmetic sign, function call, AND, OR and NOT (the expressions built here
// name every attribute through a placeholder, so these tokens never come from a key).
func operators(e string) int {
	n := strings.Count(e, "(") + strings.Count(e, "=") + strings.Count(e, "<") + strings.Count(e, ">") +
		strings.Count(e, "+") + strings.Count(e, "-")
	for _, w := range []string{" AND ", " OR ", "NOT "} {
		n += strings.Count(e, w)
	}
	return n
}

// aliasesAPlaceholder reports whether a key, read as a document path (split at its dots),
// names one of the placeholders of names. DynamoDB takes a placeholder's value as a name,
// whatever it holds; the embedded engine (minidyn) resolves the parts of a placeholder's
// value as placeholders again, so a key "#k0" stored under "#k0" recursed until the process
// died, and "a.#s" would resolve to another attribute. The per-key form of a schema lock is
// used only when no key aliases a placeholder of its request.
func aliasesAPlaceholder(key string, names map[string]string) bool {
	if !strings.Contains(key, "#") {
		return false
	}
	for part := range strings.SplitSeq(key, ".") {
		if _, ok := names[part]; ok {
			return true
		}
	}
	return false
}
